"""The data notes a trainer sends in ``trial.started`` (files skipped or ignored) land on the study and in
the report's "Data" section."""

from __future__ import annotations

from contracts.enums import Mode
from contracts.events import EventEnvelope, TrialStarted
from services.reporter.results.view import safe_name

NOTES = [
    "image_folder: skipped 2 of 12 image files in /data/imgs that cannot be read, training on the others "
    "(on_bad_files=skip; on_bad_files=fail stops instead):",
    "  cats/bad_1.png: cannot identify image file",
    "  dogs/*draft*.png: image file is truncated",
    "image_folder: ignored 1 non-image file; class folder 'birds' is empty",
]


def _with_notes(event: EventEnvelope, trial_id: str, notes: list[str]) -> EventEnvelope:
    if not isinstance(event, TrialStarted) or event.trial_id != trial_id:
        return event
    return event.model_copy(update={"data": event.data.model_copy(update={"data_notes": notes})})


async def test_data_notes_are_stored_on_the_study_and_shown_in_the_report(reporter, three_trials) -> None:
    script = three_trials(Mode.HEALTH)
    await reporter.publish([_with_notes(e, "t0", NOTES) for e in script.events])

    study = reporter.repository.get_study("study-1")
    assert study is not None and study.data_notes == NOTES

    report = (reporter.settings.results_root / safe_name(study.name) / "report.md").read_text()
    section = report.split("## Data\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        "- " + NOTES[0].replace("_", r"\_"),  # t1 started later without notes: t0's stand
        r"  - cats/bad\_1.png: cannot identify image file",
        r"  - dogs/\*draft\*.png: image file is truncated",
        "- " + NOTES[3].replace("_", r"\_"),
    ]
    assert report.index("## Configuration") < report.index("## Data") < report.index("## Outcome")
    html = (reporter.settings.results_root / safe_name(study.name) / "report.html").read_text()
    assert "<li>cats/bad_1.png: cannot identify image file</li>" in html


async def test_no_notes_no_data_section(reporter, three_trials) -> None:
    script = three_trials(Mode.HEALTH)
    await reporter.publish(script.events)
    study = reporter.repository.get_study("study-1")
    assert study is not None and study.data_notes == []
    report = (reporter.settings.results_root / safe_name(study.name) / "report.md").read_text()
    assert "## Data" not in report
