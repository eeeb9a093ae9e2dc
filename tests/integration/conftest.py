"""Real services for integration tests: skip when missing on a laptop, fail under HPO_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

AMQP_URL = os.environ.get("HPO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def require(service: str, reason: str) -> None:
    if os.environ.get("HPO_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{service} is required (HPO_REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{service} not available: {reason}")


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def amqp_url() -> str:
    if not reachable(AMQP_URL, 5672):
        require("RabbitMQ", f"nothing listens at {urlparse(AMQP_URL).netloc}")
    return AMQP_URL


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


POSTGRES_ADMIN_URL = os.environ.get(
    "HPO_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty Postgres database that only this test uses, dropped afterwards."""
    import sqlalchemy as sa

    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("Postgres", "psycopg is not installed (pip install 'hpo[postgres]')")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        require("Postgres", f"unreachable at {POSTGRES_ADMIN_URL}")
    name = f"hpo_it_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
