"""The Pareto front of a pareto study: every scored trial, the front as a step line, the knee starred."""

from __future__ import annotations

from pathlib import Path

from services.reporter.plots.style import ACCENT, BEST, MUTED, decorate, figure, note, save
from services.reporter.results import pareto
from services.reporter.results.view import StudyView


def pareto_front(view: StudyView, path: Path, dpi: int) -> Path:
    fig = figure(7, 5)
    ax = fig.subplots()
    known = pareto.points(view)
    if not known:
        note(ax, "no completed trial has both objectives yet", title="Pareto front")
        return save(fig, path, dpi)
    members = pareto.front(view)
    on_front = {t.number for t in members}
    others = [p for p, _ in known.values() if p.number not in on_front]
    ax.scatter([p.first for p in others], [p.second for p in others], s=30, color=MUTED, label="dominated", zorder=2)
    line = [known[t.number][0] for t in members]
    ax.plot([p.first for p in line], [p.second for p in line], color=ACCENT, marker="o", linewidth=1.4,
            label="front", zorder=3)  # fmt: skip
    for point, _ in known.values():
        ax.annotate(str(point.number), (point.first, point.second), xytext=(4, 3), textcoords="offset points",
                    fontsize=7)  # fmt: skip
    chosen = pareto.recommended(view)
    if chosen is not None:
        p = known[chosen.number][0]
        ax.scatter([p.first], [p.second], s=240, marker="*", color=BEST, zorder=4, label=f"knee: trial {p.number}")
    ax.legend(loc="lower left")
    decorate(ax, "Pareto front", f"objective score ({view.rule.objective.value})", "overall health")
    return save(fig, path, dpi)
