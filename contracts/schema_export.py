"""Generate the checked-in schemas under ``contracts/schemas/`` from the pydantic models.

Writes one JSON Schema per event type (``events/<type>.json``), ``study_config.json`` and an
AsyncAPI 3.0 document (``asyncapi.yaml``) describing the ``hpo.events`` topic exchange: one
message per event type, routed by its type, with who publishes and who consumes it. Output is
deterministic (sorted keys, ``\\n`` line ends, trailing newline), so regenerating is byte-identical.

    python -m contracts.schema_export           # (re)write the files
    python -m contracts.schema_export --check   # exit 1 listing files that drifted from the models
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from contracts.events import EVENT_CLASSES, SCHEMA_VERSION
from contracts.study import StudyConfig
from contracts.topology import DURABLE_QUEUES, HEALTH_QUEUE, REPORTER_QUEUE, SCHEDULER_QUEUE, TRAINER_WORK_QUEUE

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
EVENTS_SUBDIR = "events"
EXCHANGE = "hpo.events"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
AMQP_BINDING_VERSION = "0.3.0"
REGENERATE_COMMAND = "python -m contracts.schema_export"


@dataclass(frozen=True)
class Consumer:
    """A service consuming an event, and the queue it reads it from."""

    service: str
    queue: str


@dataclass(frozen=True)
class Route:
    """Who publishes an event type, who else consumes it (beside the durable queues of
    ``contracts/topology.py``, which are read from there), and what it means."""

    summary: str
    publishers: tuple[str, ...]
    extra_consumers: tuple[Consumer, ...] = ()

    def consumers(self, event_type: str) -> tuple[Consumer, ...]:
        durable = tuple(c for queue, c in _DURABLE_CONSUMERS.items() if event_type in DURABLE_QUEUES[queue])
        return durable + self.extra_consumers


_SCHEDULER = Consumer("scheduler", "scheduler")
_HEALTH = Consumer("health", "health")
_REPORTER = Consumer("reporter", "reporter")
_TRAINERS = Consumer("trainer", "trainer (work queue shared by every trainer, prefetch 1)")
_TRAINER_CONTROL = Consumer("trainer", "one exclusive queue per trainer instance")
_CLI = Consumer("cli", "cli (embedded run only)")
_DURABLE_CONSUMERS = {
    SCHEDULER_QUEUE: _SCHEDULER,
    HEALTH_QUEUE: _HEALTH,
    REPORTER_QUEUE: _REPORTER,
    TRAINER_WORK_QUEUE: _TRAINERS,
}

# Section 2 of DESIGN.md. ``cli`` stands in for the api in an embedded run.
ROUTES: dict[str, Route] = {
    "study.created": Route(
        "A user started a study; carries the validated StudyConfig.",
        ("api", "cli"),
        (),
    ),
    "study.stop_requested": Route(
        "A user asked a study to stop; running trials finish or are stopped.",
        ("api", "cli"),
        (),
    ),
    "study.resume_requested": Route(
        "A user asked a stopped (or interrupted) study to go on with its remaining trials.",
        ("api", "cli"),
        (),
    ),
    "study.resumed": Route(
        "The scheduler took a study up again from its stored trials; it runs only the remaining ones.",
        ("scheduler",),
        (_CLI,),
    ),
    "study.completed": Route(
        "The study ended (completed, stopped or failed), with its best trial.",
        ("scheduler",),
        (_CLI,),
    ),
    "trial.requested": Route(
        "Work for one trainer: everything needed to train one trial.",
        ("scheduler",),
        (),
    ),
    "trial.started": Route(
        "A trainer took a trial and began training it.",
        ("trainer",),
        (),
    ),
    "trial.heartbeat": Route(
        "A trainer is still working on a trial (feeds the scheduler's lease).",
        ("trainer",),
        (),
    ),
    "trial.epoch_completed": Route(
        "One epoch finished: metrics and per-layer health telemetry.",
        ("trainer",),
        (),
    ),
    "trial.control": Route(
        "Prune or stop a running trial at its next batch or epoch boundary.",
        ("scheduler",),
        (_TRAINER_CONTROL,),
    ),
    "trial.completed": Route(
        "A trial trained to the end (or was stopped early) with its final metrics.",
        ("trainer",),
        (),
    ),
    "trial.failed": Route(
        "A trial failed: a trainer error, or the scheduler giving up on an expired lease.",
        ("trainer", "scheduler"),
        (),
    ),
    "trial.pruned": Route(
        "A trial stopped early because the pruner judged it unpromising.",
        ("trainer",),
        (),
    ),
    "trial.health_assessed": Route(
        "Health components and overall health of a trial after an epoch (final once it ended).",
        ("health",),
        (),
    ),
    "trial.health_alert": Route(
        "A health problem was detected (vanishing/exploding gradients, dead layer, divergence, ...).",
        ("health",),
        (),
    ),
    "artifact.stored": Route(
        "An artifact (model, plot, report bundle) was written to the artifact store.",
        ("trainer", "reporter"),
        (),
    ),
    "report.ready": Route(
        "A study's report and result bundle are ready to download.",
        ("reporter",),
        (_CLI,),
    ),
}


def _event_type(cls: type[Any]) -> str:
    return str(cls.model_fields["type"].default)


def _route(event_type: str) -> Route:
    try:
        return ROUTES[event_type]
    except KeyError:
        raise KeyError(f"event type {event_type!r} has no entry in contracts.schema_export.ROUTES") from None


def _route_text(event_type: str) -> str:
    route = _route(event_type)
    consumers = ", ".join(sorted({c.service for c in route.consumers(event_type)}))
    return (
        f"{route.summary} Routing key '{event_type}' on topic exchange '{EXCHANGE}'. "
        f"Published by: {', '.join(route.publishers)}. Consumed by: {consumers}."
    )


def event_schema(cls: type[Any]) -> dict[str, Any]:
    """The standalone JSON Schema of one event envelope."""
    schema: dict[str, Any] = cls.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema.setdefault("description", _route_text(_event_type(cls)))
    return schema


def study_config_schema() -> dict[str, Any]:
    schema: dict[str, Any] = StudyConfig.model_json_schema()
    schema["$schema"] = JSON_SCHEMA_DIALECT
    return schema


def _operation(service: str, action: str, event_type: str, description: str) -> dict[str, Any]:
    amqp: dict[str, Any] = {"bindingVersion": AMQP_BINDING_VERSION, "cc": [event_type], "deliveryMode": 2}
    if action == "receive":
        amqp["ack"] = True
    return {
        "action": action,
        "bindings": {"amqp": amqp},
        "channel": {"$ref": f"#/channels/{EXCHANGE}"},
        "description": description,
        "messages": [{"$ref": f"#/channels/{EXCHANGE}/messages/{event_type}"}],
        "tags": [{"name": service}],
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 description of every event on ``hpo.events``."""
    event_types = [_event_type(cls) for cls in EVENT_CLASSES]
    _, definitions = models_json_schema(
        [(cls, "validation") for cls in EVENT_CLASSES], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = definitions["$defs"]

    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for cls, event_type in zip(EVENT_CLASSES, event_types, strict=True):
        route = _route(event_type)
        messages[event_type] = {
            "bindings": {"amqp": {"bindingVersion": AMQP_BINDING_VERSION, "messageType": event_type}},
            "contentType": "application/json",
            "correlationId": {
                "description": "The study's id unless the publisher set another.",
                "location": "$message.payload#/correlation_id",
            },
            "description": _route_text(event_type),
            "name": event_type,
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "summary": route.summary,
            "title": cls.__name__,
            "x-consumers": [{"queue": c.queue, "service": c.service} for c in route.consumers(event_type)],
            "x-publishers": list(route.publishers),
        }
        for publisher in route.publishers:
            operations[f"{publisher}.send.{event_type}"] = _operation(
                publisher, "send", event_type, f"{publisher} publishes {event_type} (routing key '{event_type}')."
            )
        for consumer in route.consumers(event_type):
            operations[f"{consumer.service}.receive.{event_type}"] = _operation(
                consumer.service,
                "receive",
                event_type,
                f"{consumer.service} consumes {event_type} from queue {consumer.queue}; acked after its handler.",
            )

    return {
        "asyncapi": "3.0.0",
        "channels": {
            EXCHANGE: {
                "address": EXCHANGE,
                "bindings": {
                    "amqp": {
                        "bindingVersion": AMQP_BINDING_VERSION,
                        "exchange": {
                            "autoDelete": False,
                            "durable": True,
                            "name": EXCHANGE,
                            "type": "topic",
                            "vhost": "/",
                        },
                        "is": "routingKey",
                    }
                },
                "description": (
                    f"Topic exchange '{EXCHANGE}'; every event is published with its type as the routing key. "
                    "Each consuming service has one durable queue; trial.requested is a work queue shared by "
                    "all trainers (competing consumers, prefetch 1). Handlers are acked after they succeed, "
                    "retried a bounded number of times, then dead-lettered with the reason; consumers "
                    "de-duplicate by event id."
                ),
                "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in event_types},
            }
        },
        "components": {"messages": messages, "schemas": schemas},
        "defaultContentType": "application/json",
        "info": {
            "description": (
                "Events exchanged by the hpo services (api, scheduler, trainer, health, reporter). "
                "The embedded run carries the same events over an in-process bus with the same semantics. "
                f"Envelope schema_version {SCHEMA_VERSION}. Generated by `{REGENERATE_COMMAND}`; do not edit."
            ),
            "title": "hpo events",
            "version": f"{SCHEMA_VERSION}.0.0",
        },
        "operations": operations,
        "servers": {
            "rabbitmq": {
                "description": "The broker of a distributed deployment.",
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
            }
        },
    }


def _json_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml_text(document: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(
        document, sort_keys=True, allow_unicode=True, default_flow_style=False, width=120, indent=2
    )
    return text if text.endswith("\n") else text + "\n"


def render() -> dict[str, str]:
    """Every generated file, as ``{relative posix path: text}``, in a stable order."""
    for event_type in ROUTES:
        if event_type not in {_event_type(cls) for cls in EVENT_CLASSES}:
            raise KeyError(f"contracts.schema_export.ROUTES names an unknown event type {event_type!r}")
    files: dict[str, str] = {}
    for cls in EVENT_CLASSES:
        files[f"{EVENTS_SUBDIR}/{_event_type(cls)}.json"] = _json_text(event_schema(cls))
    files["study_config.json"] = _json_text(study_config_schema())
    files["asyncapi.yaml"] = _yaml_text(asyncapi_document())
    return files


def _stale(target: Path, expected: dict[str, str]) -> list[str]:
    """Generated-looking files under ``target`` that no model produces any more."""
    events_dir = target / EVENTS_SUBDIR
    if not events_dir.is_dir():
        return []
    present = {f"{EVENTS_SUBDIR}/{p.name}" for p in events_dir.glob("*.json")}
    return sorted(present - expected.keys())


def write(target: Path = SCHEMAS_DIR) -> list[str]:
    """(Re)write every generated file under ``target``; returns the relative paths that changed."""
    files = render()
    changed: list[str] = []
    for relative, text in files.items():
        path = target / relative
        data = text.encode("utf-8")
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed.append(relative)
    for relative in _stale(target, files):
        (target / relative).unlink()
        changed.append(relative)
    return changed


def check(target: Path = SCHEMAS_DIR) -> list[str]:
    """Relative paths that differ from what the models generate (changed, missing or stale)."""
    files = render()
    drifted = [
        relative
        for relative, text in files.items()
        if not (target / relative).is_file() or (target / relative).read_bytes() != text.encode("utf-8")
    ]
    return drifted + _stale(target, files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE_COMMAND, description="Generate contracts/schemas/.")
    parser.add_argument("--check", action="store_true", help="report drifted files instead of writing them")
    parser.add_argument("--target", type=Path, default=SCHEMAS_DIR, help="schemas folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        drifted = check(args.target)
        if drifted:
            print(f"{len(drifted)} schema file(s) under {args.target} drifted from the models:", file=sys.stderr)
            for relative in drifted:
                print(f"  {relative}", file=sys.stderr)
            print(f"regenerate with: {REGENERATE_COMMAND}", file=sys.stderr)
            return 1
        print(f"schemas under {args.target} are up to date")
        return 0
    changed = write(args.target)
    print(f"wrote {len(changed)} changed file(s) under {args.target}" if changed else "schemas already up to date")
    for relative in changed:
        print(f"  {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
