"""Plotly figures of the panel: curves, history, parallel coordinates, Pareto front, architecture diagram."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from services.ui.analysis import best_so_far, overfitting_gap, param_columns, pareto_front

KIND_COLOURS = {
    "Conv2D": "#4c78a8",
    "Dense": "#f58518",
    "LSTM": "#54a24b",
    "Bidirectional": "#54a24b",
    "Embedding": "#b279a2",
    "MaxPooling2D": "#9d755d",
    "AveragePooling2D": "#9d755d",
    "GlobalAveragePooling2D": "#9d755d",
    "Flatten": "#bab0ac",
    "Dropout": "#e45756",
    "BatchNormalization": "#72b7b2",
    "Activation": "#eeca3b",
}
HEIGHT = 320
SHORT_KINDS = {
    "Conv2D": "Conv",
    "MaxPooling2D": "MaxPool",
    "AveragePooling2D": "AvgPool",
    "GlobalAveragePooling2D": "GAP",
    "Activation": "Act",
    "Dropout": "Drop",
    "Flatten": "Flat",
    "BatchNormalization": "BN",
    "Bidirectional": "BiRNN",
    "Embedding": "Embed",
    "RandomTranslation": "Shift",
    "RandomZoom": "Zoom",
}


def learning_curves(epochs: list[dict[str, Any]], title: str = "") -> go.Figure:
    """Loss and accuracy per epoch; epochs where validation loss rises as training loss falls are shaded."""
    figure = go.Figure()
    x = [e["epoch"] for e in epochs]
    for key, dash in (("loss", None), ("val_loss", "dot"), ("accuracy", None), ("val_accuracy", "dot")):
        axis = "y2" if "accuracy" in key else "y"
        figure.add_trace(
            go.Scatter(
                x=x, y=[e.get(key) for e in epochs], name=key, line={"dash": dash}, yaxis=axis, mode="lines+markers"
            )
        )
    for first, last in overfitting_gap(epochs):
        figure.add_vrect(x0=first, x1=last, fillcolor="red", opacity=0.12, line_width=0, annotation_text="overfitting")
    figure.update_layout(
        title=title,
        height=HEIGHT,
        xaxis_title="epoch",
        yaxis={"title": "loss"},
        yaxis2={"title": "accuracy", "overlaying": "y", "side": "right", "range": [0, 1]},
        margin={"t": 40, "b": 30},
    )
    return figure


def overlaid_curves(curves: dict[str, list[dict[str, Any]]], key: str = "val_accuracy") -> go.Figure:
    """One line per trial of ``key`` over epochs (the compare view)."""
    figure = go.Figure()
    for label, epochs in curves.items():
        figure.add_trace(go.Scatter(x=[e["epoch"] for e in epochs], y=[e.get(key) for e in epochs], name=label))
    figure.update_layout(height=HEIGHT, xaxis_title="epoch", yaxis_title=key, margin={"t": 30, "b": 30})
    return figure


def history(frame: pd.DataFrame) -> go.Figure:
    """Score per trial and the best so far."""
    series = best_so_far(frame)
    figure = go.Figure()
    figure.add_trace(go.Scattergl(x=series["number"], y=series["score"], mode="markers", name="score"))
    figure.add_trace(go.Scatter(x=series["number"], y=series["best"], mode="lines", name="best so far"))
    figure.update_layout(height=HEIGHT, xaxis_title="trial", yaxis_title="score", margin={"t": 30, "b": 30})
    return figure


def parallel_coordinates(frame: pd.DataFrame, colour: str = "score") -> go.Figure:
    """One line per finished trial through its numeric parameters (categories as codes) and the score."""
    data = frame.dropna(subset=[colour])
    dimensions = []
    for column in [*param_columns(data), "val_accuracy", "overall_health", colour]:
        values = data[column]
        if values.isna().all():
            continue
        if pd.api.types.is_numeric_dtype(values):
            dimensions.append({"label": column.removeprefix("param_"), "values": values.astype(float)})
        else:
            labels = sorted(values.astype(str).unique())
            codes = values.astype(str).map({label: i for i, label in enumerate(labels)})
            dimensions.append(
                {
                    "label": column.removeprefix("param_"),
                    "values": codes,
                    "tickvals": list(range(len(labels))),
                    "ticktext": labels,
                }
            )
    line = {"color": data[colour].astype(float), "colorscale": "Viridis", "showscale": True}
    figure = go.Figure(go.Parcoords(line=line, dimensions=dimensions))
    figure.update_layout(height=HEIGHT + 60, margin={"t": 50, "b": 30, "l": 60, "r": 60})
    return figure


def objective_vs_health(frame: pd.DataFrame) -> go.Figure:
    """Validation accuracy against overall health; the Pareto front (best on both) highlighted."""
    data = frame.dropna(subset=["val_accuracy", "overall_health"])
    front = pareto_front(data, "val_accuracy", "overall_health")
    figure = go.Figure()
    figure.add_trace(
        go.Scattergl(
            x=data["val_accuracy"],
            y=data["overall_health"],
            mode="markers",
            name="trials",
            text=[f"trial {n}" for n in data["number"]],
            marker={"color": "#9ecae9"},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=front["val_accuracy"],
            y=front["overall_health"],
            mode="lines+markers",
            name="Pareto front",
            text=[f"trial {n}" for n in front["number"]],
            marker={"color": "#d62728", "size": 10},
        )
    )
    figure.update_layout(height=HEIGHT, xaxis_title="val_accuracy", yaxis_title="overall_health", margin={"t": 30})
    return figure


def importance_bars(importance: pd.Series) -> go.Figure:
    figure = go.Figure(go.Bar(x=importance.values, y=list(importance.index), orientation="h"))
    figure.update_layout(
        height=HEIGHT, xaxis_title="importance (share)", margin={"t": 30}, yaxis={"autorange": "reversed"}
    )
    return figure


def health_components(components: dict[str, dict[str, float]]) -> go.Figure:
    """Health components per trial as grouped bars (one group per component)."""
    figure = go.Figure()
    for label, values in components.items():
        figure.add_trace(go.Bar(x=list(values), y=list(values.values()), name=label))
    figure.update_layout(
        height=HEIGHT, yaxis={"range": [0, 1], "title": "component"}, barmode="group", margin={"t": 30}
    )
    return figure


def architecture(
    layers: list[dict[str, Any]], *, title: str = "", overlay: dict[str, dict[str, Any]] | None = None
) -> go.Figure:
    """The network as a row of blocks: one per layer, as tall as log2 of its width (units or filters;
    weightless layers take their output's last axis), coloured by kind; output shape, parameters and
    activation on hover and under the block; ``overlay`` adds per-layer telemetry (gradient norm,
    dead fraction) to the hover text."""
    figure = go.Figure()
    overlay = overlay or {}
    xs, ys, texts, hovers = [], [], [], []
    for index, layer in enumerate(layers):
        width = layer.get("units") or (layer.get("output_shape") or [1])[-1] or 1
        height = 0.6 + math.log2(max(1, int(width)))
        colour = KIND_COLOURS.get(layer["kind"], "#cccccc")
        figure.add_shape(
            type="rect",
            x0=index - 0.4,
            x1=index + 0.4,
            y0=-height / 2,
            y1=height / 2,
            fillcolor=colour,
            line={"color": "#333333", "width": 1},
            opacity=0.85,
        )
        shape = "x".join("?" if d is None else str(d) for d in layer.get("output_shape") or [])
        stats = overlay.get(layer["name"], {})
        extra = "".join(f"<br>{key}: {value:.3g}" for key, value in stats.items() if isinstance(value, int | float))
        hovers.append(
            f"<b>{layer['name']}</b> ({layer['kind']})<br>output: {shape or '-'}"
            f"<br>params: {layer.get('parameter_count', 0):,}"
            f"<br>activation: {layer.get('activation') or '-'}<br>{layer.get('detail') or ''}{extra}"
        )
        xs.append(index)
        ys.append(height / 2 + 0.4)
        label = SHORT_KINDS.get(layer["kind"], layer["kind"])
        if layer.get("activation") and layer["kind"] == "Activation":
            label = str(layer["activation"])
        texts.append(f"{label}<br>{width if layer.get('units') else ''}<br>{shape}")
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="text", text=texts, textposition="top center", hoverinfo="skip"))
    figure.add_trace(
        go.Scatter(
            x=xs, y=[0] * len(xs), mode="markers", marker={"opacity": 0, "size": 30}, hovertext=hovers, hoverinfo="text"
        )
    )
    figure.update_layout(
        title=title,
        height=HEIGHT + 80,
        showlegend=False,
        xaxis={"visible": False, "range": [-1, max(len(layers), 1)]},
        yaxis={"visible": False},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
    )
    return figure
