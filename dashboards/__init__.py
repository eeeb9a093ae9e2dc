"""Grafana dashboards as code.

The dashboards are Python (``overview.py``, ``training.py``, ``pipeline.py``, built with
``grafana-foundation-sdk``); ``python -m dashboards.generate`` writes them here as JSON (sorted keys,
stable ids and uids), which is what Grafana provisioning, ``hpo dashboards push`` and
``hpo dashboards snapshot`` read. ``tests/unit/dashboards/test_generated.py`` fails when the JSON drifts
from the code. Reading the JSON (``model.py``) and running its queries (``promql.py``) need no SDK.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
DATASOURCE_UID = "hpo-prometheus"
"""The Prometheus datasource every panel names (provisioned by deploy/grafana, created by ``push``)."""
FOLDER_UID = "hpo"
FOLDER_TITLE = "hpo"
DASHBOARD_UIDS = ("hpo-studies-overview", "hpo-training-live", "hpo-pipeline-health")


def json_path(uid: str) -> Path:
    return FOLDER / f"{uid}.json"
