"""The control panel on a 10,000-trial study: how long the Jobs and Explore pages take to load.

Seeds a Postgres read model with one study of ``--trials`` trials (``read_model_seed``), serves it with the
API in a child process (as ``api_latency`` does), and runs the panel's pages with Streamlit's AppTest
against it: each page's full script run (every API call it makes, the tables and the Plotly figures it
builds), after one warm-up run that imports Streamlit and Plotly. Explore starts with a cold trials cache
each time (it loads every trial, a page of 500 at a time). Prints the median of ``--runs`` loads:
``ui_jobs_load_seconds=`` and ``ui_explore_load_seconds=`` (goal: under 3 s each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for ``benchmarks.*``

from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from benchmarks.api_latency import TOKEN, api_server
from benchmarks.read_model_seed import ADMIN_URL, seed_study, seeded_database
from services.ui.settings import UiSettings

APP = Path(__file__).resolve().parent.parent / "services" / "ui" / "app.py"


def load_seconds(api_url: str, page: str, job_id: str, *, cold_cache: bool) -> float:
    """One load of ``page`` on ``job_id``: the whole script run, checked to have shown no error."""
    import streamlit as st

    if cold_cache:
        st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["_ui_settings"] = UiSettings(api_url=api_url, api_token=SecretStr(TOKEN))
    at.query_params["job"] = job_id
    at.switch_page(page)
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    problems = [str(e.value) for e in at.error] + [str(e.value) for e in at.exception]
    if problems:
        raise SystemExit(f"{page} showed an error: {problems[0]}")
    if not at.dataframe:
        raise SystemExit(f"{page} showed no table")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("HPO_BENCH_POSTGRES_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    study_id = "bench-" + uuid.uuid4().hex[:8]
    with seeded_database(args.admin_url, "ui") as url:
        seconds = seed_study(url, study_id, args.trials, epochs_per_trial=2, layers=True)
        print(f"seeded study {study_id} with {args.trials} trials x 2 epochs in {seconds:.1f} s", flush=True)
        with api_server(url) as server:
            load_seconds(server.base, "pages/jobs.py", study_id, cold_cache=True)  # warm-up: imports
            jobs = [load_seconds(server.base, "pages/jobs.py", study_id, cold_cache=True) for _ in range(args.runs)]
            explore = [
                load_seconds(server.base, "pages/explore.py", study_id, cold_cache=True) for _ in range(args.runs)
            ]
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(f"ui_trials={args.trials}")
    print(f"ui_jobs_load_seconds={statistics.median(jobs):.2f}")
    print(f"ui_explore_load_seconds={statistics.median(explore):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
