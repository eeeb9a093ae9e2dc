"""``hpo optimize --interactive``: ask for each study option with its choices and default, check each
answer as it is given, and return the ``key=value`` assignments that ``hpo optimize`` takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from contracts.study import StudyConfig
from services.cli.study_args import CLI_ONLY_KEYS, HIDDEN_CONFIG_KEYS, choices_of, parse_assignments, show_value
from services.runtime.errors import UserInputError

ASKED_CLI_KEYS = ("output_dir",)
NONE_WORDS = ("", "none", "None")


def ask_options(ask: Callable[[str], str], say: Callable[[str], None]) -> list[str]:
    """Every option in turn (Enter keeps the default); a wrong answer is explained and asked again."""
    assignments: list[str] = []
    say("Study options: press Enter to keep the default shown in brackets.")
    for name, field in StudyConfig.model_fields.items():
        if name in HIDDEN_CONFIG_KEYS:
            continue
        default = "digits" if name == "dataset" else show_value(field.get_default(call_default_factory=True))
        choices = choices_of(field.annotation)
        prompt = f"{name}" + (f" ({choices})" if choices else "") + f" [{default}]: "
        say(f"  {field.description or ''}")
        while True:
            answer = ask(prompt).strip()
            if not answer:
                break
            problem = _problem(field, answer)
            if problem is None:
                assignments.append(f"{name}={answer}")
                break
            say(f"  {name}={answer}: {problem}")
    for name in ASKED_CLI_KEYS:
        default, text = CLI_ONLY_KEYS[name]
        say(f"  {text}")
        answer = ask(f"{name} [{default}]: ").strip()
        if answer:
            assignments.append(f"{name}={answer}")
    parse_assignments(assignments)  # options that only fail together (e.g. a dataset that needs data_dir)
    return assignments


def _problem(field: FieldInfo, answer: str) -> str | None:
    """Why ``answer`` is not a valid value of ``field`` (its type and constraints), or None."""
    value: Any = None if answer in NONE_WORDS else answer
    # A type built at run time from the field's own annotation and constraints.
    constrained: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    try:
        TypeAdapter[Any](constrained).validate_python(value, strict=False)
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "invalid"))
        return message.removeprefix("Value error, ")
    except UserInputError as exc:
        return str(exc)
    return None
