"""The panel's REST client: every call the pages make, and errors a page can explain to a person.

The panel talks to the API only (never a database, broker or object store), so it works the same
against a deployment and an embedded run. The token travels in the ``Authorization`` header and
appears in no message, log line or page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT_SECONDS = 10.0
TRIALS_PAGE = 500


class ApiProblem(Exception):
    """An API call that did not work, with a line saying what to do about it."""

    def __init__(self, message: str, *, status: int | None = None, fix: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.fix = fix


class ApiUnreachable(ApiProblem):
    """Nothing answered at the API's address."""


class ApiAuthError(ApiProblem):
    """The API refused the token (401) or its role (403)."""


class ApiNotFound(ApiProblem):
    """The job or trial does not exist (404)."""


class ApiValidationError(ApiProblem):
    """The API rejected a request body (422): ``fields`` maps each field to its messages."""

    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(message, status=422)
        self.fields = fields


@dataclass
class ApiClient:
    """A small synchronous client of the hpo API (one per browser session)."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = TIMEOUT_SECONDS
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=self.timeout, transport=self.transport
        )

    def close(self) -> None:
        self._http.close()

    # ---- calls --------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return dict(self._json("GET", "/health", ok=(200, 503)))

    def check_token(self) -> None:
        """Raise ``ApiAuthError`` unless the token may read (``/modes`` needs one)."""
        self._json("GET", "/modes")

    def datasets(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/datasets"))

    def preview(self, name: str, count: int = 8) -> dict[str, Any]:
        return dict(self._json("GET", f"/datasets/{name}/preview", params={"count": count}))

    def modes(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/modes"))

    def objectives(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/objectives"))

    def job_summaries(self, state: str | None = None, *, limit: int = 200) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if state:
            params["state"] = state
        return dict(self._json("GET", "/jobs/summary", params=params))

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/jobs/{job_id}"))

    def optimize(self, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(self._json("POST", "/optimize", json=payload))

    def stop(self, job_id: str) -> dict[str, Any]:
        return dict(self._json("POST", f"/jobs/{job_id}/stop"))

    def trials(self, job_id: str, *, offset: int = 0, limit: int = 100, **query: Any) -> dict[str, Any]:
        params = {"offset": offset, "limit": limit, **{k: v for k, v in query.items() if v is not None}}
        return dict(self._json("GET", f"/jobs/{job_id}/trials", params=params))

    def all_trials(self, job_id: str, *, at_most: int = 20_000) -> list[dict[str, Any]]:
        """Every trial (by number), a page of ``TRIALS_PAGE`` at a time, up to ``at_most``."""
        items: list[dict[str, Any]] = []
        while len(items) < at_most:
            page = self.trials(job_id, offset=len(items), limit=TRIALS_PAGE)
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                break
        return items

    def trial(self, job_id: str, number: int) -> dict[str, Any]:
        return dict(self._json("GET", f"/jobs/{job_id}/trials/{number}"))

    def current_trial(self, job_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._json("GET", f"/jobs/{job_id}/current-trial"))
        except ApiNotFound:
            return None

    def trends(self, job_id: str, **query: Any) -> dict[str, Any]:
        return dict(self._json("GET", f"/jobs/{job_id}/trends", params=query))

    def download(self, job_id: str) -> bytes:
        response = self._send("GET", f"/jobs/{job_id}/download")
        self._raise_for(response)
        return response.content

    # ---- plumbing -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApiUnreachable(
                f"the API at {self.base_url} did not answer within {self.timeout:.0f} s",
                fix="check that the API is running and not overloaded, then reload",
            ) from None
        except httpx.TransportError as exc:
            raise ApiUnreachable(
                f"cannot reach the API at {self.base_url} ({type(exc).__name__})",
                fix="start it (hpo serve api, or hpo optimize ... --api-port PORT) or fix the URL in the sidebar",
            ) from None

    def _json(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 202), **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code not in ok:
            self._raise_for(response)
        return response.json()

    def _raise_for(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        detail = _detail(response)
        status = response.status_code
        if status == 401:
            raise ApiAuthError(
                f"the API refused the token: {detail}",
                status=status,
                fix="enter the right token in the sidebar (or set HPO_API_TOKEN before hpo ui)",
            )
        if status == 403:
            raise ApiAuthError(detail, status=status, fix="use a token with the submit or admin role")
        if status == 429:
            raise ApiAuthError(
                f"the API is refusing this address for a while: {detail}",
                status=status,
                fix="wait a minute, then enter the right token in the sidebar",
            )
        if status == 404:
            raise ApiNotFound(detail, status=status)
        if status == 422:
            raise ApiValidationError("the API rejected some fields", _field_errors(response))
        raise ApiProblem(f"the API answered {status}: {detail}", status=status)


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase
    return detail if isinstance(detail, str) else str(detail)[:300]


def _field_errors(response: httpx.Response) -> dict[str, list[str]]:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return {"body": [response.text[:200]]}
    if isinstance(detail, str):
        return {"body": [detail]}
    fields: dict[str, list[str]] = {}
    for error in detail or []:
        name = str(error.get("field") or "body")
        fields.setdefault(name, []).append(str(error.get("msg", "invalid")))
    return fields
