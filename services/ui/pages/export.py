"""Export: the results ZIP and the files inside it (trials.csv, best_params.yaml, the best model), and the
Explore page's filtered table as CSV or JSON."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import streamlit as st

from services.ui import session
from services.ui.client import ApiNotFound, ApiProblem

MEMBERS = {
    "trials.csv": "text/csv",
    "best_params.yaml": "application/yaml",
    "best_model.keras": "application/octet-stream",
    "report.html": "text/html",
}


def main() -> None:
    api = session.page_header("Export")
    if api is None:
        return
    job = session.chosen_job(api)
    if job is None:
        return
    st.query_params["job"] = job["job_id"]
    st.subheader("Results")
    try:
        bundle = api.download(job["job_id"])
    except ApiNotFound:
        st.info(f"The results of {job['name']} are not ready yet ({job['state']}): they are written when it ends.")
        bundle = None
    except ApiProblem as exc:
        session.show_problem(exc)
        bundle = None
    if bundle is not None:
        st.session_state["export_zip"] = bundle
        st.download_button("Results ZIP", bundle, f"{job['name']}.zip", "application/zip", key="zip", type="primary")
        members = unpack(bundle)
        st.session_state["export_members"] = sorted(members)
        for name, mime in MEMBERS.items():
            if name in members:
                st.download_button(name, members[name], name, mime, key=f"member_{name}")
            else:
                st.caption(f"{name}: not in this study's results")
    st.subheader("Filtered table from Explore")
    shown = st.session_state.get("explore_filtered")
    if not isinstance(shown, pd.DataFrame) or st.session_state.get("explore_job") != job["job_id"]:
        st.caption("Open this job on the Explore page and filter its trials; the table can then be saved here.")
        st.page_link("pages/explore.py", label="Explore", query_params={"job": job["job_id"]})
        return
    st.caption(f"{len(shown):,} trials")
    csv_bytes = shown.to_csv(index=False).encode()
    json_bytes = shown.to_json(orient="records").encode()
    st.session_state["export_filtered"] = {"csv": csv_bytes, "json": json_bytes}
    left, right = st.columns(2)
    left.download_button("Filtered trials (CSV)", csv_bytes, "trials_filtered.csv", "text/csv", key="filtered_csv")
    right.download_button("Filtered trials (JSON)", json_bytes, "trials_filtered.json", "application/json")


def unpack(bundle: bytes) -> dict[str, bytes]:
    """The ZIP's files by base name (the bundle keeps them under the study's folder)."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {
            info.filename.rsplit("/", 1)[-1]: archive.read(info)
            for info in archive.infolist()
            if not info.is_dir() and info.filename.rsplit("/", 1)[-1] in MEMBERS
        }


main()
