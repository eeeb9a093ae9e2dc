"""Architecture: a trial's network as blocks (sized by units/filters) with shapes, parameters, activations and
the trial's metrics; two trials side by side."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.ui import charts, session
from services.ui.client import ApiClient, ApiProblem


def main() -> None:
    api = session.page_header("Architecture")
    if api is None:
        return
    job = session.chosen_job(api)
    if job is None:
        return
    st.query_params["job"] = job["job_id"]
    try:
        trials = api.trials(job["job_id"], limit=500, sort="score", order="desc")["items"]
    except ApiProblem as exc:
        session.show_problem(exc)
        return
    numbers = [t["number"] for t in trials if t.get("number") is not None]
    if not numbers:
        st.info("No trial has started yet.")
        return
    default = numbers[:2] if len(numbers) > 1 else numbers
    picked = st.multiselect("Trials (one, or two side by side)", numbers, default=default, max_selections=2, key="arch")
    columns = st.columns(len(picked) or 1)
    for column, number in zip(columns, picked, strict=False):
        with column:
            show(api, job["job_id"], int(number))


def show(api: ApiClient, job_id: str, number: int) -> None:
    try:
        detail = api.trial(job_id, number)
    except ApiProblem as exc:
        session.show_problem(exc)
        return
    trial = detail["trial"]
    st.subheader(f"Trial {number}")
    metrics = st.columns(4)
    metrics[0].metric("Score", _fmt(trial.get("score")))
    metrics[1].metric("Val accuracy", _fmt(trial.get("val_accuracy")))
    metrics[2].metric("Health", _fmt(trial.get("overall_health")))
    metrics[3].metric("Parameters", f"{trial.get('parameter_count') or 0:,}")
    layers = detail["layers"]
    if not layers:
        st.info(trial.get("architecture") or "This trial's trainer sent no layer list.")
        return
    last = detail["epochs"][-1]["layers"] if detail["epochs"] else []
    overlay = {
        layer["name"]: {k: layer[k] for k in ("gradient_norm", "dead_fraction") if layer.get(k) is not None}
        for layer in last
    }
    title = f"score {_fmt(trial.get('score'))} · val_acc {_fmt(trial.get('val_accuracy'))}"
    st.plotly_chart(charts.architecture(layers, title=title, overlay=overlay), key=f"arch_{number}")
    st.dataframe(layer_table(layers), hide_index=True, key=f"arch_table_{number}")


def layer_table(layers: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "layer": layer["name"],
                "kind": layer["kind"],
                "output": "x".join("?" if d is None else str(d) for d in layer.get("output_shape") or []),
                "units/filters": layer.get("units"),
                "activation": layer.get("activation") or "",
                "params": layer.get("parameter_count", 0),
                "detail": layer.get("detail") or "",
            }
            for layer in layers
        ]
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


main()
