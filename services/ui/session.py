"""What every page shares: the API client of this browser session, the connection banner, the chosen job."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.ui.client import ApiAuthError, ApiClient, ApiNotFound, ApiProblem, ApiUnreachable
from services.ui.settings import UiSettings

JOBS_PAGE = "pages/jobs.py"


def settings() -> UiSettings:
    found = st.session_state.get("_ui_settings")
    if not isinstance(found, UiSettings):
        found = UiSettings()
        st.session_state["_ui_settings"] = found
    return found


def sidebar() -> None:
    """The API address and, unless the environment gave one, a password field for the token (never shown)."""
    config = settings()
    with st.sidebar:
        st.text_input("API URL", value=config.api_url, key="api_url", help="Where the hpo API runs.")
        if config.api_token is None:
            st.text_input(
                "API token",
                type="password",
                key="api_token",
                help="Asked once per browser session; or set HPO_API_TOKEN before `hpo ui`.",
            )
        else:
            st.caption("API token: from HPO_API_TOKEN")


def client() -> ApiClient:
    """This session's client, rebuilt when the URL or the token changes."""
    config = settings()
    url = str(st.session_state.get("api_url") or config.api_url).strip()
    token = config.api_token.get_secret_value() if config.api_token is not None else st.session_state.get("api_token")
    key = (url, hash(token))
    current = st.session_state.get("_api_client")
    if isinstance(current, ApiClient) and st.session_state.get("_api_client_key") == key:
        return current
    if isinstance(current, ApiClient):
        current.close()
    made = ApiClient(url, token or None)
    st.session_state["_api_client"], st.session_state["_api_client_key"] = made, key
    return made


def connected(api: ApiClient) -> bool:
    """Check the API and the token; on a problem show a banner that says which and how to fix it."""
    try:
        api.health()
        api.check_token()
    except ApiUnreachable as exc:
        st.error(f"**API unreachable.** {exc}. How to fix: {exc.fix}.")
        return False
    except ApiAuthError as exc:
        st.error(f"**Wrong or missing API token.** {exc}. How to fix: {exc.fix}.")
        return False
    except ApiProblem as exc:
        st.error(f"**The API has a problem.** {exc}")
        return False
    return True


def show_problem(exc: ApiProblem) -> None:
    """A failed call as one line (never a traceback)."""
    fix = f" How to fix: {exc.fix}." if exc.fix else ""
    st.error(f"{exc}.{fix}")


def chosen_job(api: ApiClient, *, label: str = "Job") -> dict[str, Any] | None:
    """The job named by ``?job=`` (or picked here); an unknown id is a message with a link back to Jobs."""
    job_id = st.query_params.get("job")
    if not job_id:
        try:
            jobs = api.job_summaries(limit=50)["items"]
        except ApiProblem as exc:
            show_problem(exc)
            return None
        if not jobs:
            st.info("No jobs yet: start one on the New study page.")
            st.page_link("pages/new_study.py", label="New study")
            return None
        names = {job["job_id"]: f"{job['name']} ({job['state']})" for job in jobs}
        job_id = st.selectbox(label, list(names), format_func=names.__getitem__, key="job_choice")
        if job_id is None:
            return None
    try:
        return api.job(job_id)
    except ApiNotFound:
        st.error(f"There is no job with id `{job_id}` (it may have been deleted, or the link is wrong).")
        st.page_link(JOBS_PAGE, label="Back to Jobs")
        return None
    except ApiProblem as exc:
        show_problem(exc)
        return None


def page_header(title: str) -> ApiClient | None:
    """The page title, the sidebar and the connection check; None when the page cannot go on."""
    st.title(title)
    api = client()
    return api if connected(api) else None
