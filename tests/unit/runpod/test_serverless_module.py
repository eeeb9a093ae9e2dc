"""The serverless handler module without TensorFlow: importable for a dry run, and a bad job input is a failed
result (not a crash of the worker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from contracts.serverless import JOB_CHUNK, JobResult
from services.trainer import serverless

REPO = Path(__file__).resolve().parents[3]


def test_the_module_imports_without_tensorflow_or_the_sdk() -> None:
    probe = (
        "import sys, services.trainer.serverless as s; "
        "assert callable(s.handler); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'runpod') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_job_input_that_is_not_a_trial_request_is_a_failed_result() -> None:
    (chunk,) = list(serverless.handler({"id": "j1", "input": {"study_id": "s1"}}))
    result = JOB_CHUNK.validate_python(chunk)
    assert isinstance(result, JobResult) and result.outcome == "failed"
    assert result.reason.startswith("the job input is not a trial request")
