"""The trainer's idleness: a running trial is never idle; the watch fires once nothing ran for the limit."""

from __future__ import annotations

import asyncio

from services.trainer.idle import Activity, exit_when_idle
from tests.support.waiting import eventually


async def test_the_watch_waits_while_a_trial_runs_and_fires_after_the_limit_with_none() -> None:
    activity = Activity()
    done = asyncio.Event()
    activity.begin()
    watch = asyncio.create_task(exit_when_idle(activity, 0.2, done))
    try:  # a trial longer than the limit: the watch does not fire
        await asyncio.wait_for(done.wait(), timeout=0.5)
        raise AssertionError("a trainer with a running trial was taken for idle")
    except TimeoutError:
        pass
    assert activity.idle_seconds() == 0.0
    activity.end()
    await eventually(done.is_set, "the idle limit to pass", timeout=5)
    await watch
    assert activity.trials == 1 and activity.idle_seconds() >= 0.2
