"""Every page of the control panel (AppTest) against a live API with a real, tiny study."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from services.ui.settings import UiSettings
from tests.support.ports import free_port
from tests.support.waiting import eventually
from tests.unit.ui.conftest import APP, PAGE_TIMEOUT, Panel

PAGES = ["pages/jobs.py", "pages/new_study.py", "pages/live.py", "pages/explore.py", "pages/architecture.py",
         "pages/export.py"]  # fmt: skip


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


TABLES = {
    "jobs_table": "job id",
    "live_grid": "epochs",
    "explore_table": "param_filters",
    "compare_table": "trial 0",
    "arch_table_0": "units/filters",
    "arch_table_1": "units/filters",
}


def _tables(at: AppTest, key: str) -> list[pd.DataFrame]:
    """The page's tables that are ``key`` (AppTest does not expose a dataframe's key: known by a column)."""
    return [d.value for d in at.dataframe if TABLES[key] in d.value.columns]


def _frame(at: AppTest, key: str) -> pd.DataFrame:
    found = _tables(at, key)
    assert found, f"no table {key!r} on the page; errors: {_errors(at)}"
    return found[-1] if key == "arch_table_1" else found[0]


def test_jobs_lists_progress_and_best_score_and_filters_by_state(panel: Panel) -> None:
    at = panel.page()
    assert not at.exception
    table = _frame(at, "jobs_table")
    row = table[table["job id"] == panel.done_job].iloc[0]
    assert row["state"] == "completed"
    assert row["progress"] == "2/2"
    assert 0 < float(row["best score"]) <= 1
    at.selectbox(key="jobs_state").select("failed").run()
    assert not _tables(at, "jobs_table")
    assert any("No jobs here" in str(i.value) for i in at.info)
    at.selectbox(key="jobs_state").select("completed").run()
    assert panel.done_job in set(_frame(at, "jobs_table")["job id"])


def test_every_page_says_whether_the_api_is_unreachable_or_the_token_wrong(panel: Panel) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for page in PAGES:
        at = AppTest.from_file(str(APP), default_timeout=PAGE_TIMEOUT)
        at.session_state["_ui_settings"] = UiSettings(api_url=nowhere, api_token=SecretStr("x" * 40))
        at.switch_page(page).run()
        assert not at.exception, page
        assert any("API unreachable" in e and "How to fix" in e for e in _errors(at)), page
        at.session_state["_ui_settings"] = UiSettings(api_url=panel.live.url, api_token=SecretStr("wrong" * 8))
        at.run()
        assert any("Wrong or missing API token" in e and "HPO_API_TOKEN" in e for e in _errors(at)), _errors(at)
        shown = [str(e.value) for e in (*at.error, *at.markdown, *at.caption, *at.text_input)]
        assert not any("wrong" * 8 in text for text in shown), page  # the token is never shown


def test_an_unknown_job_id_says_so_and_links_back_to_jobs(panel: Panel) -> None:
    for page in ("pages/live.py", "pages/explore.py", "pages/architecture.py", "pages/export.py"):
        at = panel.page(page, job="no-such-job")
        assert any("no job with id `no-such-job`" in e for e in _errors(at)), page
        links = [str(getattr(link, "proto", "")) for link in at.get("page_link")]
        assert len(links) == 1 and "Back to Jobs" in links[0] and "jobs" in links[0], page


def test_presets_fill_the_form_and_the_payload_follows_the_fields(panel: Panel) -> None:
    at = panel.page("pages/new_study.py")
    assert not at.exception
    assert "digits" in at.selectbox(key="form_dataset").options[0] or at.selectbox(key="form_dataset").value == "digits"
    at.selectbox(key="preset").select("quick look").run()
    at.button(key="apply_preset").click().run()
    payload = at.session_state["last_payload"]
    assert payload["trials"] == 5 and payload["max_epochs"] == 2 and payload["max_samples"] == 500
    assert payload["mode"] == "simple" and "health_weight" not in payload
    assert "overall_health" not in at.selectbox(key="form_optimize_for").options  # health-only: not in simple mode
    at.radio(key="form_mode").set_value("health").run()
    assert "overall_health" in at.selectbox(key="form_optimize_for").options
    at.slider(key="form_health_weight").set_value(0.5).run()
    at.number_input(key="form_seed").set_value(3).run()
    at.text_area(key="form_search_space").input("dense_units: {type: categorical, choices: [16, 32]}").run()
    payload = at.session_state["last_payload"]
    assert payload == {
        "dataset": "digits",
        "mode": "health",
        "optimize_for": "val_accuracy",
        "trials": 5,
        "max_epochs": 2,
        "parallelism": 1,
        "sampler": "tpe",
        "pruner": "none",
        "health_weight": 0.5,
        "seed": 3,
        "max_samples": 500,
        "search_space": [{"name": "dense_units", "type": "categorical", "choices": [16, 32]}],
    }


def test_the_form_is_checked_before_sending_and_shows_the_apis_own_422(panel: Panel) -> None:
    at = panel.page("pages/new_study.py")
    at.number_input(key="form_max_samples").set_value(5).run()
    assert any("greater than or equal to 10" in e for e in _errors(at))
    assert at.button(key="launch").disabled  # never sent while a field is wrong
    at.number_input(key="form_max_samples").set_value(100).run()
    at.text_area(key="form_search_space").input("filters: [unclosed").run()
    assert any("not valid YAML" in e for e in _errors(at))
    at.text_area(key="form_search_space").input("").run()
    at.text_input(key="form_study_name").input("n" * 300).run()  # the API limits the length, the form does not
    assert not at.button(key="launch").disabled
    at.button(key="launch").click().run()
    assert at.session_state["api_problems"]["study_name"]
    assert any("at most" in e or "String should match" in e for e in _errors(at))


def test_launching_from_the_form_opens_the_new_jobs_live_page(panel: Panel) -> None:
    at = panel.page("pages/new_study.py")
    at.number_input(key="form_trials").set_value(1).run()
    at.number_input(key="form_max_epochs").set_value(1).run()
    at.number_input(key="form_max_samples").set_value(100).run()
    at.button(key="launch").click().run()
    job_id = at.session_state["launched_job"]
    try:
        assert at.query_params["job"] == [job_id] or at.query_params["job"] == job_id
        assert [t.value for t in at.title] == ["Live"]
        assert not _errors(at)
    finally:
        panel.live.stop(job_id)


async def test_live_refreshes_as_trials_advance_and_jobs_stops_the_job_after_confirmation(panel: Panel) -> None:
    job_id = panel.live.start_study(trials=3, max_epochs=2)
    at = panel.page("pages/live.py", job=job_id)
    seen: list[pd.DataFrame] = []

    def grid() -> pd.DataFrame:
        at.run()  # what the fragment's timer does in a browser
        found = _tables(at, "live_grid")
        if found:
            seen.append(found[0])
        return found[0] if found else pd.DataFrame()

    def advanced() -> bool:
        latest = grid()
        return not latest.empty and int(latest["epochs"].max()) >= 1 and not latest.equals(seen[0])

    try:
        await eventually(lambda: not grid().empty, "a trial row on the Live page", timeout=90)
        await eventually(advanced, "the Live page to show the trial advancing", timeout=90)
        assert at.get("plotly_chart"), "the curves and the architecture are drawn"
        jobs = panel.page()
        jobs.selectbox(key="jobs_open").select(job_id).run()
        jobs.button(key=f"stop_{job_id}").click().run()
        assert any("Stop **" in str(w.value) for w in jobs.warning)
        jobs.button(key=f"stop_yes_{job_id}").click().run()
        assert any("Stop requested" in str(s.value) for s in jobs.success)
        await eventually(lambda: panel.live.job(job_id)["state"] == "stopped", "the job to stop", timeout=90)
    finally:
        panel.live.stop(job_id)


def test_explore_filters_sorts_and_compares_trials(panel: Panel) -> None:
    at = panel.page("pages/explore.py", job=panel.done_job)
    assert not at.exception
    table = _frame(at, "explore_table")
    assert len(table) == 2 and {"param_filters", "param_dense_units"} <= set(table.columns)
    at.selectbox(key="sort_by").select("score").run()
    at.toggle(key="sort_desc").set_value(True).run()
    table = _frame(at, "explore_table")
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    at.multiselect(key="filter_states").select("completed").run()
    assert len(_frame(at, "explore_table")) == 2
    low, high = sorted(table["score"])
    at.slider(key="filter_score").set_range(high - 1e-9, high).run()
    assert list(_frame(at, "explore_table")["score"]) == [high]
    at.slider(key="filter_score").set_range(low, high).run()
    at.multiselect(key="compare_trials").select(0).select(1).run()
    compared = _frame(at, "compare_table")
    assert list(compared.columns) == ["trial 0", "trial 1"]
    assert {"param filters", "score", "health neuron_utilization"} <= set(compared.index)
    assert set(at.session_state["compare_details"]) == {0, 1}


def test_architecture_draws_two_trials_side_by_side_with_weightless_layers(panel: Panel) -> None:
    at = panel.page("pages/architecture.py", job=panel.done_job)
    assert not at.exception
    assert sorted(s.value for s in at.subheader) == ["Trial 0", "Trial 1"]
    kinds = set(_frame(at, "arch_table_0")["kind"])
    assert {"Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense", "Activation"} <= kinds
    layers = _frame(at, "arch_table_1")
    classifier = layers[layers["layer"] == "classifier"].iloc[0]
    assert classifier["output"] == "10" and classifier["activation"] == "softmax"
    assert len(at.get("plotly_chart")) == 2


def test_export_serves_the_results_zip_its_files_and_the_filtered_table(panel: Panel) -> None:
    at = panel.page("pages/explore.py", job=panel.done_job)
    at.switch_page("pages/export.py").run()
    assert not at.exception
    bundle = at.session_state["export_zip"]
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        names = {name.rsplit("/", 1)[-1] for name in archive.namelist()}
    assert {"trials.csv", "best_params.yaml", "best_model.keras"} <= names
    assert {"trials.csv", "best_params.yaml", "best_model.keras"} <= set(at.session_state["export_members"])
    filtered = at.session_state["export_filtered"]
    table = pd.read_csv(io.BytesIO(filtered["csv"]))
    assert len(table) == 2 and list(table.columns[:3]) == ["number", "state", "score"]
    assert pd.read_json(io.BytesIO(filtered["json"]))["number"].tolist() == table["number"].tolist()
