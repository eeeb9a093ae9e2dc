"""One contract for the read-model repository, run against every database backend."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from services.runtime.db.engine import create_engine_for
from services.runtime.db.migrate import current_revision, downgrade, head_revision, upgrade
from services.runtime.db.repository import ReadModelRepository, RepositoryError
from services.runtime.db.schema import TABLE_PREFIX, VERSION_TABLE, metadata

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _study(repo: ReadModelRepository, study_id: str = "s1", name: str = "demo") -> None:
    repo.upsert_study(
        study_id,
        name=name,
        dataset="digits",
        mode="health",
        objective="val_accuracy",
        config={"dataset": "digits", "health_weight": 0.3},
        created_at=T0,
    )


def _trials(repo: ReadModelRepository) -> None:
    """Five trials: scores 0.5, 0.9, None (pruned), 0.7, None (failed)."""
    _study(repo)
    rows = [
        ("t0", 0, "completed", 0.5, 0.60, 0.8, 30.0),
        ("t1", 1, "completed", 0.9, 0.95, 0.7, 10.0),
        ("t2", 2, "pruned", None, 0.40, None, 5.0),
        ("t3", 3, "completed", 0.7, 0.80, 0.9, 20.0),
        ("t4", 4, "failed", None, None, None, None),
    ]
    for trial_id, number, state, score, val_acc, health, seconds in rows:
        repo.upsert_trial(trial_id, "s1", number=number, state=state, params={"lr": 0.01 * (number + 1)})
        fields: dict[str, object] = {"score": score, "val_accuracy": val_acc, "overall_health": health}
        if seconds is not None:
            fields |= {"started_at": T0, "finished_at": T0 + timedelta(seconds=seconds)}
        repo.upsert_trial(trial_id, "s1", **fields)


# ---- migrations ------------------------------------------------------------------------------


def test_upgrade_creates_the_schema_on_an_empty_database(database_url: str) -> None:
    downgrade(database_url, "base")
    assert current_revision(database_url) is None

    upgrade(database_url)

    assert current_revision(database_url) == head_revision() == "0004_trial_layers"
    engine = create_engine_for(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} | {VERSION_TABLE} <= tables
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "version_table": VERSION_TABLE,
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, other: (
                        type_ != "table" or name.startswith(TABLE_PREFIX)
                    ),
                },
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()


# ---- idempotency -----------------------------------------------------------------------------


def test_mark_processed_is_true_once(repository: ReadModelRepository) -> None:
    assert repository.mark_processed("reporter", "e1") is True
    assert repository.mark_processed("reporter", "e1") is False
    assert repository.mark_processed("api", "e1") is True
    assert repository.is_processed("reporter", "e1")
    assert not repository.is_processed("reporter", "e2")


def test_run_once_applies_and_records_atomically(repository: ReadModelRepository) -> None:
    _study(repository)
    calls: list[str] = []

    def apply(repo: ReadModelRepository) -> None:
        calls.append("x")
        repo.upsert_trial("t1", "s1", number=1, state="requested")

    assert repository.run_once("reporter", "e1", apply) is True
    assert repository.run_once("reporter", "e1", apply) is False
    assert calls == ["x"]

    def broken(repo: ReadModelRepository) -> None:
        repo.upsert_trial("t2", "s1", number=2)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        repository.run_once("reporter", "e2", broken)
    assert repository.get_trial("t2") is None
    assert not repository.is_processed("reporter", "e2")


def test_same_epoch_twice_is_one_row(repository: ReadModelRepository) -> None:
    _study(repository)
    repository.upsert_trial("t1", "s1", number=0)
    for _ in range(2):
        repository.record_epoch("t1", "s1", 1, loss=1.0, val_accuracy=0.5, telemetry={"epoch": 1, "layers": []})
    repository.record_epoch("t1", "s1", 2, loss=0.5, val_accuracy=0.7, telemetry={"epoch": 2})

    epochs = repository.epochs_for_trial("t1")
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[0].telemetry == {"epoch": 1, "layers": []}
    assert [e.epoch for e in repository.epochs_for_study("s1")] == [1, 2]


def test_upsert_trial_is_partial_and_never_duplicates(repository: ReadModelRepository) -> None:
    _study(repository)
    repository.upsert_trial("t1", "s1", number=3, attempt=1, state="requested", params={"lr": 0.1})
    repository.upsert_trial("t1", "s1", state="running", trainer_id="w1", started_at=T0)
    repository.upsert_trial("t1", "s1", state="running", trainer_id="w1", started_at=T0)
    repository.upsert_trial(
        "t1", "s1", state="completed", metrics={"val_accuracy": 0.9}, finished_at=T0 + timedelta(seconds=12)
    )

    trial = repository.get_trial("t1")
    assert trial is not None
    assert (trial.number, trial.state, trial.trainer_id) == (3, "completed", "w1")
    assert trial.params == {"lr": 0.1}
    assert trial.metrics == {"val_accuracy": 0.9}
    assert trial.started_at == T0
    assert trial.duration_seconds == pytest.approx(12.0)
    assert repository.count_trials("s1") == 1

    with pytest.raises(ValueError, match="unknown trial fields"):
        repository.upsert_trial("t1", "s1", colour="blue")


def test_alerts_are_unique_per_trial_kind_and_layer(repository: ReadModelRepository) -> None:
    _study(repository)
    repository.upsert_trial("t1", "s1", number=0)
    assert repository.record_alert("s1", "t1", kind="dead_layer", severity="warning", message="a", epoch=1, layer="d1")
    assert not repository.record_alert(
        "s1", "t1", kind="dead_layer", severity="critical", message="b", epoch=2, layer="d1"
    )
    assert repository.record_alert("s1", "t1", kind="overfitting", severity="warning", message="gap", epoch=3)
    assert not repository.record_alert("s1", "t1", kind="overfitting", severity="warning", message="gap", epoch=4)

    alerts = repository.alerts_for_study("s1")
    assert [(a.kind, a.layer, a.severity, a.epoch) for a in alerts] == [
        ("dead_layer", "d1", "critical", 1),
        ("overfitting", None, "warning", 3),
    ]
    assert repository.alerts_for_trial("t1") == alerts


def test_artifacts_upsert_by_key(repository: ReadModelRepository) -> None:
    repository.record_artifact("studies/s1/results.zip", kind="report_bundle", size_bytes=10, study_id="s1")
    repository.record_artifact("studies/s1/results.zip", kind="report_bundle", size_bytes=20, study_id="s1")
    [artifact] = repository.artifacts_for_study("s1")
    assert artifact.size_bytes == 20
    assert repository.get_artifact("studies/s1/results.zip") == artifact
    assert repository.get_artifact("missing") is None


# ---- studies ---------------------------------------------------------------------------------


def test_study_lifecycle(repository: ReadModelRepository) -> None:
    _study(repository)
    _study(repository)  # redelivered study.created
    study = repository.get_study("s1")
    assert study is not None
    assert (study.name, study.state, study.mode, study.created_at) == ("demo", "running", "health", T0)
    assert study.config["health_weight"] == 0.3

    assert repository.set_study_state(
        "s1", "completed", reason="done", completed_at=T0, best_trial_id="t1", counts={"completed": 2}
    )
    assert not repository.set_study_state("nope", "completed")
    study = repository.get_study("s1")
    assert study is not None
    assert (study.state, study.reason, study.best_trial_id, study.counts) == (
        "completed",
        "done",
        "t1",
        {"completed": 2},
    )
    assert study.completed_at == T0
    assert repository.get_study("nope") is None


def test_list_studies_newest_first_with_paging(repository: ReadModelRepository) -> None:
    for i in range(5):
        repository.upsert_study(f"s{i}", name=f"n{i}", created_at=T0 + timedelta(minutes=i))
    assert [s.study_id for s in repository.list_studies()] == ["s4", "s3", "s2", "s1", "s0"]
    assert [s.study_id for s in repository.list_studies(offset=1, limit=2)] == ["s3", "s2"]
    assert repository.count_studies() == 5


# ---- trials: paging, sorting, best -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sort_by", "descending", "expected"),
    [
        ("number", False, [0, 1, 2, 3, 4]),
        ("number", True, [4, 3, 2, 1, 0]),
        ("score", True, [1, 3, 0, 2, 4]),
        ("score", False, [0, 3, 1, 2, 4]),
        ("val_accuracy", True, [1, 3, 0, 2, 4]),
        ("overall_health", True, [3, 0, 1, 2, 4]),
        ("duration", False, [2, 1, 3, 0, 4]),
        ("duration", True, [0, 3, 1, 2, 4]),
    ],
)
def test_list_trials_sorts_with_missing_values_last(
    repository: ReadModelRepository, sort_by: str, descending: bool, expected: list[int]
) -> None:
    _trials(repository)
    trials = repository.list_trials("s1", sort_by=sort_by, descending=descending)
    assert [t.number for t in trials] == expected


def test_list_trials_pages_and_filters(repository: ReadModelRepository) -> None:
    _trials(repository)
    assert [t.number for t in repository.list_trials("s1", offset=1, limit=2)] == [1, 2]
    assert [t.number for t in repository.list_trials("s1", offset=4, limit=10)] == [4]
    assert repository.list_trials("s1", offset=10) == []
    assert [t.number for t in repository.list_trials("s1", state="completed")] == [0, 1, 3]
    assert repository.count_trials("s1") == 5
    assert repository.count_trials("s1", state="completed") == 3
    assert repository.trial_counts("s1") == {"completed": 3, "pruned": 1, "failed": 1}
    assert repository.count_trials("other") == 0
    with pytest.raises(ValueError, match="sort_by"):
        repository.list_trials("s1", sort_by="colour")
    with pytest.raises(ValueError, match="limit"):
        repository.list_trials("s1", limit=0)


def test_best_trial_is_highest_scored_completed_unless_recorded(repository: ReadModelRepository) -> None:
    assert repository.best_trial("s1") is None
    _trials(repository)
    best = repository.best_trial("s1")
    assert best is not None and best.trial_id == "t1"

    repository.set_study_state("s1", "completed", best_trial_id="t3")
    best = repository.best_trial("s1")
    assert best is not None and best.trial_id == "t3"


def test_records_are_frozen_and_timezone_aware(repository: ReadModelRepository) -> None:
    _trials(repository)
    trial = repository.get_trial("t0")
    assert trial is not None
    assert trial.started_at is not None and trial.started_at.tzinfo is not None
    with pytest.raises(AttributeError):
        trial.state = "running"  # type: ignore[misc]  # the frozen record refusing the write is the test


def test_foreign_key_violation_is_a_retryable_repository_error(repository: ReadModelRepository) -> None:
    with pytest.raises(RepositoryError):
        repository.upsert_trial("t1", "missing-study", number=0)


def test_concurrent_writers_from_threads(repository: ReadModelRepository) -> None:
    _study(repository)
    repository.upsert_trial("t1", "s1", number=0)
    results: list[bool] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        repository.record_epoch("t1", "s1", i % 5 + 1, loss=float(i))
        ok = repository.mark_processed("reporter", f"e{i % 10}")
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 10
    assert len(repository.epochs_for_trial("t1")) == 5


def test_forget_processed_drops_old_records(repository: ReadModelRepository) -> None:
    repository.mark_processed("reporter", "old")
    assert repository.forget_processed(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert repository.mark_processed("reporter", "old") is True


def test_epochs_for_study_are_ordered_by_trial_number(repository: ReadModelRepository) -> None:
    _study(repository)
    repository.upsert_trial("b", "s1", number=1)
    repository.upsert_trial("a", "s1", number=0)
    for trial_id in ("b", "a"):
        for epoch in (2, 1):
            repository.record_epoch(trial_id, "s1", epoch)
    assert [(e.trial_id, e.epoch) for e in repository.epochs_for_study("s1")] == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("b", 2),
    ]
