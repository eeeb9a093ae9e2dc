"""Build a study's results folder, its ZIP, and upload the ZIP to the artifact store.

Layout (``<results_root>/<study_name>/``)::

    report.md  report.html  best_params.yaml  trials.csv  best_model.keras
    health/trial_<n>.json
    plots/{optimization_history,param_importance,parallel_coordinates,objective_vs_health,best_trial}.png
    plots/trial_<n>/{learning_curves,gradient_flow,weight_distributions,unit_fractions,architecture}.png
        (for the ``trial_plots`` best trials; every trial keeps its row in trials.csv and its health JSON)

Retried trials use ``trial_<n>_attempt<k>``. Everything is written into a hidden temporary folder
next to the target and renamed into place at the end, so a reader never sees half a folder. The
ZIP ``<results_root>/<study_name>.zip`` sits beside the folder and holds it whole (``<study_name>/...``);
it is uploaded as ``studies/<study_id>/results.zip``. A rebuild replaces both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from services.reporter.plots import DrawnAhead, render_plots
from services.reporter.results.files import write_best_params, write_health_json, write_trials_csv
from services.reporter.results.html import markdown_to_html
from services.reporter.results.importance import param_importances
from services.reporter.results.markdown import render_report
from services.reporter.results.view import StudyView, load_study_view
from services.reporter.settings import DEFAULT_TRIAL_PLOTS
from services.runtime.artifacts.port import ArtifactNotFound, ArtifactStore
from services.runtime.db.repository import ReadModelRepository

MODEL_FILE = "best_model.keras"
_STORED_SUFFIXES = frozenset({".png", ".keras", ".zip", ".h5"})


@dataclass(frozen=True)
class BuiltResults:
    """Where a study's results went."""

    results_dir: Path
    zip_path: Path
    bundle_key: str
    bundle_size: int
    best_trial_number: int | None


def bundle_key(study_id: str) -> str:
    """The artifact-store key of a study's results ZIP."""
    return f"studies/{study_id}/results.zip"


def build_results(
    study_id: str,
    *,
    repository: ReadModelRepository,
    artifacts: ArtifactStore,
    results_root: Path,
    dpi: int = 100,
    workers: int = 0,
    trial_plots: int = DEFAULT_TRIAL_PLOTS,
    drawn_ahead: DrawnAhead | None = None,
) -> BuiltResults:
    """Write the results folder and ZIP of ``study_id`` from the read model, and upload the ZIP (trial plots
    drawn ahead, ``drawn_ahead``, are copied)."""
    view = load_study_view(repository, study_id)
    results_root.mkdir(parents=True, exist_ok=True)
    target = results_root / view.folder_name
    staging = Path(tempfile.mkdtemp(prefix=f".{view.folder_name}.tmp-", dir=results_root))
    try:
        os.chmod(staging, 0o755)
        write_folder(
            view, staging, artifacts, dpi=dpi, workers=workers, trial_plots=trial_plots, drawn_ahead=drawn_ahead
        )
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    zip_path = zip_folder(target, results_root / f"{view.folder_name}.zip")
    key = bundle_key(study_id)
    size = artifacts.put_file(key, zip_path)
    best = view.best.number if view.best is not None else None
    return BuiltResults(results_dir=target, zip_path=zip_path, bundle_key=key, bundle_size=size, best_trial_number=best)


def write_folder(
    view: StudyView,
    folder: Path,
    artifacts: ArtifactStore,
    *,
    dpi: int,
    workers: int = 0,
    trial_plots: int = DEFAULT_TRIAL_PLOTS,
    drawn_ahead: DrawnAhead | None = None,
) -> None:
    """Every file of the results folder, into ``folder``."""
    importance = param_importances(view)
    plots = render_plots(
        view, importance, folder, dpi=dpi, workers=workers, trial_plots=trial_plots, drawn_ahead=drawn_ahead
    )
    model_note = copy_best_model(view, artifacts, folder / MODEL_FILE)
    write_trials_csv(view, folder / "trials.csv")
    write_best_params(view, folder / "best_params.yaml")
    write_health_json(view, folder / "health")
    markdown = render_report(view, plots, importance, model_note)
    (folder / "report.md").write_text(markdown, encoding="utf-8")
    html = markdown_to_html(markdown, title=f"Study report: {view.study.name}")
    (folder / "report.html").write_text(html, encoding="utf-8")


def copy_best_model(view: StudyView, artifacts: ArtifactStore, destination: Path) -> str:
    """Copy the best trial's saved model; returns one line for the report saying what happened."""
    best = view.best
    if best is None:
        return "not written: no trial completed with a score"
    key = best.record.model_key
    if not key:
        return f"not written: trial {best.label} stored no model"
    try:
        artifacts.get_file(key, destination)
    except ArtifactNotFound:
        return f"not written: the model artifact `{key}` is missing from the artifact store"
    return f"trial {best.label}'s model, copied from artifact `{key}`"


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def zip_folder(folder: Path, zip_path: Path) -> Path:
    """ZIP ``folder`` (entries under ``<folder name>/``) to ``zip_path``, atomically."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{zip_path.name}.tmp-", dir=zip_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w") as bundle:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    compression = zipfile.ZIP_STORED if path.suffix in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED
                    arcname = f"{folder.name}/{path.relative_to(folder).as_posix()}"
                    bundle.write(path, arcname, compress_type=compression)
        os.chmod(tmp, 0o644)
        os.replace(tmp, zip_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return zip_path
