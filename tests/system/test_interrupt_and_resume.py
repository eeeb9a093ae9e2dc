"""Ctrl-C, any number of times, then ``hpo resume``: no traceback, what finished is written, exit 130;
the resumed study keeps its finished trials, runs only the rest, and its report covers all."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.cli.main import EXIT_INTERRUPTED, EXIT_OK, main

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
OPTIONS = ["dataset=digits", "mode=simple", "trials=4", "max_epochs=3", "seed=4", "max_samples=300", "pruner=none"]


def test_interrupted_twice_then_resumed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "services.cli.main", "optimize", *OPTIONS, "study_name=drill", f"output_dir={out}"]
    env = {**os.environ, "COLUMNS": "200"}
    run = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = run.stdout.readline()
        printed.append(line)
        if "trial 0 completed" in line:
            break
    run.send_signal(signal.SIGTERM)  # `kill`, `timeout` or a supervisor: the same graceful stop as Ctrl-C
    time.sleep(0.2)
    run.send_signal(signal.SIGINT)  # then a Ctrl-C, as an impatient user sends
    rest, errors = run.communicate(timeout=180)
    printed.append(rest)
    output = "".join(printed)
    assert run.returncode == EXIT_INTERRUPTED, (output, errors)
    assert "Traceback" not in errors and "CancelledError" not in errors, errors
    assert "already stopping" in output and "results:" in output and "zip:" in output
    rows = list(csv.DictReader((out / "drill" / "trials.csv").open()))
    done_before = [r for r in rows if r["state"] in ("completed", "pruned")]
    assert 1 <= len(done_before) < 4

    assert main(["resume", "drill", f"output_dir={out}"]) == EXIT_OK
    resumed = capsys.readouterr().out
    assert "resuming drill" in resumed and f"{len(done_before)} completed" in resumed
    rows = list(csv.DictReader((out / "drill" / "trials.csv").open()))
    assert len([r for r in rows if r["state"] in ("completed", "pruned")]) == 4, "the report covers every trial"
    assert {r["number"] for r in done_before} <= {r["number"] for r in rows}, "the finished trials were kept"
    assert main(["resume", "drill", f"output_dir={out}"]) == 2, "a completed study cannot be resumed"
    assert "only a stopped or interrupted study can be resumed" in capsys.readouterr().err
