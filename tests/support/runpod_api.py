"""A local stand-in for RunPod's cloud, which tests cannot reach: the serverless REST API
(``/v2/{endpoint}/run``, ``/stream/{job}``, ``/status/{job}``, ``/cancel/{job}``, ``/health``) and the
GraphQL API the SDK's pod functions use (``/graphql``), answering with the documented response shapes.

Every request is recorded (method, path, Authorization header, JSON body) so tests assert what the
pinned SDK really sends. A job follows a script (``JobScript``): each ``/stream`` poll moves it one
step, as a worker would between polls.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from contracts.serverless import JobEpoch, JobResult, JobStarted
from tests.support.telemetry import epoch_telemetry, trial_metrics


@dataclass
class JobScript:
    """How one job behaves. ``ending``: completed | timed_out | lost | hold (runs until cancelled).
    ``cancel``: honoured (status CANCELLED) or ignored (the job still returns its result)."""

    ending: str = "completed"
    epochs: int = 2
    cancel: str = "honoured"
    execution_ms: int = 7_200


@dataclass
class FakeJob:
    id: str
    input: dict[str, Any]
    policy: dict[str, Any] | None
    script: JobScript
    status: str = "IN_QUEUE"
    step: int = 0
    cancelled: bool = False
    aggregate: list[Any] = field(default_factory=list)
    error: str = ""

    def advance(self) -> list[Any]:
        """One poll's worth of progress: the chunks streamed since the last poll."""
        if self.status in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"):
            return []
        if self.cancelled and self.script.cancel == "honoured":
            self.status = "CANCELLED"
            return []
        self.step += 1
        request = self.input["request"]
        if self.step == 1:
            self.status = "IN_PROGRESS"
            return self._emit(JobStarted(architecture="Conv2D(8)-Dense(10)", parameter_count=2314, worker_id="w1"))
        epoch = self.step - 1
        if self.script.ending == "hold":
            return []
        if epoch <= self.script.epochs:
            if epoch == 2 and self.script.ending == "timed_out":
                self.status = "TIMED_OUT"
                return []
            if epoch == 2 and self.script.ending == "lost":
                self.status, self.error = "FAILED", "worker exited with exit code 137"
                return []
            telemetry = epoch_telemetry(epoch, val_accuracy=0.5 + 0.1 * epoch, epoch_seconds=1.0)
            return self._emit(JobEpoch(max_epochs=request["max_epochs"], telemetry=telemetry))
        self.status = "COMPLETED"
        metrics = trial_metrics(0.5 + 0.1 * self.script.epochs, epochs_trained=self.script.epochs)
        result = JobResult(
            outcome="completed",
            epochs_trained=self.script.epochs,
            metrics=metrics,
            architecture="Conv2D(8)-Dense(10)",
            worker_seconds=9.0,
            worker_id="w1",
        )
        return self._emit(result)

    def _emit(self, chunk: JobStarted | JobEpoch | JobResult) -> list[Any]:
        output = chunk.model_dump(mode="json")
        self.aggregate.append(output)
        return [output]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class Pod:
    id: str
    name: str
    gpu: str
    env: dict[str, str]
    image: str
    cost_per_hr: float
    uptime_seconds: int = 0


