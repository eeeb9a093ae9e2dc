"""`hpo dashboards push` against a local server that answers like Grafana's documented HTTP API (no
Grafana can be installed here): the exact requests grafana-client sends, idempotence, and one-line
errors for a wrong token or an unreachable Grafana."""

from __future__ import annotations

import copy
import importlib.metadata

import pytest
import urllib3

from dashboards import DASHBOARD_UIDS
from dashboards.model import load
from services.cli.main import EXIT_OK, EXIT_USAGE, main
from tests.support.grafana import FakeGrafana
from tests.support.ports import free_port

TOKEN = "glsa_test_token_0123456789abcdef"
DATASOURCE = {
    "uid": "hpo-prometheus",
    "name": "hpo Prometheus",
    "type": "prometheus",
    "access": "proxy",
    "url": "http://prometheus:9090",
    "isDefault": False,
    "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
}


def _push(url: str, *extra: str) -> int:
    return main(["dashboards", "push", "--grafana-url", url, *extra])


def _saved(uid: str) -> dict[str, object]:
    dashboard = copy.deepcopy(load(uid))
    dashboard["id"] = None
    return {"dashboard": dashboard, "folderUid": "hpo", "overwrite": True, "message": "hpo dashboards push"}


def test_a_first_push_creates_the_datasource_the_folder_and_every_dashboard() -> None:
    with FakeGrafana(TOKEN) as grafana:
        assert _push(grafana.url, "--token", TOKEN) == EXIT_OK

    assert grafana.calls() == [
        ("GET", "/api/datasources/uid/hpo-prometheus"),
        ("POST", "/api/datasources"),
        ("GET", "/api/folders/hpo"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * len(DASHBOARD_UIDS),
    ]
    assert {r.authorization for r in grafana.requests} == {f"Bearer {TOKEN}"}
    bodies = [r.body for r in grafana.requests]
    assert bodies[1] == DATASOURCE
    assert bodies[3] == {"title": "hpo", "uid": "hpo"}
    assert bodies[4:] == [_saved(uid) for uid in DASHBOARD_UIDS]
    assert set(grafana.state.dashboards) == set(DASHBOARD_UIDS)


def test_pushing_again_updates_in_place_and_creates_nothing_new(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana(TOKEN) as grafana:
        assert _push(grafana.url, "--token", TOKEN) == EXIT_OK
        first = len(grafana.requests)
        assert _push(grafana.url, "--token", TOKEN, "--prometheus-url", "http://prom.internal:9090") == EXIT_OK

    assert grafana.calls()[first:] == [
        ("GET", "/api/datasources/uid/hpo-prometheus"),
        ("PUT", "/api/datasources/uid/hpo-prometheus"),
        ("GET", "/api/folders/hpo"),
        *[("POST", "/api/dashboards/db")] * len(DASHBOARD_UIDS),
    ]
    assert grafana.requests[first + 1].body == {**DATASOURCE, "url": "http://prom.internal:9090"}
    assert [d["uid"] for d in grafana.state.datasources.values()] == ["hpo-prometheus"]
    assert list(grafana.state.folders) == ["hpo"]
    assert {uid: saved["version"] for uid, saved in grafana.state.dashboards.items()} == dict.fromkeys(
        DASHBOARD_UIDS, 2
    )
    out = capsys.readouterr().out
    assert "datasource hpo Prometheus: updated (http://prom.internal:9090)" in out
    assert "folder hpo: exists" in out
    assert f"pushed {len(DASHBOARD_UIDS)} dashboards" in out


def test_a_wrong_token_is_one_line_naming_the_401_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGrafana(TOKEN) as grafana:
        assert _push(grafana.url, "--token", "wrong") == EXIT_USAGE
    assert grafana.calls() == [("GET", "/api/datasources/uid/hpo-prometheus")]  # stops at the first refusal
    err = capsys.readouterr().err
    first, *hints = err.strip().splitlines()
    assert first == f"error: Grafana at {grafana.url} refused the credentials (401 Unauthorized)"
    assert all(line.startswith("  ") for line in hints)
    assert "Traceback" not in err


def test_a_token_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    with FakeGrafana(TOKEN) as grafana:
        assert _push(grafana.url) == EXIT_OK
    assert {r.authorization for r in grafana.requests} == {f"Bearer {TOKEN}"}


def test_a_grafana_that_is_not_there_is_connection_refused_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert _push(url, "--token", TOKEN) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == f"error: cannot reach Grafana at {url}: connection refused"


def test_a_password_in_the_url_is_never_shown(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert _push(f"http://admin:hunter2@127.0.0.1:{port}") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "hunter2" not in err and f"http://admin:***@127.0.0.1:{port}" in err


def test_grafana_client_left_the_real_urllib3_in_place() -> None:
    """grafana-client pulls urllib3-future, which replaces urllib3 for every package unless it is installed
    with URLLIB3_NO_OVERRIDE (see the Makefile): the urllib3 module must still be urllib3's own."""
    assert urllib3.__version__ == importlib.metadata.version("urllib3")
    assert urllib3.__version__.startswith("2.")
    assert "urllib3_future" not in (urllib3.__file__ or "")
