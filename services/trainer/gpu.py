"""GPU utilization and memory of the trainer's machine, read from the device with ``nvidia-smi``.

A thread asks ``nvidia-smi`` every ``interval`` seconds (never the scrape itself, so a slow driver
cannot stall the probe server); the collector exports the last reading. Without ``nvidia-smi``, or when
it fails, there are no GPU series at all: a CPU trainer exports none, and nothing is an error.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

QUERY = ["--query-gpu=index,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"]
MIB = 1024 * 1024
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class GpuReading:
    index: str
    utilization: float
    memory_used_bytes: float
    memory_total_bytes: float


def parse(output: str) -> list[GpuReading]:
    """``nvidia-smi``'s CSV (index, utilization %, memory used MiB, memory total MiB); odd lines are skipped."""
    readings = []
    for line in output.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 4:
            continue
        try:
            utilization, used, total = (float(value) for value in fields[1:])
        except ValueError:  # "[N/A]" on GPUs that do not report a figure
            continue
        readings.append(GpuReading(fields[0], utilization / 100.0, used * MIB, total * MIB))
    return readings


def read_gpus(nvidia_smi: str) -> list[GpuReading]:
    try:
        done = subprocess.run(
            [nvidia_smi, *QUERY], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("nvidia-smi failed: %s", exc)
        return []
    return parse(done.stdout) if done.returncode == 0 else []


class GpuCollector(Collector):
    """Exports ``hpo_trainer_gpu_*{trainer, gpu}`` from the sampler thread's last reading."""

    def __init__(self, trainer: str, interval: float = 5.0, nvidia_smi: str | None = None) -> None:
        self._trainer = trainer
        self._interval = interval
        self._nvidia_smi = nvidia_smi or shutil.which("nvidia-smi")
        self._readings: list[GpuReading] = []
        self._read_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def present(self) -> bool:
        return self._nvidia_smi is not None

    def start(self) -> None:
        """Read once now (so the first scrape has figures), then every ``interval`` seconds."""
        if self._nvidia_smi is None or self._thread is not None:
            return
        self._sample()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_SECONDS + 1)
            self._thread = None

    def collect(self) -> Iterator[Metric]:
        readings = self._readings if time.monotonic() - self._read_at < 6 * self._interval else []
        if not readings:
            return
        utilization = GaugeMetricFamily(
            "hpo_trainer_gpu_utilization_ratio", "GPU busy share, 0 to 1.", labels=["trainer", "gpu"]
        )
        used = GaugeMetricFamily("hpo_trainer_gpu_memory_used_bytes", "GPU memory in use.", labels=["trainer", "gpu"])
        total = GaugeMetricFamily("hpo_trainer_gpu_memory_total_bytes", "GPU memory.", labels=["trainer", "gpu"])
        for gpu in readings:
            labels = [self._trainer, gpu.index]
            utilization.add_metric(labels, gpu.utilization)
            used.add_metric(labels, gpu.memory_used_bytes)
            total.add_metric(labels, gpu.memory_total_bytes)
        yield from (utilization, used, total)

    def describe(self) -> Iterator[Metric]:
        """The families this collector can export (checked by the metric catalog test)."""
        for name in (
            "hpo_trainer_gpu_utilization_ratio",
            "hpo_trainer_gpu_memory_used_bytes",
            "hpo_trainer_gpu_memory_total_bytes",
        ):
            yield GaugeMetricFamily(name, "GPU reading.", labels=["trainer", "gpu"])

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        assert self._nvidia_smi is not None
        readings = read_gpus(self._nvidia_smi)
        if readings:
            self._readings, self._read_at = readings, time.monotonic()
