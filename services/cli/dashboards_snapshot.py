"""``hpo dashboards snapshot``: a PNG of one dashboard's time-series panels for one study, drawn with
matplotlib from the same queries Grafana runs (``dashboards.promql``), for people without a Grafana.

A panel whose queries return nothing is drawn as "no data" and named on the console with the series it
needed (a CPU trainer has no GPU series); when no panel has data the snapshot is refused with the list.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dashboards.model import PanelQuery, load, queries
from dashboards.promql import Intervals, Prometheus, PrometheusError, expand
from services.runtime.errors import UserInputError

COLUMNS = 3
MAX_LEGEND_ENTRIES = 8
METRIC_NAME = re.compile(r"\b(?:hpo_[a-z0-9_]+|hpo:[a-z0-9_:]+|rabbitmq_[a-z0-9_]+)\b")
Say = Callable[[str], None]


@dataclass
class Chart:
    title: str
    unit: str
    lines: list[tuple[str, list[float], list[float]]] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)


def metric_names(expr: str) -> list[str]:
    return sorted(set(METRIC_NAME.findall(expr)))


def legend(template: str, labels: Mapping[str, str]) -> str:
    if not template or template == "__auto":
        return ", ".join(f"{key}={value}" for key, value in sorted(labels.items()) if key != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def snapshot(
    prometheus_url: str,
    study: str,
    output: Path,
    say: Say,
    *,
    dashboard_uid: str = "hpo-training-live",
    since_seconds: float = 3600.0,
    trainer: str = ".*",
) -> Path:
    """Draw the dashboard's time-series panels for ``study`` over the last ``since_seconds`` to ``output``."""
    prometheus = Prometheus(prometheus_url)
    dashboard = load(dashboard_uid)
    end = time.time()
    start = end - since_seconds
    values = {"study": study, "trainer": trainer, "service": ".*"}
    try:
        intervals = Intervals.for_range(since_seconds, prometheus.scrape_seconds())
        charts = _charts(prometheus, dashboard, values, intervals, start, end)
        empty = [chart for chart in charts if not chart.lines]
        absent = _absent(prometheus, sorted({name for chart in empty for name in chart.needs}), start, end)
        name = _study_name(prometheus, study, end) or study
    except PrometheusError as exc:
        raise UserInputError(str(exc)) from exc
    if len(empty) == len(charts):
        raise UserInputError(_nothing_to_draw(prometheus.url, study, absent))
    _render(charts, f"{dashboard['title']}: {name} ({study})", end, output)
    say(f"wrote {output}: {len(charts) - len(empty)} of {len(charts)} panels with data for study {name}")
    for chart in empty:
        missing = [metric for metric in chart.needs if metric in absent]
        why = f"Prometheus has no {', '.join(missing)}" if missing else "no series of this study and trainer"
        say(f"no data: {chart.title} ({why})")
    return output


def _absent(prometheus: Prometheus, names: Sequence[str], start: float, end: float) -> list[str]:
    """The metrics of ``names`` of which Prometheus holds no series at all over [start, end]."""
    return [name for name in names if not prometheus.series(name, start, end)]


def _nothing_to_draw(url: str, study: str, absent: Sequence[str]) -> str:
    if absent:
        return (
            f"Prometheus at {url} has no hpo series to draw for study {study}\n"
            f"  missing: {', '.join(absent)}\n"
            "  does it scrape the hpo services? (deploy/prometheus/prometheus.yml)"
        )
    return (
        f"Prometheus at {url} has no series of study {study} in that time\n"
        "  the metrics are there: check the study id ('hpo jobs --url ...' lists them) and --since"
    )


def _charts(
    prometheus: Prometheus,
    dashboard: dict[str, Any],
    values: Mapping[str, str],
    intervals: Intervals,
    start: float,
    end: float,
) -> list[Chart]:
    by_panel: dict[int, list[PanelQuery]] = {}
    for query in queries(dashboard):
        if query.panel_type == "timeseries":
            by_panel.setdefault(query.panel_id, []).append(query)
    charts = []
    for panel_queries in by_panel.values():
        chart = Chart(panel_queries[0].panel_title, panel_queries[0].unit)
        for query in panel_queries:
            chart.needs += [name for name in metric_names(query.expr) if name not in chart.needs]
            expr = expand(query.expr, values, intervals)
            for series in prometheus.query_range(expr, start, end, intervals.interval_seconds):
                points = [(float(t), float(v)) for t, v in series["values"]]
                chart.lines.append(
                    (legend(query.legend, series["metric"]), [t for t, _ in points], [v for _, v in points])
                )
        charts.append(chart)
    return charts


def _study_name(prometheus: Prometheus, study: str, at: float) -> str | None:
    found = prometheus.query(f'max by (study_name) (hpo_study_info{{study="{study}"}})', at)
    return str(found[0]["metric"].get("study_name")) if found else None


def _render(charts: Sequence[Chart], title: str, end: float, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    first = min(t for chart in charts for _, times, _ in chart.lines for t in times[:1])
    start = first - max(0.05 * (end - first), 5.0)
    rows = (len(charts) + COLUMNS - 1) // COLUMNS
    figure, axes = plt.subplots(rows, COLUMNS, figsize=(6 * COLUMNS, 3.4 * rows), squeeze=False)
    for ax, chart in zip(axes.flat, charts, strict=False):
        ax.set_title(chart.title, fontsize=10)
        ax.set_xlim(datetime.fromtimestamp(start), datetime.fromtimestamp(end))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S" if end - start < 86400 else "%m-%d %H:%M"))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if not chart.lines:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="grey")
            continue
        scale, label = _unit(chart.unit)
        for name, times, values in chart.lines:
            ax.plot([datetime.fromtimestamp(t) for t in times], [v * scale for v in values], label=name, linewidth=1.2)
        if label:
            ax.set_ylabel(label, fontsize=8)
        if chart.title.startswith("Gradient norm") and all(v > 0 for _, _, vs in chart.lines for v in vs):
            ax.set_yscale("log")
        handles, names = ax.get_legend_handles_labels()
        ax.legend(handles[:MAX_LEGEND_ENTRIES], names[:MAX_LEGEND_ENTRIES], fontsize=7, loc="best")
    for ax in list(axes.flat)[len(charts) :]:
        ax.axis("off")
    figure.suptitle(title, fontsize=13)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    plt.close(figure)


def _unit(unit: str) -> tuple[float, str]:
    """How to scale a Grafana unit for the axis, and its label."""
    return {
        "percentunit": (100.0, "%"),
        "bytes": (1 / (1024 * 1024), "MiB"),
        "s": (1.0, "seconds"),
        "ops": (1.0, "per second"),
    }.get(unit, (1.0, ""))
