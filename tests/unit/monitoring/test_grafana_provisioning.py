"""Grafana's file provisioning (deploy/grafana) names the datasource every dashboard uses and the folder
the dashboards' JSON is mounted at."""

from __future__ import annotations

from pathlib import Path

import yaml

from dashboards import DATASOURCE_UID, FOLDER_UID
from dashboards.model import load_all, panels

GRAFANA = Path(__file__).resolve().parents[3] / "deploy" / "grafana"


def test_the_provisioned_datasource_is_the_one_every_panel_queries() -> None:
    (datasource,) = yaml.safe_load((GRAFANA / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert datasource["uid"] == DATASOURCE_UID and datasource["type"] == "prometheus"
    for dashboard in load_all():
        for panel in panels(dashboard):
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
            assert {t["datasource"]["uid"] for t in panel["targets"]} == {DATASOURCE_UID}, panel["title"]


def test_the_dashboard_provider_reads_a_folder_of_json_into_the_hpo_folder() -> None:
    (provider,) = yaml.safe_load((GRAFANA / "dashboards" / "hpo.yaml").read_text())["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == FOLDER_UID
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/hpo"
