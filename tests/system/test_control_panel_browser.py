"""The control panel in a real browser (Debian's chromium through Playwright), started with ``hpo ui`` on the
API of a live embedded study (``hpo optimize ... --api-port``): every page opens and shows the study; a
study launched from the form gets trial rows on the Live page while it runs, without a reload; it is
stopped from the Jobs page and its results ZIP downloaded from the Export page. A screenshot of each page
goes to the test's folder, and to ``$HPO_SCREENSHOT_DIR`` when set."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.support.http import TOKEN
from tests.support.live_api import TINY_STUDY
from tests.support.ports import free_port

WAIT_MS = 60_000


@dataclass(frozen=True)
class Running:
    api: str
    panel: str
    job_id: str
    shots: Path


def _wait_for(predicate: object, what: str, timeout: float) -> None:
    """Poll a blocking check (the subprocesses are not on an event loop of this test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("panel_browser")
    env = {**os.environ, "HPO_API_TOKEN": TOKEN, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    space = root / "space.yaml"
    space.write_text(yaml.safe_dump(TINY_STUDY["search_space"]))
    api_port = free_port()
    study = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "optimize", "dataset=digits", "trials=200", "max_epochs=1",
         "max_samples=100", "pruner=none", "study_name=embedded_panel_study", f"output_dir={root / 'results'}",
         "--search-space", str(space), "--api-port", str(api_port)],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    panel_port = free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "ui", "--url", api, "--port", str(panel_port), "--no-browser"],
        env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    job_id: str | None = None
    try:
        _wait_for(lambda: httpx.get(f"{api}/jobs/summary", headers=headers).json()["items"], "the embedded study", 120)
        job_id = httpx.get(f"{api}/jobs/summary", headers=headers).json()["items"][0]["job_id"]
        printed = ""
        assert ui.stdout is not None
        while "Control panel:" not in printed:
            line = ui.stdout.readline().decode()
            assert line, f"hpo ui ended: {printed}"
            printed += line
        panel = re.search(r"Control panel: (\S+)", printed).group(1)  # type: ignore[union-attr]
        assert panel == f"http://127.0.0.1:{panel_port}"
        shots = root / "screenshots"
        shots.mkdir()
        yield Running(api, panel, job_id, shots)
    finally:
        if job_id is not None:
            httpx.post(f"{api}/jobs/{job_id}/stop", headers=headers)
        _stop(ui)
        try:
            study.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _stop(study)
        target = os.environ.get("HPO_SCREENSHOT_DIR")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            for shot in (root / "screenshots").glob("*.png"):
                shutil.copy(shot, Path(target) / shot.name)


def _shot(tab: Page, running: Running, name: str) -> None:
    tab.screenshot(path=str(running.shots / f"{name}.png"), full_page=True)


def _open(tab: Page, url: str, title: str) -> None:
    tab.goto(url)
    expect(tab.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=WAIT_MS)


def test_the_panel_in_a_browser_launches_watches_stops_and_exports(browser: Browser, running: Running) -> None:
    started = time.monotonic()
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    tab = context.new_page()

    _open(tab, running.panel, "Jobs")
    # the jobs table is a canvas grid: its cells are in the DOM for assistive technology, drawn on the canvas
    expect(tab.get_by_text("embedded_panel_study").first).to_be_attached(timeout=WAIT_MS)
    expect(tab.get_by_text(re.compile(r"^\d+ job\(s\)$"))).to_be_visible(timeout=WAIT_MS)
    _shot(tab, running, "01_jobs")

    live = f"{running.panel}/live?job={running.job_id}"
    _open(tab, live, "Live")
    expect(tab.get_by_text(re.compile(r"latest: trial ([3-9]|\d\d+) "))).to_be_visible(timeout=2 * WAIT_MS)
    expect(tab.get_by_text("Samples/s")).to_be_visible(timeout=WAIT_MS)
    expect(tab.get_by_text("Architecture of trial")).to_be_visible(timeout=WAIT_MS)
    expect(tab.locator(".js-plotly-plot").first).to_be_visible(timeout=WAIT_MS)
    _shot(tab, running, "02_live_mid_study")

    _open(tab, f"{running.panel}/new", "New study")
    expect(tab.locator("img").first).to_be_visible(timeout=WAIT_MS)  # dataset thumbnails
    expect(tab.get_by_text("score = (1 - health_weight)")).to_be_visible()
    for label, value in (("Trials", "20"), ("Max epochs per trial", "1"), ("Max samples (empty: all)", "100")):
        field = tab.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
    tab.get_by_label("Study name (optional)").fill("from_the_form")
    tab.get_by_label("Study name (optional)").press("Enter")
    expect(tab.get_by_text('"trials": 20')).to_be_attached(timeout=WAIT_MS)
    _shot(tab, running, "03_new_study")
    tab.get_by_role("button", name="Launch study").click()

    expect(tab.get_by_role("heading", name="Live", exact=True)).to_be_visible(timeout=WAIT_MS)
    launched = re.search(r"job=([0-9a-f]+)", tab.url)
    assert launched, tab.url
    tab.evaluate("window.__not_reloaded = true")
    expect(tab.get_by_text(re.compile(r"\d+ trial row\(s\)"))).to_be_visible(timeout=2 * WAIT_MS)
    assert tab.evaluate("window.__not_reloaded === true"), "the Live page reloaded"

    _open(tab, running.panel, "Jobs")
    expect(tab.get_by_role("button", name="Stop from_the_form")).to_be_visible(timeout=WAIT_MS)
    tab.get_by_role("button", name="Stop from_the_form").click()
    tab.get_by_role("button", name="Yes, stop it").click()
    expect(tab.get_by_text("Stop requested for from_the_form")).to_be_visible(timeout=WAIT_MS)

    export = f"{running.panel}/export?job={launched.group(1)}"
    deadline = time.monotonic() + 90
    while True:
        _open(tab, export, "Export")
        button = tab.get_by_role("button", name="Results ZIP")
        try:
            expect(button).to_be_visible(timeout=5_000)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the stopped study's results never became downloadable"
    _shot(tab, running, "06_export")
    with tab.expect_download() as download:
        button.click()
    saved = running.shots.parent / "results.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        assert any(name.endswith("trials.csv") for name in archive.namelist())

    _open(tab, f"{running.panel}/explore?job={running.job_id}", "Explore")
    expect(tab.get_by_text(re.compile(r"\d+ of \d+ trials"))).to_be_visible(timeout=WAIT_MS)
    _shot(tab, running, "04_explore")

    _open(tab, f"{running.panel}/architecture?job={running.job_id}", "Architecture")
    expect(tab.get_by_role("heading", name=re.compile(r"^Trial \d+$"))).to_have_count(2, timeout=WAIT_MS)
    expect(tab.locator(".js-plotly-plot")).to_have_count(2, timeout=WAIT_MS)
    _shot(tab, running, "05_architecture_comparison")
    context.close()
    print(f"browser steps took {time.monotonic() - started:.1f}s")
