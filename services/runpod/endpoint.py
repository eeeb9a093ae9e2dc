"""Talking to a serverless endpoint: submit a job, poll what it streamed, cancel it.

Two flavours behind one small port. ``SdkEndpoint`` uses the pinned runpod SDK's ``Endpoint`` client
against the documented API (``POST /v2/{id}/run``, ``GET /v2/{id}/stream/{job}``, ``GET .../status/{job}``,
``POST .../cancel/{job}``, ``GET .../health``). ``LocalTestServer`` speaks to the SDK's own
``--rp_serve_api`` server, which differs: no endpoint id in the path, ``POST /stream/{job}`` runs the
job inside the request and answers with every chunk at the end, and there is no cancel. Calls block:
the bridge runs them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from services.runtime.errors import FatalError

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


class EndpointUnavailable(Exception):
    """The endpoint did not answer, or answered a server error: worth trying again shortly."""


class JobLost(Exception):
    """The endpoint does not know the job (expired, or its worker vanished with it)."""


@dataclass(frozen=True)
class JobPoll:
    status: str
    chunks: list[dict[str, Any]] = field(default_factory=list)
    """What the job streamed since the last poll, oldest first."""
    execution_ms: int | None = None
    """Billed execution time, once the job ended (RunPod's ``executionTime``)."""
    error: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES


class EndpointApi(Protocol):
    cancellable: bool

    def submit(self, payload: dict[str, Any], execution_timeout_ms: int) -> str:
        """Queue a job; its id."""

    def poll(self, job_id: str) -> JobPoll: ...

    def cancel(self, job_id: str) -> None: ...


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code = exc.response.status_code
        if code == 404:
            return JobLost(f"the endpoint does not know the job (HTTP {code})")
        if code >= 500 or code in (408, 429):
            return EndpointUnavailable(f"the endpoint answered HTTP {code}")
        return FatalError(f"the endpoint refused the request: HTTP {code}")
    if isinstance(exc, requests.RequestException):
        return EndpointUnavailable(f"the endpoint did not answer: {type(exc).__name__}")
    if isinstance(exc, RuntimeError) and "nauthorized" in str(exc):
        return FatalError("RunPod refused the API key (HTTP 401); check HPO_RUNPOD_API_KEY")
    return exc


class SdkEndpoint:
    """The documented serverless API through ``runpod.Endpoint`` (the pinned SDK)."""

    cancellable = True

    def __init__(self, endpoint_id: str, api_key: str, base_url: str, timeout_seconds: float) -> None:
        import runpod

        self._endpoint = runpod.Endpoint(endpoint_id, api_key=api_key)
        self._endpoint.rp_client.endpoint_url_base = base_url.rstrip("/")
        self._id = endpoint_id
        self._timeout = max(1, int(timeout_seconds))

    def submit(self, payload: dict[str, Any], execution_timeout_ms: int) -> str:
        try:
            job = self._endpoint.run({"input": payload, "policy": {"executionTimeout": execution_timeout_ms}})
        except Exception as exc:
            raise _translate(exc) from exc
        return str(job.job_id)

    def poll(self, job_id: str) -> JobPoll:
        client = self._endpoint.rp_client
        try:
            streamed = client.get(f"{self._id}/stream/{job_id}", timeout=self._timeout)
            chunks = [c["output"] for c in streamed.get("stream", []) if isinstance(c, dict) and "output" in c]
            status = str(streamed.get("status", ""))
            if status not in FINAL_STATES:
                return JobPoll(status, chunks)
            final = client.get(f"{self._id}/status/{job_id}", timeout=self._timeout)
        except Exception as exc:
            raise _translate(exc) from exc
        execution = final.get("executionTime")
        return JobPoll(
            str(final.get("status", status)),
            chunks,
            int(execution) if isinstance(execution, int | float) else None,
            str(final.get("error") or ""),
        )

    def cancel(self, job_id: str) -> None:
        from runpod.endpoint.runner import Job

        try:
            Job(self._id, job_id, self._endpoint.rp_client).cancel(timeout=self._timeout)
        except Exception as exc:
            raise _translate(exc) from exc

    def health(self) -> dict[str, Any]:
        try:
            return dict(self._endpoint.health(timeout=self._timeout))
        except Exception as exc:
            raise _translate(exc) from exc


class LocalTestServer:
    """The SDK's local test server (``--rp_serve_api``): each ``poll`` runs the whole job."""

    cancellable = False

    def __init__(self, base_url: str, timeout_seconds: float, job_seconds: float) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._job_timeout = job_seconds
        self._session = requests.Session()

    def _post(self, path: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        try:
            response = self._session.post(f"{self._base}/{path}", json=body, timeout=timeout)
            response.raise_for_status()
            answer = response.json()
        except Exception as exc:
            raise _translate(exc) from exc
        return dict(answer)

    def submit(self, payload: dict[str, Any], execution_timeout_ms: int) -> str:
        return str(self._post("run", {"input": payload}, self._timeout)["id"])

    def poll(self, job_id: str) -> JobPoll:
        answer = self._post(f"stream/{job_id}", None, self._job_timeout)
        if answer.get("error") == "Job ID not found":
            raise JobLost("the local test server does not know the job")
        chunks = [c["output"] for c in answer.get("stream", []) if isinstance(c, dict) and "output" in c]
        return JobPoll(str(answer.get("status", "")), chunks, None, str(answer.get("error") or ""))

    def cancel(self, job_id: str) -> None:
        """The local test server has no cancel: the job runs to its end (and its result is not used)."""
