"""`hpo dashboards snapshot` against a real Prometheus that holds no hpo metrics: it refuses, naming the
series the panels need, and writes no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.model import load, queries
from services.cli.dashboards_snapshot import metric_names
from services.cli.main import EXIT_USAGE, main
from tests.support.prometheus import PrometheusServer, local_config

pytestmark = pytest.mark.integration


def test_a_prometheus_without_hpo_metrics_is_told_which_series_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = PrometheusServer(local_config({}), tmp_path / "prometheus")  # scrapes nothing at all
    server.start()
    png = tmp_path / "snapshot.png"
    try:
        arguments = ["dashboards", "snapshot", "--prometheus-url", server.url, "--study", "s1", "--output", str(png)]
        assert main(arguments) == EXIT_USAGE
    finally:
        server.stop()

    first, missing, hint = capsys.readouterr().err.strip().splitlines()
    assert first == f"error: Prometheus at {server.url} has no hpo series to draw for study s1"
    needed = {
        name
        for query in queries(load("hpo-training-live"))
        if query.panel_type == "timeseries"
        for name in metric_names(query.expr)
    }
    assert missing.startswith("  missing: ")
    assert set(missing.removeprefix("  missing: ").split(", ")) == needed
    assert {"hpo_trial_loss", "hpo_trial_health", "hpo_layer_dead_fraction"} <= needed
    assert hint.startswith("  ") and "deploy/prometheus/prometheus.yml" in hint
    assert not png.exists()
