"""The control panel's entry script: ``streamlit run services/ui/app.py`` (``hpo ui`` does it for you)."""

from __future__ import annotations

import streamlit as st

from services.ui import session

PAGES = [
    st.Page("pages/jobs.py", title="Jobs", url_path="jobs", default=True),
    st.Page("pages/new_study.py", title="New study", url_path="new"),
    st.Page("pages/live.py", title="Live", url_path="live"),
    st.Page("pages/explore.py", title="Explore", url_path="explore"),
    st.Page("pages/architecture.py", title="Architecture", url_path="architecture"),
    st.Page("pages/export.py", title="Export", url_path="export"),
]


def main() -> None:
    st.set_page_config(page_title="hpo control panel", layout="wide")
    navigation = st.navigation(PAGES)
    session.sidebar()
    navigation.run()


main()
