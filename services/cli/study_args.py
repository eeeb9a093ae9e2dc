"""``key=value`` arguments of ``hpo optimize`` → a validated ``StudyConfig`` (one-line errors)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contracts.events import STUDY_NAME_PATTERN
from contracts.search_space import ParamSpec
from contracts.study import StudyConfig
from services.runtime.errors import UserInputError

CLI_ONLY_KEYS = {
    "output_dir": ("./optimization_results", "Folder that receives <study>/ results and <study>.zip."),
    "study_name": ("generated", "Name of the study and of its results folder: letters, digits, _ . -"),
    "search_space_file": ("none", "YAML/JSON file overriding the default search space (also --search-space)."),
    "download": ("no", "yes: download a missing built-in dataset's original files into data_dir first."),
    "trainer": ("local", "local: train here; runpod: each trial as a job on a RunPod serverless endpoint."),
    "endpoint": ("none", "trainer=runpod: the endpoint's id (the API key comes from HPO_RUNPOD_API_KEY)."),
}
TRAINERS = ("local", "runpod")
HIDDEN_CONFIG_KEYS = {"search_space"}


@dataclass(frozen=True)
class OptimizeRequest:
    config: StudyConfig
    output_dir: Path
    allow_download: bool = False
    study_name: str | None = None
    trainer: str = "local"
    endpoint: str | None = None


def config_keys() -> list[str]:
    return [k for k in StudyConfig.model_fields if k not in HIDDEN_CONFIG_KEYS] + list(CLI_ONLY_KEYS)


def parse_assignments(assignments: list[str], search_space_file: str | None = None) -> OptimizeRequest:
    """Turn ``["dataset=mnist", "trials=8"]`` into a validated request, or raise ``UserInputError``."""
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UserInputError(f"'{item}' is not key=value; e.g. dataset=digits trials=8")
        if key not in config_keys():
            close = difflib.get_close_matches(key, config_keys(), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(config_keys())}"
            raise UserInputError(f"unknown option '{key}'{hint}")
        if key in values:
            raise UserInputError(f"option '{key}' is given twice")
        values[key] = value.strip()
    output_dir = Path(values.pop("output_dir", "./optimization_results"))
    study_name = values.pop("study_name", None)
    if study_name is not None and not re.fullmatch(STUDY_NAME_PATTERN, study_name):
        raise UserInputError(
            f"study_name={study_name}: use 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    download = str(values.pop("download", "no")).lower()
    if download not in ("yes", "no", "true", "false", "1", "0"):
        raise UserInputError(f"download={download}: use download=yes or download=no")
    trainer = str(values.pop("trainer", "local")).lower()
    endpoint = values.pop("endpoint", None) or None
    if trainer not in TRAINERS:
        raise UserInputError(f"trainer={trainer}: use trainer=local or trainer=runpod endpoint=ENDPOINT_ID")
    if trainer == "runpod" and not endpoint:
        raise UserInputError("trainer=runpod needs the serverless endpoint: add endpoint=ENDPOINT_ID")
    if endpoint and trainer != "runpod":
        raise UserInputError("endpoint= is for trainer=runpod; add trainer=runpod or drop endpoint=")
    space_file = values.pop("search_space_file", None) or search_space_file
    if space_file:
        values["search_space"] = load_search_space_file(Path(space_file))
    if "dataset" not in values:
        values["dataset"] = "digits"
    for key in ("seed", "max_samples", "data_dir"):
        if values.get(key) in ("", "none", "None"):
            values[key] = None
    try:
        config = StudyConfig.model_validate(values)
    except ValidationError as exc:
        raise UserInputError(format_validation_error(exc, values)) from None
    allow = download in ("yes", "true", "1")
    return OptimizeRequest(
        config=config,
        output_dir=output_dir,
        allow_download=allow,
        study_name=study_name,
        trainer=trainer,
        endpoint=endpoint,
    )


def load_search_space_file(path: Path) -> list[ParamSpec]:
    """Read overrides: a list of specs, or a mapping ``name: {type, low, high, log, choices}``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot read search-space file {path}: {exc.strerror or exc}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserInputError(
            f"search-space file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {first_line}"
        ) from None
    if isinstance(raw, dict):
        raw = raw.get("params", raw)
    if isinstance(raw, dict):
        raw = [{"name": name, **(spec or {})} for name, spec in raw.items()]
    if not isinstance(raw, list):
        raise UserInputError(f"search-space file {path}: expected a list of parameters or a name -> spec mapping")
    try:
        return [ParamSpec.model_validate(item) for item in raw]
    except ValidationError as exc:
        raise UserInputError(f"search-space file {path}: {format_validation_error(exc, {})}") from None


def format_validation_error(exc: ValidationError, given: dict[str, Any]) -> str:
    messages = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        expected = (err.get("ctx") or {}).get("expected")
        if err.get("type") == "enum" and expected:
            msg = f"not one of the choices; choose one of: {str(expected).replace(chr(39), '')}"
        field = loc.split(".")[0] if loc else ""
        if field and field in given and not isinstance(given[field], list):
            messages.append(f"{field}={given[field]}: {msg}")
        elif loc:
            messages.append(f"{loc}: {msg}")
        else:
            messages.append(msg)
    return "; ".join(messages)


def describe_options() -> str:
    """One line per option with its default and meaning, for ``hpo optimize --help``."""
    lines = []
    for name, field in StudyConfig.model_fields.items():
        if name in HIDDEN_CONFIG_KEYS:
            continue
        default = "(required)" if field.is_required() else show_value(field.get_default(call_default_factory=True))
        if name == "dataset":
            default = "digits"
        choices = choices_of(field.annotation)
        suffix = f" [{choices}]" if choices else ""
        lines.append(f"  {name:<18} default {default:<22} {field.description or ''}{suffix}")
    for name, (default, text) in CLI_ONLY_KEYS.items():
        lines.append(f"  {name:<18} default {default:<22} {text}")
    return "\n".join(lines)


def show_value(value: Any) -> str:
    if value is None:
        return "none"
    return str(getattr(value, "value", value))


def choices_of(annotation: Any) -> str:
    members = getattr(annotation, "__members__", None)
    if members:
        return "|".join(m.value for m in members.values())
    return ""
