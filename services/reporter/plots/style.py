"""One look for every plot: figure creation without pyplot (no global state, safe off the main
thread), colours, titles, notes and saving."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

log = logging.getLogger(__name__)

TRAIN = "#1f77b4"
VAL = "#ff7f0e"
BEST = "#d62728"
ACCENT = "#2ca02c"
MUTED = "#9e9e9e"
OVERFIT = "#d62728"

STATE_COLORS: dict[str, str] = {
    "completed": "#2ca02c",
    "pruned": "#ff7f0e",
    "failed": "#d62728",
    "running": "#9e9e9e",
    "requested": "#9e9e9e",
}

RC: Any = {  # matplotlib.rc_context settings (Any: its stubs want literal keys)
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
}


def figure(width: float = 8.0, height: float = 4.5, *, constrained: bool = True) -> Figure:
    """A new, free-standing figure. Constrained layout fits every label but costs about half the
    drawing time: per-trial plots (hundreds per study) use ``margins`` instead, the study plots
    ``inch_margins`` worked out from their labels."""
    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def margins(
    fig: Figure,
    *,
    left: float = 0.08,
    right: float = 0.98,
    bottom: float = 0.13,
    top: float = 0.84,
    wspace: float = 0.25,
) -> None:
    """Fixed margins, as fractions of the figure, for figures made with ``constrained=False``."""
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, wspace=wspace)


def inch_margins(fig: Figure, *, left: float, right: float, bottom: float, top: float, wspace: float = 0.2) -> None:
    """Fixed margins in inches (the space for tick labels, axis labels, titles and colour bars, worked out from
    what a plot shows), for figures made with ``constrained=False``: the layout costs no drawing pass."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height, wspace=wspace
    )


_TEXT_TO_PATH = TextToPath()


def text_width(texts: Iterable[str], fontsize: float = RC["font.size"]) -> float:
    """Inches taken by the widest of ``texts`` at ``fontsize`` points, from the font's metrics (nothing is drawn;
    tick labels are drawn at ``font.size``)."""
    props = FontProperties(size=fontsize)
    widths = [_TEXT_TO_PATH.get_text_width_height_descent(text, props, ismath=False)[0] for text in texts]
    return max(widths, default=0.0) / 72.0


def decorate(ax: Axes, title: str, xlabel: str = "", ylabel: str = "", *, grid: bool = True) -> None:
    ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if grid:
        ax.grid(True, alpha=0.3, linewidth=0.6)


def note(ax: Axes, text: str, *, title: str = "") -> None:
    """Replace a plot by a centred explanation (no data, too little data...)."""
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="#444444", transform=ax.transAxes)


def save(fig: Figure, path: Path, dpi: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png", pil_kwargs={"compress_level": 3})
    fig.clear()
    return path


def drawn_or_note(draw: Callable[[], Path], path: Path, dpi: int) -> Path:
    """Run one plot function; if it raises, log it and save a PNG that says what went wrong, so one
    odd value never costs the whole report."""
    try:
        return draw()
    except Exception as exc:
        log.exception("plot %s failed", path.name)
        fig = figure(8, 3)
        note(fig.subplots(), f"this plot could not be drawn:\n{type(exc).__name__}: {exc}"[:300], title=path.stem)
        return save(fig, path, dpi)


def short(value: object, width: int = 18) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
