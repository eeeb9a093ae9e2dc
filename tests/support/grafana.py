"""A local HTTP server that answers like Grafana's documented HTTP API for the calls ``hpo dashboards
push`` makes (no Grafana server can be installed here), and records every request it gets.

Answers follow https://grafana.com/docs/grafana/latest/developers/http_api/: data sources
(``GET/PUT /api/datasources/uid/:uid``, ``POST /api/datasources``), folders (``GET /api/folders/:uid``,
``POST /api/folders``) and ``POST /api/dashboards/db``; a request without the expected bearer token
gets 401 ``{"message": "Unauthorized"}``, anything else 404 ``{"message": "Not found"}``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class GrafanaState:
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    """uid -> {"dashboard": ..., "folderUid": ..., "version": n}"""


class FakeGrafana:
    def __init__(self, token: str) -> None:
        self.token = token
        self.state = GrafanaState()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def answer(self, method: str, path: str, authorization: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(Request(method, path, authorization, body))
            if authorization != f"Bearer {self.token}":
                return 401, {"message": "Unauthorized"}
            return self._route(method, path, body)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        state = self.state
        if found := re.fullmatch(r"/api/datasources/uid/([^/]+)", path):
            uid = found.group(1)
            if uid not in state.datasources:
                return 404, {"message": "Data source not found"}
            if method == "GET":
                return 200, state.datasources[uid]
            if method == "PUT":
                known = state.datasources[uid]
                updated = state.datasources[uid] = {**known, **body, "version": known["version"] + 1}
                return 200, {
                    "message": "Datasource updated",
                    "id": known["id"],
                    "name": body["name"],
                    "datasource": updated,
                }
        if path == "/api/datasources" and method == "POST":
            if any(d["name"] == body["name"] for d in state.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            created = {**body, "id": len(state.datasources) + 1, "version": 1}
            state.datasources[body["uid"]] = created
            added = {"message": "Datasource added", "id": created["id"], "name": body["name"], "datasource": created}
            return 200, added
        if (found := re.fullmatch(r"/api/folders/([^/]+)", path)) and method == "GET":
            folder = state.folders.get(found.group(1))
            return (200, folder) if folder else (404, {"message": "folder not found", "status": "not-found"})
        if path == "/api/folders" and method == "POST":
            if body.get("uid") in state.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            folder = {"id": len(state.folders) + 1, "uid": body["uid"], "title": body["title"], "version": 1}
            state.folders[body["uid"]] = folder
            return 200, folder
        if path == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(body)
        return 404, {"message": "Not found"}

    def _save_dashboard(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        dashboard, folder = body["dashboard"], body.get("folderUid")
        uid = dashboard["uid"]
        if folder is not None and folder not in self.state.folders:
            return 400, {"message": "folder not found"}
        known = self.state.dashboards.get(uid)
        if known is not None and not body.get("overwrite"):
            return 412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
        version = known["version"] + 1 if known else 1
        number = known["id"] if known else len(self.state.dashboards) + 1
        self.state.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder, "version": version, "id": number}
        return 200, {"id": number, "uid": uid, "url": f"/d/{uid}/{uid}", "status": "success", "version": version,
                     "slug": uid}  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = fake.answer(self.command, self.path, self.headers.get("Authorization"), body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads ``fake.requests``."""

        return Handler
