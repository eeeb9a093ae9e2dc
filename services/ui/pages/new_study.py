"""New study: browse the datasets, pick a mode and objective, fill the form (or a preset), launch."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import streamlit as st

from services.ui import session
from services.ui.client import ApiClient, ApiProblem, ApiValidationError
from services.ui.study_form import (
    DEFAULTS,
    MODE_EXPLANATION,
    MODES,
    OBJECTIVE_NOTE,
    PRESETS,
    PRUNERS,
    SAMPLERS,
    SCORE_FORMULA,
    build_payload,
    describe_payload,
    objectives_for,
    validate,
)

PREVIEW_COUNT = 12
FIELD = "form_"


def main() -> None:
    api = session.page_header("New study")
    if api is None:
        return
    for name, value in DEFAULTS.items():
        st.session_state.setdefault(FIELD + name, value)
    try:
        datasets = api.datasets()
        objectives = api.objectives()
    except ApiProblem as exc:
        session.show_problem(exc)
        return
    dataset = dataset_browser(api, datasets)
    st.divider()
    presets()
    values = form(objectives)
    values["dataset"] = dataset
    problems = {**validate(values), **st.session_state.get("api_problems", {})}
    show_problems(problems, "body")
    payload = build_payload(values)
    with st.expander("Request that will be sent"):
        st.code(describe_payload(payload), language="json")
    st.session_state["last_payload"] = payload
    launch(api, payload, problems)


def dataset_browser(api: ApiClient, datasets: list[dict[str, Any]]) -> str:
    st.subheader("Dataset")
    names = [d["name"] for d in datasets]
    available = [d["name"] for d in datasets if d.get("available")]
    default = "digits" if "digits" in available else (available[0] if available else names[0])
    st.session_state.setdefault(FIELD + "dataset", default)
    label = {
        d["name"]: f"{d['name']} ({d['modality']}{'' if d.get('available') else ', files missing'})" for d in datasets
    }
    name = st.selectbox("Dataset", names, format_func=label.__getitem__, key=FIELD + "dataset")
    info = next(d for d in datasets if d["name"] == name)
    st.caption(info.get("description", ""))
    stats = st.columns(5)
    stats[0].metric("Classes", info.get("num_classes") or "?")
    stats[1].metric("Samples", f"{info['num_samples']:,}" if info.get("num_samples") else "?")
    stats[2].metric("Input shape", "x".join(str(d) for d in info.get("input_shape") or []) or "?")
    stats[3].metric("Files present", "yes" if info.get("available") else "no")
    stats[4].metric("Modality", info["modality"])
    if info.get("source"):
        st.caption(f"Files: {info['source']}")
    if not info.get("available"):
        st.warning(info.get("problem") or f"The files of {name} are not in the server's data folder.")
        return str(name)
    try:
        preview = api.preview(name, PREVIEW_COUNT)
    except ApiProblem as exc:
        st.info(f"No preview: {exc}")
        return str(name)
    samples = preview["samples"]
    balance = Counter(sample["class_name"] for sample in samples)
    st.caption("Class balance of the preview sample: " + ", ".join(f"{k}: {v}" for k, v in sorted(balance.items())))
    if preview["modality"] == "image":
        columns = st.columns(min(len(samples), 12) or 1)
        for column, sample in zip(columns, samples, strict=False):
            column.image(base64.b64decode(sample["image_png_base64"]), caption=sample["class_name"], width=56)
    else:
        for sample in samples[:6]:
            st.markdown(f"**{sample['class_name']}**: {sample.get('text') or ''}…")
    return str(name)


def presets() -> None:
    st.subheader("Settings")
    columns = st.columns([3, 1])
    chosen = columns[0].selectbox("Preset", list(PRESETS), index=None, placeholder="Start from a preset…", key="preset")
    if chosen:
        columns[0].caption(PRESETS[chosen].description)
    if columns[1].button("Apply preset", disabled=not chosen, key="apply_preset") and chosen:
        for name, value in PRESETS[chosen].values.items():
            st.session_state[FIELD + name] = value
        st.session_state.pop("api_problems", None)
        st.rerun()


def form(objectives: list[dict[str, Any]]) -> dict[str, Any]:
    current = _current()
    if st.session_state.get("api_problems_for") != build_payload(current):
        st.session_state.pop("api_problems", None)  # the API judged other values: edited since
    problems = {**validate(current), **st.session_state.get("api_problems", {})}
    mode = st.radio("Mode", MODES, horizontal=True, key=FIELD + "mode")
    st.markdown(MODE_EXPLANATION[mode])
    st.markdown(f"`{SCORE_FORMULA[mode]}` — {OBJECTIVE_NOTE}")
    allowed = objectives_for(mode, objectives)
    if st.session_state.get(FIELD + "optimize_for") not in allowed:
        st.session_state[FIELD + "optimize_for"] = allowed[0]
    st.selectbox("Optimize for", allowed, key=FIELD + "optimize_for", help="Objectives valid in this mode.")
    show_problems(problems, "optimize_for")
    left, right = st.columns(2)
    with left:
        st.number_input("Trials", min_value=1, max_value=10_000, step=1, key=FIELD + "trials")
        show_problems(problems, "trials")
        st.number_input("Max epochs per trial", min_value=1, max_value=1_000, step=1, key=FIELD + "max_epochs")
        show_problems(problems, "max_epochs")
        if mode == "health":
            st.slider("Health weight", 0.0, 1.0, step=0.05, key=FIELD + "health_weight")
            show_problems(problems, "health_weight")
        st.slider("Parallelism (trials at once)", 1, 32, key=FIELD + "parallelism")
        show_problems(problems, "parallelism")
    with right:
        st.selectbox("Sampler", SAMPLERS, key=FIELD + "sampler")
        st.selectbox("Pruner", PRUNERS, key=FIELD + "pruner")
        st.number_input("Seed (empty: random)", min_value=0, step=1, key=FIELD + "seed")
        st.number_input("Max samples (empty: all)", min_value=1, step=100, key=FIELD + "max_samples")
        show_problems(problems, "max_samples")
        st.text_input("Study name (optional)", key=FIELD + "study_name", placeholder="generated when empty")
        show_problems(problems, "study_name")
        st.text_input(
            "Data folder (optional)",
            key=FIELD + "data_dir",
            placeholder="inside the server's data folder, e.g. my_images",
            help="Needed by image_folder and text_csv; built-in datasets are found without it.",
        )
        show_problems(problems, "data_dir")
    st.text_area(
        "Search-space overrides (YAML or JSON)",
        key=FIELD + "search_space",
        placeholder="learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}\n"
        "dense_units: {type: categorical, choices: [32, 64]}",
        height=110,
    )
    show_problems(problems, "search_space")
    return _current()


def _current() -> dict[str, Any]:
    values = {name: st.session_state.get(FIELD + name, default) for name, default in DEFAULTS.items()}
    values["dataset"] = st.session_state.get(FIELD + "dataset", "digits")
    return values


def show_problems(problems: dict[str, list[str]], field: str) -> None:
    for message in problems.get(field, []):
        st.error(f"{field}: {message}" if field == "body" else message)


def launch(api: ApiClient, payload: dict[str, Any], problems: dict[str, list[str]]) -> None:
    local = {k: v for k, v in problems.items() if k not in st.session_state.get("api_problems", {})}
    if st.button("Launch study", type="primary", disabled=bool(local), key="launch"):
        try:
            accepted = api.optimize(payload)
        except ApiValidationError as exc:
            st.session_state["api_problems"] = exc.fields
            st.session_state["api_problems_for"] = payload
            st.rerun()
        except ApiProblem as exc:
            session.show_problem(exc)
            return
        st.session_state.pop("api_problems", None)
        st.session_state["launched_job"] = accepted["job_id"]
        st.switch_page("pages/live.py", query_params={"job": accepted["job_id"]})
    if local:
        st.caption("Fix the fields marked above to launch.")


main()
