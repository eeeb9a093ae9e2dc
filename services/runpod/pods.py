"""GPU pods that join a study as trainers, through the pinned runpod SDK's GraphQL functions.

A pod runs the trainer image with ``hpo serve trainer`` and only the broker and object-store settings
(never database credentials), passed as the pod's environment. Pods are named ``<prefix>-<n>``; the
trainer in each reports under the pod's name and exits once idle for ``HPO_TRAINER_IDLE_EXIT_SECONDS``,
which stops the pod (its container command ends), so a forgotten pod stops costing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.runtime.errors import UserInputError

POD_ENV_KEYS = (
    "HPO_AMQP_URL",
    "HPO_EXCHANGE",
    "HPO_QUEUE_PREFIX",
    "HPO_S3_ENDPOINT",
    "HPO_S3_ACCESS_KEY",
    "HPO_S3_SECRET_KEY",
    "HPO_S3_BUCKET",
    "HPO_S3_SECURE",
)
"""What a pod's trainer is given: the broker and the object store. Nothing else leaves this machine."""
SECRET_KEYS = frozenset({"HPO_AMQP_URL", "HPO_S3_ACCESS_KEY", "HPO_S3_SECRET_KEY"})
POD_COMMAND = "serve trainer"
"""The container command after the image's ENTRYPOINT (`hpo`): RunPod's dockerArgs."""


@dataclass(frozen=True)
class PodInfo:
    id: str
    name: str
    gpu: str
    cost_per_hour: float
    uptime_seconds: int
    status: str


def pod_environment(source: Mapping[str, str], idle_exit_seconds: float, trainer_id: str) -> dict[str, str]:
    """The pod's environment from ``source`` (this machine's settings): broker and store only."""
    env = {key: source[key] for key in POD_ENV_KEYS if source.get(key)}
    if "HPO_AMQP_URL" not in env:
        raise UserInputError("HPO_AMQP_URL is not set; pods need the broker's address (reachable from RunPod)")
    env["HPO_TRAINER_IDLE_EXIT_SECONDS"] = f"{idle_exit_seconds:g}"
    env["HPO_TRAINER_TRAINER_ID"] = trainer_id
    return env


def redacted(env: Mapping[str, str]) -> dict[str, str]:
    """For messages: secrets shown as ``***``."""
    return {key: ("***" if key in SECRET_KEYS else value) for key, value in env.items()}


class PodsApi:
    """``runpod.create_pod``, ``get_pods``, ``terminate_pod``, ``get_gpu``: the SDK's GraphQL calls."""

    def __init__(self, api_key: str) -> None:
        if not api_key:
            raise UserInputError("HPO_RUNPOD_API_KEY is not set; create a key in RunPod's Settings > API Keys")
        import runpod

        runpod.api_key = api_key  # the SDK's pod functions read the module's key
        self._runpod = runpod

    def gpu_price(self, gpu_type: str) -> float:
        """The on-demand price per hour of one GPU of ``gpu_type``; a clear error for an unknown type."""
        try:
            gpu = self._call(lambda: self._runpod.get_gpu(gpu_type))
        except ValueError:
            raise UserInputError(
                f"unknown GPU type '{gpu_type}'; use a RunPod GPU id, e.g. 'NVIDIA RTX A5000' or "
                "'NVIDIA GeForce RTX 4090'"
            ) from None
        lowest = gpu.get("lowestPrice") or {}
        price = lowest.get("uninterruptablePrice") or gpu.get("securePrice") or gpu.get("communityPrice")
        if not isinstance(price, int | float):
            raise UserInputError(f"GPU type '{gpu_type}' has no on-demand price now; choose another --gpu-type")
        return float(price)

    def create(self, name: str, image: str, gpu_type: str, env: dict[str, str]) -> str:
        pod = self._call(
            lambda: self._runpod.create_pod(
                name,
                image,
                gpu_type,
                cloud_type="SECURE",
                gpu_count=1,
                env=env,
                docker_args=POD_COMMAND,
                support_public_ip=False,
                start_ssh=False,
                container_disk_in_gb=20,
            )
        )
        return str(pod["id"])

    def list(self, prefix: str) -> list[PodInfo]:
        pods = self._call(self._runpod.get_pods)
        return [_pod_info(p) for p in pods if str(p.get("name", "")).startswith(f"{prefix}-")]

    def terminate(self, pod_id: str) -> None:
        self._call(lambda: self._runpod.terminate_pod(pod_id))

    def _call(self, call: Any) -> Any:
        from runpod import error

        try:
            return call()
        except error.AuthenticationError:
            raise UserInputError("RunPod refused the API key; check HPO_RUNPOD_API_KEY") from None
        except error.QueryError as exc:
            raise UserInputError(f"RunPod refused the request: {str(exc).splitlines()[0]}") from None
        except OSError as exc:
            raise UserInputError(f"RunPod's API did not answer: {type(exc).__name__}") from None


def _pod_info(pod: dict[str, Any]) -> PodInfo:
    machine = pod.get("machine") or {}
    return PodInfo(
        id=str(pod.get("id", "")),
        name=str(pod.get("name", "")),
        gpu=str(machine.get("gpuDisplayName") or "-"),
        cost_per_hour=float(pod.get("costPerHr") or 0.0),
        uptime_seconds=int(pod.get("uptimeSeconds") or 0),
        status=str(pod.get("desiredStatus") or ""),
    )
