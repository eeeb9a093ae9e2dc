"""A small typed client of the hpo REST API, with errors a person can act on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from services.runtime.errors import UserInputError
from services.runtime.settings import redact_url

CONNECT_SECONDS, READ_SECONDS = 10.0, 60.0


@dataclass(frozen=True)
class ServerEvent:
    """One Server-Sent Event: its name and its JSON data."""

    name: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class RemoteApi:
    def __init__(self, url: str, token: str | None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.url = redact_url(url.rstrip("/"))
        """The address as shown to people: never with a password in it."""
        if not url.startswith(("http://", "https://")):
            raise UserInputError(
                f"--url {self.url}: give the API's address with its scheme, e.g. http://hpo.example:8000"
            )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS)
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, config: dict[str, Any], study_name: str | None = None) -> dict[str, Any]:
        body = {**config, **({"study_name": study_name} if study_name else {})}
        return self._json("POST", "/optimize", json=body)

    def jobs(self, limit: int = 50) -> dict[str, Any]:
        return self._json("GET", "/jobs", params={"limit": limit})

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{quote(job_id, safe='')}")

    def best_trial(self, job_id: str) -> dict[str, Any] | None:
        response = self._send("GET", f"/jobs/{quote(job_id, safe='')}/best-trial")
        return None if response.status_code == 404 else self._checked(response).json()

    def resume(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/jobs/{quote(job_id, safe='')}/resume")

    def stop(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/jobs/{quote(job_id, safe='')}/stop")

    def download(self, job_id: str, destination: Path, *, max_bytes: int = 10 * 1024**3) -> Path:
        """Stream the job's results ZIP into ``destination`` (a file path, replaced only once the whole
        download is in); refuses more than ``max_bytes``. Returns ``destination``."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_suffix(destination.suffix + ".part")
        try:
            with self._http.stream("GET", f"/jobs/{quote(job_id, safe='')}/download") as response:
                if response.status_code >= 400:
                    response.read()
                    self._checked(response)
                announced = int(response.headers.get("content-length") or 0)
                if announced > max_bytes:
                    raise UserInputError(f"the results of job {job_id} are {announced} bytes, over {max_bytes}")
                received = 0
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if received > max_bytes:
                            raise UserInputError(f"the results of job {job_id} are over {max_bytes} bytes")
                        out.write(chunk)
        except httpx.TransportError as exc:
            raise UserInputError(f"download from {self.url} broke off: {self._safe(exc)}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(destination)
        return destination

    def events(self, job_id: str) -> Iterator[ServerEvent]:
        """The job's live stream (Server-Sent Events) until the server ends it."""
        timeout = httpx.Timeout(None, connect=CONNECT_SECONDS)  # keepalives arrive; no read deadline
        try:
            path = f"/jobs/{quote(job_id, safe='')}/events"
            with self._http.stream("GET", path, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    self._checked(response)
                yield from parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise UserInputError(f"the live stream from {self.url} broke off: {self._safe(exc)}") from None

    def _json(self, method: str, path: str, **options: Any) -> Any:
        return self._checked(self._send(method, path, **options)).json()

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            raise UserInputError(f"cannot reach the hpo API at {self.url}: {self._safe(exc)}") from None

    def _safe(self, exc: Exception) -> str:
        """An error's text with any credentials of the base URL masked."""
        text = str(exc) or type(exc).__name__
        raw = str(self._http.base_url).rstrip("/")
        return text.replace(raw, self.url) if raw != self.url else text

    @staticmethod
    def _checked(response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        detail = _detail(response)
        if response.status_code == 401:
            raise UserInputError(f"the API refused the request ({detail}); pass --token or set HPO_API_TOKEN")
        if response.status_code == 422:
            raise UserInputError(f"the API rejected the study options: {detail}")
        raise UserInputError(f"{response.request.method} {response.request.url.path}: {detail}")


def parse_sse(lines: Iterator[str]) -> Iterator[ServerEvent]:
    """Server-Sent Events from text lines: ``event:`` and ``data:`` fields, a blank line ends one."""
    name, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield ServerEvent(name, "\n".join(data))
            name, data = "message", []
        elif line.startswith(":"):
            continue  # a comment (keepalive)
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:
        yield ServerEvent(name, "\n".join(data))


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"
    if isinstance(detail, list):
        parts = []
        for error in detail:
            where = ".".join(str(p) for p in error.get("loc", []) if p != "body")
            parts.append(f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", "")))
        return "; ".join(parts)
    return str(detail) if detail else f"HTTP {response.status_code}"
