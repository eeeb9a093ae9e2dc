"""The few panel shapes the hpo dashboards use, on ``grafana-foundation-sdk`` builders.

A ``Board`` numbers its panels in the order they are added (ids 1, 2, ...), so the same code always
gives the same ids; rows are panels too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, dashboard
from grafana_foundation_sdk.models import prometheus as prometheus_models

from dashboards import DASHBOARD_UIDS, DATASOURCE_UID

DATASOURCE = dashboard.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
REF_IDS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    heatmap: bool = False
    """Cumulative histogram buckets (``le``) shown as counts per bucket."""


def variable(name: str, label: str, query: str, *, regex: str = "", include_all: bool = False) -> Builder[Any]:
    """A Prometheus query variable, refreshed when the time range changes; "All" means ``.*``."""
    built = (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(DATASOURCE)
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.ALPHABETICAL_ASC)
    )
    if regex:
        built = built.regex(regex)
    if include_all:
        built = built.include_all(True).multi(True).all_value(".*")
    return built


class Board:
    def __init__(self, uid: str, title: str, description: str) -> None:
        if uid not in DASHBOARD_UIDS:
            raise ValueError(f"unknown dashboard uid {uid}")
        self._next_id = 1
        self._builder = (
            dashboard_builders.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["hpo"])
            .time("now-1h", "now")
            .refresh("10s")
            .timezone("browser")
            .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
            .link(
                dashboard_builders.DashboardLink("hpo dashboards")
                .type(dashboard.DashboardLinkType.DASHBOARDS)
                .tags(["hpo"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )

    def variables(self, *variables: Builder[Any]) -> Board:
        for built in variables:
            self._builder = self._builder.with_variable(built)
        return self

    def row(self, title: str) -> Board:
        self._builder = self._builder.with_row(dashboard_builders.Row(title).id(self._id()))
        return self

    def timeseries(
        self,
        title: str,
        description: str,
        queries: Sequence[Query],
        unit: str = "short",
        *,
        width: int = 12,
        height: int = 8,
        log_scale: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
        stepped: bool = False,
    ) -> Board:
        panel = (
            timeseries.Panel()
            .title(title)
            .description(description)
            .id(self._id())
            .datasource(DATASOURCE)
            .unit(unit)
            .span(width)
            .height(height)
            .line_width(1)
            .fill_opacity(10)
            .show_points(common.VisibilityMode.AUTO)
            .span_nulls(False)
            .legend(
                common_builders.VizLegendOptions()
                .show_legend(True)
                .display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM)
            )
        )
        if stepped:
            panel = panel.line_interpolation(common.LineInterpolation.STEP_AFTER)
        if log_scale:
            panel = panel.scale_distribution(
                common_builders.ScaleDistributionConfig().type(common.ScaleDistribution.LOG).log(10)
            )
        if min_value is not None:
            panel = panel.min(min_value)
        if max_value is not None:
            panel = panel.max(max_value)
        self._add(_with_targets(panel, queries))
        return self

    def stat(
        self, title: str, description: str, queries: Sequence[Query], unit: str = "short", *, width: int = 6
    ) -> Board:
        panel = (
            stat.Panel()
            .title(title)
            .description(description)
            .id(self._id())
            .datasource(DATASOURCE)
            .unit(unit)
            .span(width)
            .height(5)
            .graph_mode(common.BigValueGraphMode.AREA)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
        self._add(_with_targets(panel, queries))
        return self

    def bars(
        self, title: str, description: str, queries: Sequence[Query], unit: str = "short", *, width: int = 6
    ) -> Board:
        panel = (
            bargauge.Panel()
            .title(title)
            .description(description)
            .id(self._id())
            .datasource(DATASOURCE)
            .unit(unit)
            .span(width)
            .height(8)
            .orientation(common.VizOrientation.HORIZONTAL)
            .display_mode(common.BarGaugeDisplayMode.BASIC)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
        self._add(_with_targets(panel, queries))
        return self

    def to_json(self) -> dict[str, Any]:
        """The dashboard as Grafana's JSON model (plain dicts and lists)."""
        loaded: dict[str, Any] = json.loads(json.dumps(self._builder.build(), cls=JSONEncoder))
        return loaded

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _add(self, panel: Builder[dashboard.Panel]) -> None:
        self._builder = self._builder.with_panel(panel)


def _target(query: Query, ref_id: str) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(query.expr).ref_id(ref_id).datasource(DATASOURCE)
    target = target.legend_format(query.legend or "__auto")
    target = target.instant() if query.instant else target.range()
    if query.heatmap:
        target = target.format(prometheus_models.PromQueryFormat.HEATMAP)
    return target


def _with_targets(panel: Any, queries: Sequence[Query]) -> Any:
    if len(queries) > len(REF_IDS):
        raise ValueError("too many queries in one panel")
    for query, ref_id in zip(queries, REF_IDS, strict=False):
        panel = panel.with_target(_target(query, ref_id))
    return panel
