"""``hpo optimize`` starts its first trial child before it reads its options, from the command line alone, and
never leaves it behind: a refused request, a command that needs none and a study that runs its trials
elsewhere all end with no child process."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import services.cli.study_args as study_args
from services.cli.early_trainer import EMBEDDED_TRAINER_ID, start_first_trial_child
from services.cli.main import EXIT_USAGE, main
from services.trainer.child_entry import CHILD_NAME_PREFIX

CHILD_NAME = CHILD_NAME_PREFIX + EMBEDDED_TRAINER_ID


def children() -> list[multiprocessing.process.BaseProcess]:
    return [child for child in multiprocessing.active_children() if child.name.startswith(CHILD_NAME_PREFIX)]


def trial_children() -> list[str]:
    return [child.name for child in children()]


def environment_of(pid: int | None) -> dict[str, str]:
    """A process's environment as it started (Linux ``/proc``)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if b"=" in item)


@pytest.fixture(autouse=True)
def _embedded_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HPO_API_URL", "HPO_TRAINER_MODE", "HPO_TRAINER_ISOLATE_TRIALS"):
        monkeypatch.delenv(name, raising=False)


def test_the_child_runs_while_the_options_are_read_and_is_stopped_when_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    seen_while_parsing: list[list[str]] = []
    child_log_levels: list[str | None] = []
    parse = study_args.parse_assignments

    def parse_and_look(*args: object, **kwargs: object) -> object:
        seen_while_parsing.append(trial_children())
        child_log_levels.extend(environment_of(child.pid).get("TF_CPP_MIN_LOG_LEVEL") for child in children())
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(study_args, "parse_assignments", parse_and_look)
    code = main(["optimize", "dataset=digits", "trials=0", f"output_dir={tmp_path / 'out'}"])
    assert code == EXIT_USAGE
    assert "trials=0" in capsys.readouterr().err
    assert seen_while_parsing == [[CHILD_NAME]]
    assert child_log_levels == ["2"]  # TensorFlow's C++ info logs are off in the child, as in this process
    assert trial_children() == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "environment"),
    [
        (["optimize", "--help"], {}),
        (["optimize", "--url", "http://api:8000", "dataset=digits"], {}),
        (["optimize", "trainer=runpod", "endpoint=abc"], {}),
        (["optimize", "dataset=digits"], {"HPO_API_URL": "http://api:8000"}),
        (["optimize", "dataset=digits"], {"HPO_TRAINER_MODE": "synthetic"}),
        (["optimize", "dataset=digits"], {"HPO_TRAINER_ISOLATE_TRIALS": "false"}),
        (["jobs", "--url", "http://api:8000"], {}),
        ([], {}),
    ],
)
def test_no_child_is_started_for_a_command_whose_trials_would_not_run_in_one(
    argv: list[str], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    first = start_first_trial_child(argv)
    assert first.take() is None
    assert trial_children() == []


def test_a_child_no_runner_takes_is_stopped_by_discard() -> None:
    first = start_first_trial_child(["-v", "optimize", "dataset=digits"])
    assert trial_children() == [CHILD_NAME]
    first.discard()
    assert trial_children() == []
    first.discard()  # once is enough: a second discard has nothing to stop
