"""The chart series the database thins (``SeriesReader``) on SQLite and Postgres alike, and the latest
alerts: what ``/jobs/{id}/trends`` sends however long the study."""

from __future__ import annotations

import pytest

from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.series import SeriesReader

IMPROVED_AT = (0, 7, 120, 556, 998)


def _seed(repository: ReadModelRepository, trials: int) -> dict[int, float | None]:
    """Trials numbered 0..n-1 whose completed scores improve exactly at ``IMPROVED_AT``; every 10th
    trial is pruned (no score) and one failed trial carries a score that must not count as the best."""
    repository.upsert_study("s", name="s", state="running")
    scores: dict[int, float | None] = {}
    level = 0.0
    for number in range(trials):
        if number in IMPROVED_AT:
            level += 0.1
        state = "pruned" if number % 10 == 5 else "completed"
        score = round(level - 0.05 * (number % 3 != 0), 3) if state == "completed" else None
        if number in IMPROVED_AT:
            score = round(level, 3)
        repository.upsert_trial(f"t{number}", "s", number=number, state=state, score=score)
        scores[number] = score
    repository.upsert_trial("t-failed", "s", number=trials, state="failed", score=99.0)
    return scores


def test_a_short_series_is_returned_whole_with_its_running_best(repository: ReadModelRepository) -> None:
    scores = _seed(repository, 30)
    series = SeriesReader(repository.engine).trial_series("s", at_most=100)
    assert series.total == 31 and [p.number for p in series.points] == list(range(31))
    best = None
    for point in series.points[:-1]:
        if scores[point.number or 0] is not None:
            best = max(best or 0.0, scores[point.number or 0] or 0.0)
        assert point.best_score == pytest.approx(best)
    assert series.points[-1].state == "failed" and series.points[-1].best_score == pytest.approx(best)


def test_a_long_series_keeps_its_ends_every_improvement_and_few_rows(repository: ReadModelRepository) -> None:
    _seed(repository, 1_000)
    series = SeriesReader(repository.engine).trial_series("s", at_most=50)
    numbers = [p.number or 0 for p in series.points]
    assert series.total == 1_001
    assert numbers == sorted(numbers) and numbers[0] == 0 and numbers[-1] == 1_000
    assert set(IMPROVED_AT) <= set(numbers)
    assert 50 <= len(numbers) <= 2 * 50 + len(IMPROVED_AT)
    assert [p.best_score for p in series.points if p.number in IMPROVED_AT] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_an_unknown_study_has_an_empty_series(repository: ReadModelRepository) -> None:
    series = SeriesReader(repository.engine).trial_series("nobody", at_most=10)
    assert series.points == [] and series.total == 0


def test_the_latest_alerts_come_in_the_order_they_were_raised(repository: ReadModelRepository) -> None:
    repository.upsert_study("s", name="s", state="running")
    for number in range(12):
        repository.upsert_trial(f"t{number}", "s", number=number, state="running")
        repository.record_alert("s", f"t{number}", kind="overfitting", severity="warning", message=f"m{number}")
    latest = repository.alerts_for_study("s", latest=5)
    assert [a.message for a in latest] == [f"m{n}" for n in range(7, 12)]
    assert len(repository.alerts_for_study("s")) == repository.count_alerts("s") == 12
