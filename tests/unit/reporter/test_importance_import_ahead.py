"""fANOVA's imports (scikit-learn, SciPy) start in the background when a study's first trial starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

CHECK = textwrap.dedent(
    """
    import asyncio, sys, threading
    from services.reporter import projections
    from services.reporter.results import importance

    assert "sklearn" not in sys.modules, "scikit-learn was imported before any trial started"

    async def start_two_trials():
        class Writer:
            async def run_once(self, event_id, apply):
                return True
        deps = type("Deps", (), {"writer": Writer()})()
        for number in (0, 1):
            event = projections.TrialStarted(
                source="trainer", study_id="s", trial_id=f"t{number}",
                data={"trainer_id": "tr", "trial_number": number},
            )
            await projections.on_trial_started(event, deps)

    asyncio.run(start_two_trials())
    imports = [t for t in threading.enumerate() if t.name == "import-fanova"]
    assert len(imports) <= 1, imports
    for thread in imports:
        thread.join(120)
    assert "optuna.importance" in sys.modules and "sklearn" in sys.modules
    print("imported ahead")
    """
)


def _run_fresh(script: str) -> str:
    """Run ``script`` in a fresh interpreter (nothing imported yet); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_first_trial_start_imports_fanova_once_in_the_background() -> None:
    assert "imported ahead" in _run_fresh(CHECK)


SERVED = textwrap.dedent(
    """
    import sys, threading
    from services.reporter.results import importance

    importance.import_now()  # the served reporter, at start-up
    assert "optuna.importance" in sys.modules and "sklearn" in sys.modules
    importance.import_ahead()  # the first trial start finds nothing left to import
    assert not any(t.name == "import-fanova" for t in threading.enumerate())
    print("imported at start")
    """
)


def test_a_served_reporter_imports_fanova_at_start_and_the_first_trial_starts_no_thread() -> None:
    assert "imported at start" in _run_fresh(SERVED)
