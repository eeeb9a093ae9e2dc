"""Plain HTTP probes of local servers, and the bearer token the API tests serve with."""

from __future__ import annotations

import urllib.error
import urllib.request

TOKEN = "s3cr3t-token-for-tests-only-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def http_get(port: int, path: str) -> tuple[int, str]:
    """Status and body of ``GET http://127.0.0.1:<port><path>``; (0, "") when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def is_ready(port: int) -> bool:
    """Whether the service's probe server on ``port`` answers ``/readyz`` with 200."""
    return http_get(port, "/readyz")[0] == 200
