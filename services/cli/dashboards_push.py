"""``hpo dashboards push``: put the Prometheus datasource, the ``hpo`` folder and every dashboard into a
Grafana the user already runs, through its HTTP API with ``grafana-client``. Running it again updates
them in place (same uids; dashboards are saved with ``overwrite``), so it is safe to repeat.

Calls, in order: ``GET /api/datasources/uid/hpo-prometheus``, then ``PUT`` it there (or ``POST
/api/datasources`` when it does not exist); ``GET /api/folders/hpo`` (``POST /api/folders`` when
missing); ``POST /api/dashboards/db`` per dashboard.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from dashboards import DASHBOARD_UIDS, DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from dashboards.model import load
from services.runtime.errors import UserInputError
from services.runtime.settings import redact_url

if TYPE_CHECKING:
    from grafana_client import GrafanaApi

DATASOURCE_NAME = "hpo Prometheus"
TIMEOUT_SECONDS = 10.0
Say = Callable[[str], None]


def datasource(prometheus_url: str, scrape_interval: str) -> dict[str, Any]:
    return {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": "prometheus",
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": False,
        "jsonData": {"httpMethod": "POST", "timeInterval": scrape_interval},
    }


def push(grafana_url: str, token: str | None, prometheus_url: str, say: Say, *, scrape_interval: str = "15s") -> None:
    """Create or update the datasource, the folder and every dashboard; ``say`` reports each step."""
    try:
        from grafana_client import GrafanaApi
    except ImportError as exc:
        raise UserInputError(
            "hpo dashboards push needs grafana-client; install the 'dashboards' extra: pip install 'hpo[dashboards]'"
        ) from exc
    where = redact_url(grafana_url)
    api = GrafanaApi.from_url(grafana_url, credential=token or None, timeout=TIMEOUT_SECONDS)
    with _explained(where):
        _put_datasource(api, datasource(prometheus_url, scrape_interval), say)
        _ensure_folder(api, say)
        for uid in DASHBOARD_UIDS:
            dashboard = copy.deepcopy(load(uid))
            dashboard["id"] = None  # Grafana's own id; the uid names it
            answer = api.dashboard.update_dashboard(
                {"dashboard": dashboard, "folderUid": FOLDER_UID, "overwrite": True, "message": "hpo dashboards push"}
            )
            say(f"dashboard {dashboard['title']}: {answer.get('status', 'saved')}, version {answer.get('version')}")
    say(f"pushed {len(DASHBOARD_UIDS)} dashboards to {where} (folder {FOLDER_TITLE})")


def _put_datasource(api: GrafanaApi, payload: dict[str, Any], say: Say) -> None:
    from grafana_client.client import GrafanaClientError

    try:
        api.datasource.get_datasource_by_uid(DATASOURCE_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.datasource.create_datasource(payload)
        say(f"datasource {DATASOURCE_NAME}: created ({payload['url']})")
        return
    api.datasource.update_datasource_by_uid(DATASOURCE_UID, payload)
    say(f"datasource {DATASOURCE_NAME}: updated ({payload['url']})")


def _ensure_folder(api: GrafanaApi, say: Say) -> None:
    from grafana_client.client import GrafanaClientError

    try:
        api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        say(f"folder {FOLDER_TITLE}: created")
        return
    say(f"folder {FOLDER_TITLE}: exists")


@contextlib.contextmanager
def _explained(where: str) -> Iterator[None]:
    """Turns what can go wrong talking to Grafana into one line saying what failed."""
    try:
        yield
    except UserInputError:
        raise
    except Exception as exc:
        message = _describe(exc, where)
        if message is None:
            raise
        raise UserInputError(message) from exc


def _describe(exc: Exception, where: str) -> str | None:
    import niquests
    from grafana_client.client import GrafanaException, GrafanaTimeoutError

    if isinstance(exc, niquests.exceptions.RequestException):
        return f"cannot reach Grafana at {where}: {_network_reason(exc)}"
    if isinstance(exc, GrafanaTimeoutError):
        return f"Grafana at {where} did not answer within {TIMEOUT_SECONDS:.0f} s"
    if isinstance(exc, GrafanaException):
        if exc.status_code == 401:
            return (
                f"Grafana at {where} refused the credentials (401 Unauthorized); "
                "pass a service-account token with --token (or GRAFANA_TOKEN)"
            )
        if exc.status_code == 403:
            return f"Grafana at {where} forbids this (403 Forbidden); the token needs the Editor or Admin role"
        if exc.status_code == 0:
            return f"cannot reach Grafana at {where}: {exc.message}"
        return f"Grafana at {where} answered {exc.status_code}: {exc.message}"
    return None


def _network_reason(exc: BaseException) -> str:
    """'connection refused' when that is what happened deep down, else the error's own words."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or "Connection refused" in str(current):
            return "connection refused"
        current = current.__cause__ or current.__context__
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
