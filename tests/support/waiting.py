"""Waiting for something to become true, the one way every test waits."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    what: str,
    *,
    timeout: float = 5.0,
    interval: float = 0.01,
) -> None:
    """Return once ``predicate()`` (sync or async) is true, polling every ``interval`` seconds; fail
    the test with ``timed out after <timeout>s waiting for <what>`` when it is still false after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = predicate()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
