"""The checked-in schemas match the models, and the AsyncAPI document describes every event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import schema_export
from contracts.events import EVENT_CLASSES, EVENT_TYPES, EventEnvelope, encode_event
from contracts.schema_export import REGENERATE_COMMAND, ROUTES, SCHEMAS_DIR, check, main, render, write
from contracts.study import StudyConfig

PUBLISHERS = {
    "study.created": {"api"},
    "study.stop_requested": {"api"},
    "study.resume_requested": {"api"},
    "study.resumed": {"scheduler"},
    "trial.requested": {"scheduler"},
    "trial.control": {"scheduler"},
    "study.completed": {"scheduler"},
    "trial.failed": {"scheduler", "trainer"},
    "trial.started": {"trainer"},
    "trial.heartbeat": {"trainer"},
    "trial.epoch_completed": {"trainer"},
    "trial.completed": {"trainer"},
    "trial.pruned": {"trainer"},
    "artifact.stored": {"trainer", "reporter"},
    "trial.health_assessed": {"health"},
    "trial.health_alert": {"health"},
    "report.ready": {"reporter"},
}


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render()


@pytest.fixture(scope="module")
def asyncapi(rendered: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(rendered["asyncapi.yaml"], Loader=_Loader)
    return document


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_checked_in_schemas_match_the_models(tmp_path: Path) -> None:
    write(tmp_path)
    generated = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    drifted = [
        relative
        for relative in generated
        if not (SCHEMAS_DIR / relative).is_file()
        or (SCHEMAS_DIR / relative).read_bytes() != (tmp_path / relative).read_bytes()
    ]
    drifted += check(SCHEMAS_DIR)
    assert not drifted, (
        f"contracts/schemas/ is out of date with the models ({', '.join(sorted(set(drifted)))}); "
        f"run `{REGENERATE_COMMAND}` and commit the result"
    )


def test_rendering_is_deterministic() -> None:
    first, second = render(), render()
    assert first == second
    assert list(first) == list(second)
    for relative, text in first.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), relative
        assert "\r" not in text, relative


def test_one_schema_file_per_event_type(rendered: dict[str, str]) -> None:
    files = rendered
    assert sorted(f for f in files if f.startswith("events/")) == sorted(f"events/{t}.json" for t in EVENT_TYPES)
    assert {"study_config.json", "asyncapi.yaml"} <= files.keys()


def test_json_files_have_sorted_keys(rendered: dict[str, str]) -> None:
    for relative, text in rendered.items():
        if relative.endswith(".json"):
            assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=EVENT_TYPES)
def test_event_schema_is_the_models_schema(cls: type[EventEnvelope], rendered: dict[str, str]) -> None:
    event_type = cls.model_fields["type"].default
    schema = json.loads(rendered[f"events/{event_type}.json"])
    assert schema["$schema"] == schema_export.JSON_SCHEMA_DIALECT
    assert schema["properties"] == cls.model_json_schema()["properties"]
    assert schema["properties"]["type"]["const"] == event_type
    assert f"'{event_type}'" in schema["description"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_sample_events_fit_their_schema_fields(
    event_type: str, event_samples: dict[str, EventEnvelope], rendered: dict[str, str]
) -> None:
    schema = json.loads(rendered[f"events/{event_type}.json"])
    body = json.loads(encode_event(event_samples[event_type]))
    assert set(schema["required"]) <= body.keys() <= schema["properties"].keys()


def test_study_config_schema(rendered: dict[str, str]) -> None:
    schema = json.loads(rendered["study_config.json"])
    assert schema["properties"] == StudyConfig.model_json_schema()["properties"]
    assert schema["required"] == ["dataset"]
    assert schema["additionalProperties"] is False


def test_routes_cover_every_event_type() -> None:
    assert sorted(ROUTES) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_publishers_follow_the_design(event_type: str) -> None:
    publishers = set(ROUTES[event_type].publishers) - {"cli"}
    assert publishers == PUBLISHERS[event_type]
    assert ROUTES[event_type].consumers(event_type)


def test_asyncapi_document_shape(asyncapi: dict[str, Any]) -> None:
    document = asyncapi
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"]
    channel = document["channels"][schema_export.EXCHANGE]
    assert channel["address"] == "hpo.events"
    assert channel["bindings"]["amqp"]["is"] == "routingKey"
    assert (
        channel["bindings"]["amqp"]["exchange"] | {"name": "hpo.events", "type": "topic"}
        == (channel["bindings"]["amqp"]["exchange"])
    )
    assert sorted(channel["messages"]) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=EVENT_TYPES)
def test_asyncapi_message_per_event_type(cls: type[EventEnvelope], asyncapi: dict[str, Any]) -> None:
    document = asyncapi
    event_type = cls.model_fields["type"].default
    message = _resolve(document, document["channels"]["hpo.events"]["messages"][event_type]["$ref"])
    assert message["name"] == event_type
    assert message["bindings"]["amqp"]["messageType"] == event_type
    assert message["payload"] == {"$ref": f"#/components/schemas/{cls.__name__}"}
    payload = _resolve(document, message["payload"]["$ref"])
    assert payload["properties"]["type"]["const"] == event_type
    assert set(message["x-publishers"]) == set(ROUTES[event_type].publishers)

    sends = {
        name: op
        for name, op in document["operations"].items()
        if op["action"] == "send" and op["messages"][0]["$ref"].endswith(f"/messages/{event_type}")
    }
    assert {op["tags"][0]["name"] for op in sends.values()} == set(ROUTES[event_type].publishers)
    for op in sends.values():
        assert op["bindings"]["amqp"]["cc"] == [event_type]
    receivers = {
        op["tags"][0]["name"]
        for op in document["operations"].values()
        if op["action"] == "receive" and op["messages"][0]["$ref"].endswith(f"/messages/{event_type}")
    }
    assert receivers == {c.service for c in ROUTES[event_type].consumers(event_type)}


def test_every_asyncapi_reference_resolves(asyncapi: dict[str, Any]) -> None:
    document = asyncapi
    refs = _refs(document)
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_check_reports_changed_missing_and_stale_files(tmp_path: Path) -> None:
    assert write(tmp_path)
    assert check(tmp_path) == []
    assert write(tmp_path) == []

    (tmp_path / "events" / "trial.control.json").write_text("{}\n")
    (tmp_path / "study_config.json").unlink()
    (tmp_path / "events" / "trial.retired.json").write_text("{}\n")

    assert sorted(check(tmp_path)) == ["events/trial.control.json", "events/trial.retired.json", "study_config.json"]
    assert sorted(write(tmp_path)) == ["events/trial.control.json", "events/trial.retired.json", "study_config.json"]
    assert check(tmp_path) == []
    assert not (tmp_path / "events" / "trial.retired.json").exists()


def test_cli_check_exits_1_listing_drifted_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--target", str(tmp_path)]) == 0
    assert main(["--check", "--target", str(tmp_path)]) == 0
    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 2.6.0\n")
    capsys.readouterr()

    assert main(["--check", "--target", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert "asyncapi.yaml" in err
    assert REGENERATE_COMMAND in err


def test_unknown_route_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ROUTES, "trial.retired", ROUTES["trial.failed"])
    with pytest.raises(KeyError, match=r"trial\.retired"):
        render()


def test_missing_route_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(ROUTES, "trial.heartbeat")
    with pytest.raises(KeyError, match=r"trial\.heartbeat"):
        render()
