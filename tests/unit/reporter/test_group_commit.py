"""``GroupCommit`` on a real SQLite read model: waiting writes share a transaction, apply in the order they
came, and a failing one fails alone."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from services.reporter.group_commit import GroupCommit
from services.runtime.db.repository import ReadModelRepository
from services.runtime.errors import StaleEvent
from tests.support.read_models import sqlite_repository

CONSUMER = "reporter-test"


@pytest.fixture
def repository(tmp_path: Path):
    repo = sqlite_repository(tmp_path / "read_models.sqlite")
    yield repo
    repo.engine.dispose()


def _artifact(key: str, applied: list[str]):
    def work(repo: ReadModelRepository) -> None:
        applied.append(key)
        repo.record_artifact(key, kind="file", size_bytes=len(key), study_id="s")

    return work


async def test_writes_waiting_while_a_batch_runs_are_committed_together_in_order(repository) -> None:
    writer = GroupCommit(repository, CONSUMER)
    applied: list[str] = []
    release = threading.Event()

    def slow(repo: ReadModelRepository) -> None:
        release.wait(10)
        _artifact("first", applied)(repo)

    first = asyncio.create_task(writer.run_once("e0", slow))
    await asyncio.sleep(0.05)  # the first batch (one event) is running and holds the writer
    rest = [asyncio.create_task(writer.run_once(f"e{n}", _artifact(f"k{n}", applied))) for n in range(1, 6)]
    await asyncio.sleep(0.05)
    release.set()
    assert await first is True
    assert await asyncio.gather(*rest) == [True] * 5
    assert writer.batches == 2  # one for the first, one for the five that waited
    assert applied == ["first", "k1", "k2", "k3", "k4", "k5"]
    assert all(repository.is_processed(CONSUMER, f"e{n}") for n in range(6))
    assert {a.key for a in repository.artifacts_for_study("s")} == {"first", "k1", "k2", "k3", "k4", "k5"}


async def test_a_failing_write_fails_alone_and_records_nothing(repository) -> None:
    writer = GroupCommit(repository, CONSUMER)
    applied: list[str] = []
    release = threading.Event()

    def stale(repo: ReadModelRepository) -> None:
        repo.record_artifact("half-written", kind="file", size_bytes=1, study_id="s")
        raise StaleEvent("trial ended already")

    blocker = asyncio.create_task(writer.run(lambda repo: release.wait(10)))
    await asyncio.sleep(0.05)
    good_before = asyncio.create_task(writer.run_once("a", _artifact("before", applied)))
    bad = asyncio.create_task(writer.run_once("b", stale))
    good_after = asyncio.create_task(writer.run_once("c", _artifact("after", applied)))
    await asyncio.sleep(0.05)
    release.set()
    await blocker
    assert await good_before is True and await good_after is True
    with pytest.raises(StaleEvent):
        await bad
    assert {a.key for a in repository.artifacts_for_study("s")} == {"before", "after"}  # nothing of the stale one
    assert repository.is_processed(CONSUMER, "a") and repository.is_processed(CONSUMER, "c")
    assert not repository.is_processed(CONSUMER, "b")  # redelivery would run it again


async def test_a_processed_event_applies_nothing_and_a_duplicate_in_one_batch_applies_once(repository) -> None:
    writer = GroupCommit(repository, CONSUMER)
    applied: list[str] = []
    assert await writer.run_once("x", _artifact("x1", applied)) is True
    assert await writer.run_once("x", _artifact("x2", applied)) is False
    release = threading.Event()
    blocker = asyncio.create_task(writer.run(lambda repo: release.wait(10)))
    await asyncio.sleep(0.05)
    twice = [asyncio.create_task(writer.run_once("y", _artifact(f"y{n}", applied))) for n in (1, 2)]
    await asyncio.sleep(0.05)
    release.set()
    await blocker
    assert sorted(await asyncio.gather(*twice)) == [False, True]
    assert applied == ["x1", "y1"]


async def test_writes_without_an_event_id_return_their_result_in_order(repository) -> None:
    writer = GroupCommit(repository, CONSUMER)
    applied: list[str] = []
    event = asyncio.create_task(writer.run_once("z", _artifact("z", applied)))
    known = asyncio.create_task(writer.run(lambda repo: repo.get_artifact("z") is not None))
    assert await event is True
    assert await known is True  # it ran after the event before it, in the same or a later transaction


async def test_an_idle_writer_waits_for_the_rest_of_a_burst_before_it_starts(repository) -> None:
    applied: list[str] = []
    for linger in (0.5, 0.0):
        writer = GroupCommit(repository, CONSUMER, linger_seconds=linger)
        burst = []
        for n in range(3):  # a trial's last epoch, completion and final assessment, a few ms apart
            burst.append(
                asyncio.create_task(writer.run_once(f"burst-{linger}-{n}", _artifact(f"b{linger}{n}", applied)))
            )
            await asyncio.sleep(0.005)
        assert await asyncio.gather(*burst) == [True] * 3
        if linger:
            assert writer.batches == 1  # all three in one transaction
        else:
            assert writer.batches >= 2  # the first started at once, alone
