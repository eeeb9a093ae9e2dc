"""What the terminal shows: the best so far is current, a retry says what it retries, Optuna's notices
stay out, and served services log their routine lines at INFO."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import TrialRequested, TrialRequestedData
from services.cli.main import _configure_logging
from services.cli.progress import StudyProgress
from tests.support.events import trial_completed, trial_started
from tests.support.telemetry import trial_metrics

REPO = Path(__file__).resolve().parents[3]


def _requested(trial_id: str, number: int, retry_of: str | None = None) -> TrialRequested:
    data = TrialRequestedData(
        trial_number=number,
        params={},
        dataset=DatasetName.DIGITS,
        max_epochs=2,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.SIMPLE,
        retry_of=retry_of,
        attempt=2 if retry_of else 1,
    )
    return TrialRequested(source="scheduler", study_id="s", trial_id=trial_id, data=data)


def test_the_best_so_far_includes_the_trial_that_just_finished_and_a_retry_names_its_original() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with StudyProgress(console=console, trials=3, max_epochs=2) as progress:
        for event in (
            _requested("a", 0),
            trial_completed("s", "a", trial_metrics(0.9111)),
            _requested("b", 1),
            _requested("c", 4, retry_of="b"),
            trial_started("s", "c", trial_number=4),
            trial_completed("s", "c", trial_metrics(0.9556), trial_number=4),
        ):
            progress.handle(event)
        assert progress._best_text() == "best val_acc 0.9556"
    text = out.getvalue()
    assert "trial 4 (retry of trial 1) completed" in text


def test_optunas_experimental_notices_stay_out_of_the_terminal() -> None:
    script = (
        "from contracts.enums import SamplerName; from contracts.study import StudyConfig; "
        "from services.scheduler.samplers import build_sampler; "
        "space = StudyConfig(dataset='digits').effective_search_space(); "
        "[build_sampler(n, space, seed=1, parallel=True) for n in (SamplerName.TPE, SamplerName.GP)]"
    )
    run = subprocess.run([sys.executable, "-W", "default", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "ExperimentalWarning" not in run.stderr and "experimental" not in run.stderr


def test_served_services_log_at_info_and_commands_only_problems() -> None:
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        root.handlers.clear()
        _configure_logging(verbose=False, service=True)
        assert root.level == logging.INFO
        root.handlers.clear()
        _configure_logging(verbose=False, service=False)
        assert root.level == logging.WARNING
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
