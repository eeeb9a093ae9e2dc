"""Events: every type round-trips through JSON, and ``parse_event`` rejects anything malformed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.events import (
    EVENT_CLASSES,
    EVENT_TYPES,
    SCHEMA_VERSION,
    EventEnvelope,
    StudyStopRequested,
    StudyStopRequestedData,
    TrialHeartbeat,
    TrialHeartbeatData,
    encode_event,
    parse_event,
)


def _body(event: EventEnvelope) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(encode_event(event))
    return body


def _heartbeat(**fields: Any) -> TrialHeartbeat:
    fields.setdefault("source", "test")
    fields.setdefault("study_id", "s1")
    return TrialHeartbeat(data=TrialHeartbeatData(trainer_id="tr"), **fields)


def test_there_is_one_sample_per_event_type(event_samples: dict[str, EventEnvelope]) -> None:
    assert sorted(event_samples) == sorted(EVENT_TYPES)


def test_event_types_are_unique_and_follow_the_classes() -> None:
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES) == len(EVENT_CLASSES)
    for cls, event_type in zip(EVENT_CLASSES, EVENT_TYPES, strict=True):
        assert cls.model_fields["type"].default == event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_encode_then_parse_gives_an_equal_event(event_type: str, event_samples: dict[str, EventEnvelope]) -> None:
    event = event_samples[event_type]
    raw = encode_event(event)
    assert isinstance(raw, bytes)

    parsed = parse_event(raw)

    assert type(parsed) is type(event)
    assert parsed == event
    assert parse_event(raw.decode()) == event
    assert encode_event(parsed) == raw


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_encoded_event_carries_the_envelope_fields(event_type: str, event_samples: dict[str, EventEnvelope]) -> None:
    body = _body(event_samples[event_type])
    assert body["type"] == event_type
    assert body["schema_version"] == SCHEMA_VERSION
    assert {"id", "time", "source", "study_id", "trial_id", "correlation_id", "data"} <= body.keys()


def test_envelope_defaults() -> None:
    first, second = _heartbeat(), _heartbeat()
    assert first.id != second.id
    assert len(first.id) == 32
    assert first.time.tzinfo is not None
    assert first.time.utcoffset() == timedelta(0)
    assert first.correlation_id == "s1"
    assert first.trial_id is None
    assert first.schema_version == SCHEMA_VERSION
    assert _heartbeat(correlation_id="c9").correlation_id == "c9"


def test_events_are_immutable() -> None:
    event = _heartbeat()
    with pytest.raises(ValidationError):
        event.study_id = "other"  # type: ignore[misc]  # the frozen event refusing the write is the test


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"type": "trial.heartbeat"', id="truncated"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"trial.heartbeat"', id="string"),
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
def test_parse_event_rejects_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_event(raw)


def test_parse_event_rejects_an_unknown_type() -> None:
    body = _body(_heartbeat()) | {"type": "trial.exploded"}
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(body))
    assert "trial.exploded" in str(info.value)


def test_parse_event_rejects_a_body_without_type() -> None:
    body = _body(_heartbeat())
    del body["type"]
    with pytest.raises(ValidationError):
        parse_event(json.dumps(body))


def test_parse_event_rejects_the_payload_of_another_type(event_samples: dict[str, EventEnvelope]) -> None:
    body = _body(event_samples["trial.heartbeat"])
    body["data"] = _body(event_samples["trial.control"])["data"]
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(body))
    assert "trainer_id" in str(info.value)


@pytest.mark.parametrize(
    ("event_type", "path", "value"),
    [
        pytest.param("trial.control", ("data", "action"), "explode", id="bad-enum"),
        pytest.param("trial.started", ("data", "trial_number"), "first", id="bad-int"),
        pytest.param("trial.epoch_completed", ("data", "telemetry", "epoch"), 0, id="epoch-below-1"),
        pytest.param("trial.health_assessed", ("data", "assessment", "overall_health"), 1.5, id="health-above-1"),
        pytest.param("artifact.stored", ("data", "kind"), "video", id="bad-literal"),
        pytest.param("study.created", ("data", "config", "trials"), 0, id="invalid-nested-config"),
        pytest.param("trial.heartbeat", ("time",), "yesterday", id="bad-time"),
        pytest.param("trial.heartbeat", ("study_id",), None, id="null-study"),
    ],
)
def test_parse_event_rejects_wrong_payload_values(
    event_type: str, path: tuple[str, ...], value: Any, event_samples: dict[str, EventEnvelope]
) -> None:
    body = _body(event_samples[event_type])
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError):
        parse_event(json.dumps(body))


@pytest.mark.parametrize("missing", ["source", "study_id", "data"])
def test_parse_event_rejects_a_missing_required_field(missing: str) -> None:
    body = _body(_heartbeat())
    del body[missing]
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(body))
    assert missing in str(info.value)


def test_parse_event_rejects_unknown_envelope_fields() -> None:
    body = _body(_heartbeat()) | {"priority": 9}
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(body))
    assert "priority" in str(info.value)


def test_parse_event_fills_envelope_defaults() -> None:
    body = {"type": "study.stop_requested", "source": "api", "study_id": "s7", "data": {}}
    event = parse_event(json.dumps(body))
    assert isinstance(event, StudyStopRequested)
    assert event.data == StudyStopRequestedData()
    assert event.correlation_id == "s7"
    assert event.schema_version == SCHEMA_VERSION
