"""A dataset's notes travel from the loader through the trial runner into ``trial.started`` (``data_notes``),
and a trial reads its data with the study's data options (``on_bad_files``, CSV columns)."""

from __future__ import annotations

from pathlib import Path

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import EventEnvelope, TrialRequested, TrialRequestedData, TrialStarted
from contracts.study import BadFilePolicy
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.dataset_cache import DatasetCache
from services.trainer.handlers import TrainerDeps, on_trial_requested
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.settings import TrainerSettings

PARAMS = {"conv_blocks": 1, "filters": 4, "dense_units": 8, "batch_size": 8}


def _request(data_dir: Path, **fields: object) -> TrialRequestedData:
    return TrialRequestedData.model_validate(
        {
            "trial_number": 0,
            "params": PARAMS,
            "dataset": DatasetName.IMAGE_FOLDER,
            "data_dir": str(data_dir),
            "max_epochs": 1,
            "objective": Objective.VAL_ACCURACY,
            "mode": Mode.SIMPLE,
            **fields,
        }
    )


def _folder(root: Path, make) -> Path:
    for cls in ("a", "b"):
        for i in range(6):
            make.write_image(root / cls / f"{i}.png", (8, 8), (40 * i, 0, 0))
    (root / "a" / "bad.png").write_bytes(b"nope")
    (root / "b" / "bad.jpg").write_bytes(b"")
    return root


class _Recorder:
    def __init__(self) -> None:
        self.notes: list[list[str]] = []
        self.started: list[tuple[str, int]] = []

    def hooks(self) -> TrialHooks:
        return TrialHooks(
            started=lambda a, p: self.started.append((a, p)),
            epoch_completed=lambda t: None,
            control=lambda: None,
            data_loaded=self.notes.append,
        )


def test_the_keras_runner_hands_the_notes_over_before_it_starts(tmp_path: Path, make) -> None:
    from services.trainer.training import KerasTrialRunner  # TensorFlow

    root = _folder(tmp_path / "imgs", make)
    settings = TrainerSettings(trainer_id="t", work_dir=tmp_path / "work", allow_absolute_data_dir=True)
    runner = KerasTrialRunner(settings, LocalArtifactStore(tmp_path / "artifacts"), DatasetCache())
    recorder = _Recorder()

    outcome = runner.run(TrialJob("s", "t", _request(root)), recorder.hooks())
    assert outcome.kind is OutcomeKind.COMPLETED, outcome.reason
    (notes,) = recorder.notes
    assert notes[0].startswith("image_folder: skipped 2 of 14 image files")
    assert notes[1:3] == ["  a/bad.png: cannot identify image file", "  b/bad.jpg: cannot identify image file"]
    assert recorder.started

    failed = runner.run(TrialJob("s", "t2", _request(root, on_bad_files=BadFilePolicy.FAIL)), _Recorder().hooks())
    assert failed.kind is OutcomeKind.FAILED
    assert "2 of 14 image files" in failed.reason and "a/bad.png" in failed.reason and "b/bad.jpg" in failed.reason


class _NotingRunner:
    def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        hooks.data_loaded(["text_csv: d.csv: 9 rows used.", "  a line of a listing"])
        hooks.started("Dense(2)", 10)
        return TrialOutcome(OutcomeKind.FAILED, 0, reason="enough")

    def close(self) -> None:
        """Nothing to release."""


async def test_the_trainer_puts_the_notes_in_trial_started() -> None:
    published: list[EventEnvelope] = []

    async def publish(event: EventEnvelope) -> None:
        published.append(event)

    deps = TrainerDeps(publish=publish, runner=_NotingRunner(), settings=TrainerSettings(trainer_id="tr"))
    request = TrialRequested(source="test", study_id="s", trial_id="t", data=_request(Path("d.csv")))

    await on_trial_requested(request, deps)

    started = [e for e in published if isinstance(e, TrialStarted)]
    assert [e.data.data_notes for e in started] == [["text_csv: d.csv: 9 rows used.", "  a line of a listing"]]
