"""``hpo export STUDY_DIR --trial N``: export one trial instead of the recommended one (a Pareto front
member, say): its parameters and figures as ``exports/trial_<N>/params.yaml`` and its model, when the
embedded run that made the folder still holds it, as ``exports/trial_<N>/model.keras``."""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from services.runtime.errors import UserInputError

TRIAL_KEYS = ("number", "trial_id", "state", "score", "objective_score", "overall_health", "val_accuracy")
TEST_KEYS = ("test_accuracy", "test_loss", "test_ece", "test_robustness")


def add_export_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="export one trial of a results folder by number (e.g. another Pareto front member)",
        description="Write a trial's parameters (and its model, when still stored) under STUDY_DIR/exports/.",
    )
    export.add_argument("study_dir", metavar="STUDY_DIR", help="a study's results folder (holds trials.csv)")
    export.add_argument("--trial", type=int, required=True, metavar="N", help="the trial number to export")


def _rows(study_dir: Path) -> list[dict[str, str]]:
    table = study_dir / "trials.csv"
    if not table.is_file():
        raise UserInputError(f"{study_dir} holds no trials.csv: name a study's results folder (output_dir/<study>)")
    with table.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _value(text: str) -> Any:
    if text == "":
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def export_trial(study_dir: Path, number: int) -> tuple[Path, Path | None]:
    """Write the trial's document (and copy its model when found); returns both paths (model None if absent)."""
    rows = [r for r in _rows(study_dir) if r.get("number") == str(number) and r.get("state") == "completed"]
    if not rows:
        known = sorted({r["number"] for r in _rows(study_dir) if r.get("state") == "completed"}, key=int)
        raise UserInputError(
            f"trial {number} did not complete in {study_dir.name}; completed trials: {', '.join(known) or 'none'}"
        )
    row = rows[-1]
    document: dict[str, Any] = {key: _value(row.get(key, "")) for key in TRIAL_KEYS}
    document["params"] = {k.removeprefix("param_"): _value(v) for k, v in row.items() if k.startswith("param_")}
    document["test"] = {key: _value(row.get(key, "")) for key in TEST_KEYS}
    out = study_dir / "exports" / f"trial_{number}"
    out.mkdir(parents=True, exist_ok=True)
    params_path = out / "params.yaml"
    params_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    models = list(
        (study_dir.parent / ".hpo" / "artifacts").glob(f"studies/*/trials/{number:04d}-{row['trial_id']}/model.keras")
    )
    model_path = None
    if models:
        model_path = out / "model.keras"
        shutil.copyfile(models[0], model_path)
    return params_path, model_path


def run_export(args: argparse.Namespace, console: Console) -> int:
    params_path, model_path = export_trial(Path(args.study_dir), args.trial)
    console.print(f"trial {args.trial}: {params_path}")
    if model_path is not None:
        console.print(f"model:    {model_path}")
    else:
        console.print("model:    not stored here (a remote study keeps its models in the deployment's object store)")
    return 0
