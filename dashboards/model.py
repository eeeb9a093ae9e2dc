"""The committed dashboards' JSON, read without the SDK: panels, their queries, template variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dashboards import DASHBOARD_UIDS, json_path

Dashboard = dict[str, Any]


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel_id: int
    panel_title: str
    panel_type: str
    unit: str
    ref_id: str
    expr: str
    legend: str
    instant: bool


@dataclass(frozen=True)
class Variable:
    name: str
    query: str
    regex: str
    include_all: bool
    all_value: str


def load(uid: str) -> Dashboard:
    if uid not in DASHBOARD_UIDS:
        raise KeyError(uid)
    loaded: Dashboard = json.loads(json_path(uid).read_text())
    return loaded


def load_all() -> list[Dashboard]:
    return [load(uid) for uid in DASHBOARD_UIDS]


def panels(dashboard: Dashboard) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, in dashboard order (panels inside collapsed rows included)."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def queries(dashboard: Dashboard) -> list[PanelQuery]:
    found = []
    for panel in panels(dashboard):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        for target in panel.get("targets", []):
            found.append(
                PanelQuery(
                    dashboard=dashboard["uid"],
                    panel_id=panel["id"],
                    panel_title=panel["title"],
                    panel_type=panel["type"],
                    unit=unit,
                    ref_id=target["refId"],
                    expr=target["expr"],
                    legend=target.get("legendFormat", ""),
                    instant=bool(target.get("instant")),
                )
            )
    return found


def variables(dashboard: Dashboard) -> list[Variable]:
    return [
        Variable(
            name=item["name"],
            query=item["query"] if isinstance(item["query"], str) else item["query"].get("query", ""),
            regex=item.get("regex", ""),
            include_all=bool(item.get("includeAll")),
            all_value=item.get("allValue", ""),
        )
        for item in dashboard.get("templating", {}).get("list", [])
        if item.get("type") == "query"
    ]
