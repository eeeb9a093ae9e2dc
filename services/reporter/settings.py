"""Reporter settings, built once at the entry point (never at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRIAL_PLOTS = 25
"""Per-trial plots are drawn for this many trials, the best first: five PNGs each, about a second of
drawing per trial, so a 10,000-trial study's report stays well under a minute's work."""


class ReporterSettings(BaseSettings):
    """Environment: ``HPO_REPORTER_RESULTS_ROOT``, ``HPO_REPORTER_PLOT_DPI``, ... (the database is
    ``HPO_DATABASE_URL``, ``services.runtime.settings.DatabaseSettings``)."""

    model_config = SettingsConfigDict(env_prefix="HPO_REPORTER_", extra="ignore")

    results_root: Path = Field(
        default=Path("optimization_results"),
        description="Folder that receives <study_name>/ and <study_name>.zip for every finished study.",
    )
    plot_dpi: int = Field(default=100, ge=50, le=300, description="Resolution of the PNG plots.")
    plot_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes drawing per-trial plots; 0 picks from the CPU count, 1 draws in-process.",
    )
    trial_plots: int = Field(
        default=DEFAULT_TRIAL_PLOTS,
        ge=0,
        le=100_000,
        description="Trials (the best by score first) that get their own plots; the rest keep their data files.",
    )
    plots_ahead_dir: Path | None = Field(
        default=None,
        description="Draw each trial's plots as soon as its final health assessment is in, into a folder made "
        "in this one (removed when the reporter stops), so that the report only copies them (the embedded run "
        "sets its state folder). None: the report draws them all. For one study at a time: a served reporter "
        "keeps it off.",
    )
