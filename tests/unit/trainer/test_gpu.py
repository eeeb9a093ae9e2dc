"""GPU readings come from nvidia-smi when the machine has it, and are simply absent when it does not.

No GPU here: the readings are checked against an executable that prints what ``nvidia-smi
--query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`` prints."""

from __future__ import annotations

import stat
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from services.trainer.gpu import MIB, GpuCollector, parse

TWO_GPUS = "0, 87, 40536, 143771\n1, [N/A], 0, 143771\n"


def _fake_nvidia_smi(folder: Path, output: str, code: int = 0) -> str:
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_nvidia_smis_csv_is_read_and_unreported_figures_are_skipped() -> None:
    (gpu,) = parse(TWO_GPUS)
    assert (gpu.index, gpu.utilization, gpu.memory_used_bytes, gpu.memory_total_bytes) == (
        "0",
        0.87,
        40536 * MIB,
        143771 * MIB,
    )
    assert parse("garbage\n\n") == []


def test_a_gpu_machine_exports_utilization_and_memory_per_gpu(tmp_path: Path) -> None:
    collector = GpuCollector("tr-1", interval=60, nvidia_smi=_fake_nvidia_smi(tmp_path, TWO_GPUS))
    registry = CollectorRegistry()
    registry.register(collector)
    collector.start()
    try:
        assert registry.get_sample_value("hpo_trainer_gpu_utilization_ratio", {"trainer": "tr-1", "gpu": "0"}) == 0.87
        used = registry.get_sample_value("hpo_trainer_gpu_memory_used_bytes", {"trainer": "tr-1", "gpu": "0"})
        assert used == 40536 * MIB
    finally:
        collector.stop()


def test_a_machine_without_nvidia_smi_or_with_a_failing_one_exports_no_gpu_series(tmp_path: Path) -> None:
    for collector in (
        GpuCollector("tr-1", nvidia_smi=str(tmp_path / "missing")),
        GpuCollector("tr-1", nvidia_smi=_fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed", code=9)),
    ):
        registry = CollectorRegistry()
        registry.register(collector)
        collector.start()
        try:
            assert b"hpo_trainer_gpu" not in generate_latest(registry)
        finally:
            collector.stop()
