"""The New study form as plain data: presets, defaults, the payload, and checks before anything is sent.

Validation runs the contracts' own ``StudyConfig`` over the payload, so the messages a person sees
before sending are the ones the API would answer with (the API's 422s are shown the same way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from contracts.study import StudyConfig

SAMPLERS = ("tpe", "random", "cmaes", "gp", "grid")
PRUNERS = ("median", "hyperband", "none")
MODES = ("health", "simple")

MODE_EXPLANATION = {
    "simple": "**simple**: trials are ranked by the objective alone. Health is still measured and reported.",
    "health": "**health**: trials are ranked by a blend of the objective and the model's overall health, "
    "so a slightly less accurate but healthier network (no dead layers, stable gradients, no overfitting) can win.",
}
SCORE_FORMULA = {
    "simple": "score = objective_score",
    "health": "score = (1 - health_weight) x objective_score + health_weight x overall_health",
}
OBJECTIVE_NOTE = (
    "objective_score maps the objective to [0, 1], higher is better (training_time: 1 / (1 + seconds / 60))."
)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    values: dict[str, Any]


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "quick look",
            "A handful of short trials on a sample of the data: minutes, for a first impression.",
            {"trials": 5, "max_epochs": 2, "max_samples": 500, "pruner": "none", "mode": "simple", "parallelism": 1},
        ),
        Preset(
            "balanced",
            "The defaults: enough trials for TPE to learn, median pruning, health blended in.",
            {"trials": 20, "max_epochs": 5, "max_samples": None, "pruner": "median", "mode": "health"},
        ),
        Preset(
            "thorough",
            "Many longer trials with Hyperband stopping the poor ones early.",
            {"trials": 100, "max_epochs": 20, "max_samples": None, "pruner": "hyperband", "mode": "health"},
        ),
        Preset(
            "health-first",
            "Health weighs as much as accuracy: prefers networks that train cleanly.",
            {"trials": 30, "max_epochs": 8, "mode": "health", "health_weight": 0.5, "optimize_for": "val_accuracy"},
        ),
    )
}

DEFAULTS: dict[str, Any] = {
    "mode": "health",
    "optimize_for": "val_accuracy",
    "trials": 10,
    "max_epochs": 5,
    "health_weight": 0.3,
    "parallelism": 1,
    "sampler": "tpe",
    "pruner": "median",
    "seed": None,
    "max_samples": None,
    "study_name": "",
    "data_dir": "",
    "search_space": "",
}


def objectives_for(mode: str, objectives: list[dict[str, Any]]) -> list[str]:
    """The objectives valid in ``mode``, as the API's ``/objectives`` lists them."""
    return [o["value"] for o in objectives if mode in (o.get("modes") or [mode])]


def parse_search_space(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """Overrides from YAML or JSON text (a list of specs, or a mapping name -> spec): specs, or an error line."""
    if not text.strip():
        return [], None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return [], f"the search space is not valid YAML/JSON{where}"
    if isinstance(loaded, dict):
        loaded = [{"name": name, **(spec if isinstance(spec, dict) else {})} for name, spec in loaded.items()]
    if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
        return [], "the search space must be a list of parameters (name, type, low/high or choices)"
    return loaded, None


def build_payload(values: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /optimize`` body for the form's values (empty optional fields left out)."""
    payload: dict[str, Any] = {
        "dataset": values["dataset"],
        "mode": values["mode"],
        "optimize_for": values["optimize_for"],
        "trials": int(values["trials"]),
        "max_epochs": int(values["max_epochs"]),
        "parallelism": int(values["parallelism"]),
        "sampler": values["sampler"],
        "pruner": values["pruner"],
    }
    if values["mode"] == "health":
        payload["health_weight"] = float(values["health_weight"])
    for name in ("seed", "max_samples"):
        if values.get(name) not in (None, ""):
            payload[name] = int(values[name])
    if str(values.get("data_dir") or "").strip():
        payload["data_dir"] = str(values["data_dir"]).strip()
    if str(values.get("study_name") or "").strip():
        payload["study_name"] = str(values["study_name"]).strip()
    specs, _ = parse_search_space(str(values.get("search_space") or ""))
    if specs:
        payload["search_space"] = specs
    return payload


def validate(values: dict[str, Any]) -> dict[str, list[str]]:
    """Problems per field (empty: the payload may be sent); the same checks and messages as the API's."""
    problems: dict[str, list[str]] = {}
    _, space_error = parse_search_space(str(values.get("search_space") or ""))
    if space_error:
        problems["search_space"] = [space_error]
    name = str(values.get("study_name") or "").strip()
    if name and not all(c.isalnum() or c in "_.-" for c in name):
        problems["study_name"] = ["only letters, digits and _ . - are allowed"]
    payload = build_payload(values)
    payload.pop("study_name", None)
    try:
        StudyConfig.model_validate(payload)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ())]
            field = loc[0] if loc else _field_named_in(str(error.get("msg", "")))
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.setdefault(field if field in DEFAULTS or field == "dataset" else "body", []).append(
                f"{'.'.join(loc[1:]) + ': ' if len(loc) > 1 else ''}{message}"
            )
    return problems


def _field_named_in(message: str) -> str:
    """The field a whole-request error is about (the contracts' cross-field checks name it in words)."""
    lowered = message.lower()
    if "search space" in lowered:
        return "search_space"
    if "objective" in lowered or "optimize_for" in lowered or "mode" in lowered:
        return "optimize_for"
    if "data_dir" in lowered:
        return "data_dir"
    if "health_weight" in lowered:
        return "health_weight"
    return "body"


def describe_payload(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=2)
