"""Schemathesis against the OpenAPI schema: no 5xx, and every response matches the schema.

The app runs over its real in-process ports on a seeded SQLite read model (a running study with
trials, a finished one with its results ZIP), so that operations with ids reach real data: half
the generated job ids are replaced by those of the seeded studies. One request in four goes
without the token. The live stream (endless by design) is left out; it has its own tests.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.app import create_app
from services.api.datasets import FileCatalog
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.trainer.datasets import describe_datasets
from services.trainer.datasets.catalog import SPECS
from services.trainer.datasets.registry import find_source
from tests.support.http import AUTH
from tests.support.read_models import seed_study, sqlite_repository
from tests.unit.api.support import settings as api_settings
from tests.unit.api.support import store_bundle

MIN_REQUESTS = 500
EXAMPLES_PER_OPERATION = 60
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
KNOWN_JOBS = ("running", "done")

_root = Path(tempfile.mkdtemp(prefix="hpo-api-fuzz-"))
atexit.register(shutil.rmtree, _root, ignore_errors=True)
_repo = sqlite_repository(_root / "read_models.sqlite")
_artifacts = LocalArtifactStore(_root / "artifacts")
seed_study(_repo, "running", trials=30, epochs=3)
seed_study(_repo, "done", trials=8, state="completed")
store_bundle(_artifacts, "done")
_catalog = FileCatalog(describe_datasets, lambda name, d: find_source(SPECS[name], d).load(), None)
# Generated requests present wrong tokens by the hundred: the brake on guessing would answer 429 to the rest.
app = create_app(InMemoryBus(), _repo, _artifacts, api_settings(failed_auth_limit=1_000_000), datasets_catalog=_catalog)

schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/jobs/{job_id}/events")
generation = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.hook("before_generate_path_parameters")
def _known_jobs_half_the_time(_context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def swap(params: Any) -> st.SearchStrategy[Any]:
        if not isinstance(params, dict) or "job_id" not in params:
            return st.just(params)
        return st.one_of(st.just(params), st.sampled_from([{**params, "job_id": job} for job in KNOWN_JOBS]))

    return strategy.flatmap(swap)


def _send(case: schemathesis.Case, number: int) -> int:
    """Call the app with ``case`` (every fourth request without the token), check the response, return its status."""
    headers = None if number % 4 == 3 else dict(AUTH)
    return case.call_and_validate(headers=headers, checks=CHECKS).status_code


def _label(case: schemathesis.Case) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


@pytest.fixture
def numbers() -> Iterator[int]:
    """Request numbers of one test (shared by all its examples)."""
    return count()


@schema.parametrize()
@generation
def test_api_conforms_to_its_schema(case: schemathesis.Case, numbers: Iterator[int]) -> None:
    _send(case, next(numbers))


def _fuzz(operation: APIOperation, statuses: Counter[tuple[str, int]]) -> None:
    """Send ``operation``'s generated requests, counting them by operation and status."""
    numbers = count()

    @given(case=operation.as_strategy())
    @generation
    def send(case: schemathesis.Case) -> None:
        statuses[(_label(case), _send(case, next(numbers)))] += 1

    send()


def test_enough_requests_were_generated() -> None:
    """Generates its own requests, operation by operation (positive fuzzing, the hook included), so it
    depends on no other test."""
    statuses: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        _fuzz(result.ok(), statuses)
    sent = sum(statuses.values())
    assert sent >= MIN_REQUESTS, f"only {sent} requests were generated"
    print(f"schemathesis sent {sent} requests")
    for (operation, status), n in sorted(statuses.items()):
        print(f"  {operation:<36} {status} x{n}")
    reached = {operation for (operation, status), _ in statuses.items() if status < 300}
    for operation in ("GET /jobs/{job_id}/trials", "GET /jobs/{job_id}/download", "POST /optimize"):
        assert operation in reached, f"{operation} never succeeded"
