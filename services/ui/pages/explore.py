"""Explore: filter and sort the trials, importance, parallel coordinates, objective vs health, history,
each trial's health, and a side-by-side comparison of 2-4 trials."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.ui import charts, session
from services.ui.analysis import Filters, apply_filters, importance, param_columns, trials_frame
from services.ui.client import ApiClient, ApiProblem

SORTABLE = ["number", "score", "val_accuracy", "overall_health", "duration_s", "epochs"]
CATEGORY_LIMIT = 20


@st.cache_data(ttl=30, show_spinner="Loading trials…", max_entries=8)
def load_trials(_api: ApiClient, job_id: str, version: str, at_most: int) -> pd.DataFrame:
    """Every trial of the job as a table; ``version`` (the counts per state) invalidates the cache."""
    return trials_frame(_api.all_trials(job_id, at_most=at_most))


def main() -> None:
    api = session.page_header("Explore")
    if api is None:
        return
    job = session.chosen_job(api)
    if job is None:
        return
    st.query_params["job"] = job["job_id"]
    version = repr(sorted((job.get("counts") or {}).items()))
    try:
        frame = load_trials(api, job["job_id"], version, session.settings().max_trials)
    except ApiProblem as exc:
        session.show_problem(exc)
        return
    if frame.empty:
        st.info("This job has no trials yet.")
        return
    shown = apply_filters(frame, filters(frame))
    st.session_state["explore_filtered"] = shown
    st.session_state["explore_job"] = job["job_id"]
    st.caption(f"{len(shown):,} of {len(frame):,} trials")
    st.dataframe(shown, hide_index=True, key="explore_table")
    downloads = st.columns(2)
    downloads[0].download_button("Filtered table (CSV)", shown.to_csv(index=False), "trials_filtered.csv", "text/csv")
    downloads[1].download_button(
        "Filtered table (JSON)", shown.to_json(orient="records"), "trials_filtered.json", "application/json"
    )
    tabs = st.tabs(["Importance", "Parallel coordinates", "Objective vs health", "History", "Trial health", "Compare"])
    with tabs[0]:
        weights = importance(shown)
        if weights.empty:
            st.caption("Needs finished trials whose parameters vary.")
        else:
            st.plotly_chart(charts.importance_bars(weights), key="explore_importance")
            st.caption("Importance: |Spearman rank correlation| of each parameter with the score, as a share.")
    with tabs[1]:
        if shown["score"].notna().any():
            st.plotly_chart(charts.parallel_coordinates(shown), key="explore_parallel")
    with tabs[2]:
        st.plotly_chart(charts.objective_vs_health(shown), key="explore_pareto")
        st.caption("Red: the Pareto front, trials no other trial beats on both accuracy and health.")
    with tabs[3]:
        st.plotly_chart(charts.history(shown), key="explore_history")
    with tabs[4]:
        trial_health(api, job["job_id"], shown)
    with tabs[5]:
        compare(api, job["job_id"], shown)


def filters(frame: pd.DataFrame) -> Filters:
    with st.expander("Filters and sorting", expanded=False):
        states = sorted(str(s) for s in frame["state"].dropna().unique())
        chosen = Filters(states=st.multiselect("State", states, key="filter_states"))
        columns = st.columns(3)
        for column, name in zip(columns, ("score", "val_accuracy", "overall_health"), strict=True):
            values = frame[name].dropna()
            if len(values) and values.min() < values.max():
                low, high = float(values.min()), float(values.max())
                picked = column.slider(name, low, high, (low, high), key=f"filter_{name}")
                if picked != (low, high):
                    setattr(chosen, name, picked)
        for name in param_columns(frame):
            options = frame[name].dropna().unique()
            if 1 < len(options) <= CATEGORY_LIMIT:
                picked_values = st.multiselect(
                    name.removeprefix("param_"), sorted(options, key=str), key=f"filter_{name}"
                )
                if picked_values:
                    chosen.params[name] = picked_values
        sort_columns = st.columns(2)
        chosen.sort_by = sort_columns[0].selectbox("Sort by", SORTABLE, key="sort_by")
        chosen.descending = sort_columns[1].toggle("Descending", key="sort_desc")
    return chosen


def trial_health(api: ApiClient, job_id: str, shown: pd.DataFrame) -> None:
    numbers = [int(n) for n in shown["number"].dropna()]
    if not numbers:
        return
    number = st.selectbox("Trial", numbers, key="health_trial")
    detail = _detail(api, job_id, number)
    if detail is None:
        return
    health = detail["health"]
    if health["components"]:
        st.plotly_chart(charts.health_components({f"trial {number}": health["components"]}), key="health_bars")
        for name, line in health["explanations"].items():
            st.markdown(f"- **{name}**: {line}")
    else:
        st.caption("No health assessment yet.")
    if detail["epochs"]:
        st.plotly_chart(charts.learning_curves(detail["epochs"], f"trial {number}"), key="health_curves")
    for alert in detail["alerts"]:
        st.warning(f"{alert['kind']} ({alert['severity']}): {alert['message']}")


def compare(api: ApiClient, job_id: str, shown: pd.DataFrame) -> None:
    numbers = [int(n) for n in shown["number"].dropna()]
    picked = st.multiselect("Trials to compare (2-4)", numbers, max_selections=4, key="compare_trials")
    if len(picked) < 2:
        st.caption("Pick two to four trials.")
        return
    details = {n: d for n in picked if (d := _detail(api, job_id, n)) is not None}
    st.session_state["compare_details"] = details
    st.dataframe(comparison_table(details), key="compare_table")
    components = {f"trial {n}": d["health"]["components"] for n, d in details.items() if d["health"]["components"]}
    if components:
        st.plotly_chart(charts.health_components(components), key="compare_health")
    curves = {f"trial {n}": d["epochs"] for n, d in details.items()}
    left, right = st.columns(2)
    left.plotly_chart(charts.overlaid_curves(curves, "val_accuracy"), key="compare_val_accuracy")
    right.plotly_chart(charts.overlaid_curves(curves, "val_loss"), key="compare_val_loss")


def comparison_table(details: dict[int, dict[str, Any]]) -> pd.DataFrame:
    """One column per trial: its parameters, metrics and health components."""
    columns: dict[str, dict[str, Any]] = {}
    for number, detail in details.items():
        trial = detail["trial"]
        column: dict[str, Any] = {f"param {k}": v for k, v in (trial.get("params") or {}).items()}
        column |= {
            "state": trial["state"],
            "score": trial.get("score"),
            "val_accuracy": trial.get("val_accuracy"),
            "overall_health": trial.get("overall_health"),
            "parameters": trial.get("parameter_count"),
            "epochs": trial.get("epochs_trained"),
        }
        column |= {f"health {k}": v for k, v in detail["health"]["components"].items()}
        columns[f"trial {number}"] = column
    return pd.DataFrame(columns).astype(str)


def _detail(api: ApiClient, job_id: str, number: int) -> dict[str, Any] | None:
    try:
        return api.trial(job_id, number)
    except ApiProblem as exc:
        session.show_problem(exc)
        return None


main()
