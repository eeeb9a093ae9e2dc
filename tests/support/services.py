"""Real services for tests: skip when one is missing on a laptop, fail when ``HPO_REQUIRE_SERVICES=1`` (CI)."""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

AMQP_URL = os.environ.get("HPO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def services_required() -> bool:
    """True when a missing service is a failure rather than a skip (``HPO_REQUIRE_SERVICES=1``)."""
    return os.environ.get("HPO_REQUIRE_SERVICES") == "1"


def require_service(name: str, reason: str) -> NoReturn:
    """End the test because service ``name`` is unusable (``reason``): a failure when services are
    required, a skip otherwise."""
    if services_required():
        pytest.fail(f"{name} is required (HPO_REQUIRE_SERVICES=1) but not available: {reason}", pytrace=False)
    pytest.skip(f"{name} is not available: {reason}")


def reachable(url: str, default_port: int) -> bool:
    """Whether something accepts TCP connections at the host and port of ``url`` (within 2 s)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False
