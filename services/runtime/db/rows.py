"""Row -> record conversion for the read-model repository (the only place that sees SQLAlchemy rows)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import RowMapping

from services.runtime.db.records import AlertRecord, ArtifactRecord, EpochRecord, StudyRecord, TrialRecord


def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def study_record(row: RowMapping) -> StudyRecord:
    return StudyRecord(
        study_id=row["study_id"],
        name=row["name"],
        state=row["state"],
        dataset=row["dataset"],
        mode=row["mode"],
        objective=row["objective"],
        config=dict(row["config"] or {}),
        created_at=utc(row["created_at"]),
        completed_at=utc(row["completed_at"]),
        best_trial_id=row["best_trial_id"],
        reason=row["reason"],
        counts=dict(row["counts"] or {}),
        owner=row["owner"],
        data_notes=[str(note) for note in row["data_notes"] or []],
    )


def trial_record(row: RowMapping) -> TrialRecord:
    return TrialRecord(
        trial_id=row["trial_id"],
        study_id=row["study_id"],
        state=row["state"],
        number=row["number"],
        attempt=row["attempt"],
        params=dict(row["params"] or {}),
        trainer_id=row["trainer_id"],
        architecture=row["architecture"],
        parameter_count=row["parameter_count"],
        metrics=row["metrics"],
        val_accuracy=row["val_accuracy"],
        score=row["score"],
        objective_score=row["objective_score"],
        overall_health=row["overall_health"],
        health=row["health"],
        model_key=row["model_key"],
        reason=row["reason"],
        epochs_trained=row["epochs_trained"],
        started_at=utc(row["started_at"]),
        finished_at=utc(row["finished_at"]),
        duration_seconds=row["duration_seconds"],
    )


def epoch_record(row: RowMapping) -> EpochRecord:
    return EpochRecord(
        trial_id=row["trial_id"],
        study_id=row["study_id"],
        epoch=row["epoch"],
        loss=row["loss"],
        accuracy=row["accuracy"],
        val_loss=row["val_loss"],
        val_accuracy=row["val_accuracy"],
        epoch_seconds=row["epoch_seconds"],
        telemetry=dict(row["telemetry"] or {}),
    )


def alert_record(row: RowMapping) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        study_id=row["study_id"],
        trial_id=row["trial_id"],
        kind=row["kind"],
        severity=row["severity"],
        message=row["message"],
        epoch=row["epoch"],
        layer=row["layer"] or None,
    )


def artifact_record(row: RowMapping) -> ArtifactRecord:
    return ArtifactRecord(key=row["key"], kind=row["kind"], size_bytes=row["size_bytes"], study_id=row["study_id"])
