"""Jobs: every job with state, progress, best score, start and duration; filter, open, stop."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.ui import session
from services.ui.client import ApiClient, ApiProblem

STATES = ["all", "running", "completed", "stopped", "failed"]


def main() -> None:
    api = session.page_header("Jobs")
    if api is None:
        return
    state = st.selectbox("State", STATES, key="jobs_state", help="Show only the jobs in this state.")
    try:
        summary = api.job_summaries(None if state == "all" else state)
    except ApiProblem as exc:
        session.show_problem(exc)
        return
    jobs = summary["items"]
    st.caption(f"{summary['total']} job(s){'' if state == 'all' else f' {state}'}")
    if not jobs:
        st.info("No jobs here yet. Start one on the New study page.")
        st.page_link("pages/new_study.py", label="New study")
        return
    st.dataframe(jobs_table(jobs), hide_index=True, key="jobs_table")
    names = {job["job_id"]: f"{job['name']} · {job['state']}" for job in jobs}
    chosen = st.selectbox("Open a job", list(names), format_func=names.__getitem__, key="jobs_open")
    if chosen is None:
        return
    links = st.columns(4)
    for column, (page, label) in zip(
        links,
        [("pages/live.py", "Live"), ("pages/explore.py", "Explore"), ("pages/architecture.py", "Architecture"),
         ("pages/export.py", "Export")],
        strict=True,
    ):  # fmt: skip
        with column:
            st.page_link(page, label=label, query_params={"job": chosen})
    job = next(j for j in jobs if j["job_id"] == chosen)
    if job["state"] in ("running", "submitted"):
        stop_with_confirmation(api, job)


def jobs_table(jobs: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for job in jobs:
        total = job.get("total_trials")
        rows.append(
            {
                "name": job["name"],
                "state": job["state"],
                "progress": f"{job['finished_trials']}/{total if total is not None else '?'}",
                "best score": job.get("best_score"),
                "dataset": job.get("dataset"),
                "mode": job.get("mode"),
                "started": pd.to_datetime(job.get("started_at")),
                "duration": _duration(job.get("duration_seconds")),
                "job id": job["job_id"],
            }
        )
    return pd.DataFrame(rows)


def stop_with_confirmation(api: ApiClient, job: dict[str, Any]) -> None:
    key = f"confirm_stop_{job['job_id']}"
    if not st.session_state.get(key):
        if st.button(f"Stop {job['name']}", key=f"stop_{job['job_id']}"):
            st.session_state[key] = True
            st.rerun()
        return
    st.warning(f"Stop **{job['name']}**? Running trials end at their next boundary; the results are still written.")
    confirm, cancel = st.columns(2)
    if confirm.button("Yes, stop it", key=f"stop_yes_{job['job_id']}", type="primary"):
        st.session_state[key] = False
        try:
            api.stop(job["job_id"])
        except ApiProblem as exc:
            session.show_problem(exc)
            return
        st.success(f"Stop requested for {job['name']}.")
    if cancel.button("Cancel", key=f"stop_no_{job['job_id']}"):
        st.session_state[key] = False
        st.rerun()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {rest:02d}s"


main()
