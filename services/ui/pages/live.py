"""Live: the job's trials, curves, alerts, resources and the running trial's network, refreshed in place."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.ui import charts, session
from services.ui.analysis import trials_frame
from services.ui.client import ApiClient, ApiProblem

GRID_TRIALS = 2_000
ALERTS_SHOWN = 20


def main() -> None:
    api = session.page_header("Live")
    if api is None:
        return
    job = session.chosen_job(api)
    if job is None:
        return
    st.query_params["job"] = job["job_id"]
    refresh = session.settings().refresh_seconds

    @st.fragment(run_every=refresh)
    def live() -> None:
        render(api, job["job_id"])

    live()


def render(api: ApiClient, job_id: str) -> None:
    try:
        job = api.job(job_id)
        trials = api.trials(job_id, limit=500, sort="number", order="desc")["items"]
        running = api.current_trial(job_id)
        focus = running or (trials[0] if trials else None)
        detail = api.trial(job_id, focus["number"]) if focus is not None and focus.get("number") is not None else None
        curves_of = detail
        if detail is not None and not detail["epochs"]:  # just started: show the latest trial with epochs meanwhile
            earlier = next((t for t in trials if t.get("epochs_trained") and t.get("number") is not None), None)
            curves_of = api.trial(job_id, earlier["number"]) if earlier is not None else detail
        trends = api.trends(job_id, epochs=False, max_alerts=ALERTS_SHOWN)
    except ApiProblem as exc:
        session.show_problem(exc)
        return
    counts: dict[str, int] = job.get("counts") or {}
    finished = sum(counts.get(s, 0) for s in ("completed", "pruned", "failed"))
    asked = (job.get("config") or {}).get("trials", "?")
    scores = [t["score"] for t in trials if t.get("score") is not None]
    top = st.columns(4)
    top[0].metric("State", job["state"])
    top[1].metric("Trials finished", f"{finished}/{asked}")
    top[2].metric("Running", counts.get("running", 0))
    top[3].metric("Best score", f"{max(scores):.4f}" if scores else "-")
    st.subheader("Trials")
    table = grid(trials)
    st.dataframe(table, hide_index=True, key="live_grid")
    if not table.empty:
        latest = table.iloc[-1]
        st.caption(
            f"{len(table)} trial row(s); latest: trial {latest['number']} {latest['state']}, "
            f"{latest['epochs']} epoch(s)"
        )
    history, curves = st.columns(2)
    with history:
        points = pd.DataFrame(trends["trials"])
        if not points.empty:
            frame = points.rename(columns={"best_score": "best"}).assign(number=points["number"])
            st.plotly_chart(charts.history(frame), key="live_history")
    with curves:
        if curves_of is not None and curves_of["epochs"]:
            title = f"trial {curves_of['trial']['number']} ({curves_of['trial']['state']})"
            st.plotly_chart(charts.learning_curves(curves_of["epochs"], title), key="live_curves")
        else:
            st.info("The first epoch's curves appear here as soon as it ends.")
    alerts_column, resources_column = st.columns(2)
    with alerts_column:
        st.subheader("Health alerts")
        alerts = trends["alerts"]
        if not alerts:
            st.caption("No alert so far.")
        for alert in reversed(alerts[-ALERTS_SHOWN:]):
            where = f" in {alert['layer']}" if alert.get("layer") else ""
            text = f"**{alert['kind']}**{where} (epoch {alert.get('epoch')}): {alert['message']}"
            (st.error if alert["severity"] == "critical" else st.warning)(text)
    with resources_column:
        st.subheader("Resources")
        resources(curves_of)
    drawn = detail if detail is not None and detail["layers"] else curves_of
    if drawn is not None and drawn["layers"]:
        st.subheader(f"Architecture of trial {drawn['trial']['number']}")
        last = drawn["epochs"][-1]["layers"] if drawn["epochs"] else []
        overlay = {layer["name"]: _overlay(layer) for layer in last}
        st.plotly_chart(charts.architecture(drawn["layers"], overlay=overlay), key="live_architecture")


def grid(trials: list[dict[str, Any]]) -> pd.DataFrame:
    frame = trials_frame(trials[:GRID_TRIALS])
    columns = ["number", "state", "score", "val_accuracy", "overall_health", "epochs", "duration_s"]
    return frame[columns].sort_values("number") if not frame.empty else pd.DataFrame(columns=columns)


def resources(detail: dict[str, Any] | None) -> None:
    if detail is None or not detail["epochs"]:
        st.caption("Epoch time, throughput and memory appear after the first epoch.")
        return
    last = detail["epochs"][-1]
    cells = st.columns(3)
    cells[0].metric("Epoch time", f"{last.get('epoch_seconds') or 0:.2f} s")
    cells[1].metric("Samples/s", f"{last.get('samples_per_second') or 0:,.0f}")
    cells[2].metric("Memory (RSS)", f"{last.get('memory_rss_mb') or 0:,.0f} MB")
    gpu = [e.get("gpu_memory_mb") for e in detail["epochs"] if e.get("gpu_memory_mb")]
    st.caption(f"GPU memory: {gpu[-1]:.0f} MB" if gpu else "GPU: none reported by this trainer")


def _overlay(layer: dict[str, Any]) -> dict[str, Any]:
    keys = ("gradient_norm", "dead_fraction", "saturated_fraction")
    return {key: layer[key] for key in keys if layer.get(key) is not None}


main()