class FakeRunPod:
    GPU_TYPES = {"NVIDIA RTX A5000": 0.29, "NVIDIA GeForce RTX 4090": 0.69}

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.jobs: dict[str, FakeJob] = {}
        self.scripts: list[JobScript] = []
        """Scripts of the next jobs, in order; afterwards ``JobScript()``."""
        self.failures: list[int] = []
        """HTTP statuses to answer the next requests with, in order (an outage)."""
        self.pods: dict[str, Pod] = {}
        self.lock = threading.Lock()
        self.running_max = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                code, answer = fake.handle(self.command, self.path, self.headers.get("Authorization", ""), body)
                self._answer(code, answer)

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, method: str, path: str, authorization: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(Recorded(method, path, authorization, body))
            if self.failures:
                return self.failures.pop(0), {"error": "service unavailable"}
            if path == "/graphql" and method == "POST":
                return 200, self._graphql(str((body or {}).get("query", "")))
            match = re.fullmatch(r"/v2/([^/]+)/(run|stream|status|cancel|health)(?:/([^/]+))?", path)
            if match is None:
                return 404, {"error": "not found"}
            _, action, job_id = match.groups()
            if action == "run" and method == "POST":
                job = FakeJob(f"job-{len(self.jobs) + 1}", body["input"], body.get("policy"), self._next_script())
                self.jobs[job.id] = job
                self.running_max = max(self.running_max, self._running())
                return 200, {"id": job.id, "status": "IN_QUEUE"}
            if action == "health":
                return 200, {"jobs": {"inQueue": 0, "inProgress": self._running()}, "workers": {"idle": 1}}
            found = self.jobs.get(job_id or "")
            if found is None:
                return 404, {"error": "request does not exist"}
            job = found
            if action == "stream" and method == "GET":
                chunks = job.advance()
                return 200, {"status": job.status, "stream": [{"output": c} for c in chunks]}
            if action == "status" and method == "GET":
                answer: dict[str, Any] = {"id": job.id, "status": job.status, "delayTime": 800}
                if job.status == "COMPLETED":
                    answer |= {"output": job.aggregate, "executionTime": job.script.execution_ms}
                if job.error:
                    answer["error"] = job.error
                return 200, answer
            if action == "cancel" and method == "POST":
                job.cancelled = True
                return 200, {"id": job.id, "status": "CANCELLED"}
            return 405, {"error": "method not allowed"}

    def _running(self) -> int:
        return sum(1 for j in self.jobs.values() if j.status in ("IN_QUEUE", "IN_PROGRESS"))

    def _next_script(self) -> JobScript:
        return self.scripts.pop(0) if self.scripts else JobScript()

    def _graphql(self, query: str) -> dict[str, Any]:
        gpu = re.search(r'gpuTypes\(input: \{id: "([^"]+)"\}\)', query)
        if gpu:
            name = gpu.group(1)
            if name not in self.GPU_TYPES:
                return {"data": {"gpuTypes": []}}
            price = self.GPU_TYPES[name]
            return {
                "data": {
                    "gpuTypes": [
                        {
                            "id": name,
                            "displayName": name,
                            "securePrice": price,
                            "communityPrice": price,
                            "lowestPrice": {"uninterruptablePrice": price},
                        }
                    ]
                }
            }
        if "podFindAndDeployOnDemand" in query:
            name = re.search(r'name: "([^"]+)"', query)
            gpu_id = re.search(r'gpuTypeId: "([^"]+)"', query)
            image = re.search(r'imageName: "([^"]+)"', query)
            env = dict(re.findall(r'\{ key: "([^"]+)", value: "([^"]*)" \}', query))
            assert name and gpu_id and image
            pod = Pod(
                f"pod{len(self.pods) + 1}",
                name.group(1),
                gpu_id.group(1),
                env,
                image.group(1),
                self.GPU_TYPES.get(gpu_id.group(1), 1.0),
            )
            self.pods[pod.id] = pod
            return {
                "data": {
                    "podFindAndDeployOnDemand": {
                        "id": pod.id,
                        "imageName": pod.image,
                        "env": [],
                        "machineId": "m1",
                        "machine": {"podHostId": "h1"},
                    }
                }
            }
        if "podTerminate" in query:
            pod_id = re.search(r'podId: "([^"]+)"', query)
            assert pod_id
            self.pods.pop(pod_id.group(1), None)
            return {"data": {"podTerminate": None}}
        if "myself" in query and "pods" in query:
            pods = [
                {
                    "id": p.id,
                    "name": p.name,
                    "costPerHr": p.cost_per_hr,
                    "desiredStatus": "RUNNING",
                    "uptimeSeconds": p.uptime_seconds,
                    "imageName": p.image,
                    "gpuCount": 1,
                    "env": [f"{k}={v}" for k, v in p.env.items()],
                    "machine": {"gpuDisplayName": p.gpu},
                }
                for p in self.pods.values()
            ]
            return {"data": {"myself": {"pods": pods}}}
        return {"errors": [{"message": f"unknown query: {query[:80]}"}]}


@contextmanager
def fake_runpod() -> Iterator[FakeRunPod]:
    fake = FakeRunPod()
    fake.serve()
    try:
        yield fake
    finally:
        fake.close()
