"""The committed dashboards' JSON is what the code in dashboards/ generates (a drift test), the same on
every run, with ids and uids that stay put."""

from __future__ import annotations

import json
from pathlib import Path

from dashboards import DASHBOARD_UIDS, json_path
from dashboards.generate import METRICS_DOC, expected_files, main, render, stale_files
from dashboards.model import load, load_all, panels, queries
from services.runtime.observability.catalog import markdown


def test_the_committed_json_is_what_the_code_generates() -> None:
    assert stale_files() == [], "run: python -m dashboards.generate"
    assert main(["--check"]) == 0


def test_generating_twice_gives_the_same_bytes_with_sorted_keys() -> None:
    first, second = expected_files(), expected_files()
    assert first == second
    for uid in DASHBOARD_UIDS:
        text = first[json_path(uid)]
        assert text == render(json.loads(text))  # sorted keys, two-space indent, a final newline
        assert text.endswith("}\n")


def test_a_drifted_or_missing_file_is_reported(tmp_path: Path) -> None:
    for path, text in expected_files(tmp_path).items():
        path.write_text(text)
    assert stale_files(tmp_path) == []
    edited = tmp_path / json_path(DASHBOARD_UIDS[0]).name
    edited.write_text(edited.read_text().replace('"refresh": "10s"', '"refresh": "1m"'))
    (tmp_path / "METRICS.md").unlink()
    assert stale_files(tmp_path) == [edited, tmp_path / "METRICS.md"]


def test_uids_titles_and_panel_ids_are_stable_and_unique() -> None:
    assert [d["uid"] for d in load_all()] == list(DASHBOARD_UIDS)
    for dashboard in load_all():
        assert "id" not in dashboard or dashboard["id"] is None  # Grafana numbers dashboards itself
        ids = [panel["id"] for panel in dashboard["panels"]] + [
            p["id"] for row in dashboard["panels"] for p in row.get("panels", [])
        ]
        assert ids == list(range(1, len(ids) + 1)), dashboard["uid"]
        for panel in panels(dashboard):
            assert panel["title"] and panel["description"], panel
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)) and ref_ids, panel["title"]


ASKED_FOR = {
    "hpo-studies-overview": {
        "Studies running", "Trials per minute, by state", "Best score so far, per study",
        "Pruned and failed share of finished trials, per study", "Trial durations in the time range",
        "trainer.work: waiting trials, consumers, busy trainers",
    },
    "hpo-training-live": {
        "Epoch", "Loss per epoch", "Accuracy per epoch", "Health components", "Health alerts per minute, by kind",
        "Dead units, by layer", "Saturated units, by layer", "Gradient norm, by layer", "Epoch time",
        "Samples per second", "Process memory", "GPU utilization", "GPU memory",
    },
    "hpo-pipeline-health": {
        "Events published per second, by type", "Handler time (50th, 95th, 99th percentile)",
        "Event lag (50th, 95th, 99th percentile)", "Dead letters per minute, by queue and cause",
        "Redeliveries per minute", "Ready", "Broker connection", "Database errors per minute",
    },
}  # fmt: skip


def test_the_dashboards_cover_what_the_issue_asks_for() -> None:
    for uid, asked in ASKED_FOR.items():
        assert asked <= {q.panel_title for q in queries(load(uid))}, uid


def test_the_metrics_doc_is_the_catalog() -> None:
    assert METRICS_DOC.read_text() == markdown()
