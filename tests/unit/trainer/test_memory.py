"""A trial child's memory: long-lived objects frozen out of the collector, a trial's garbage still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from services.trainer.memory import freeze_long_lived_objects, release_trial_memory


class Node:
    def __init__(self) -> None:
        self.partner: Node | None = None


def _garbage_cycle() -> weakref.ref[Node]:
    first, second = Node(), Node()
    first.partner, second.partner = second, first
    return weakref.ref(first)


@pytest.fixture
def unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen_afterwards")
def test_freezing_takes_live_objects_out_of_every_later_collection_and_a_trials_garbage_is_still_freed() -> None:
    long_lived = [Node() for _ in range(1000)]
    freeze_long_lived_objects()
    assert gc.get_freeze_count() >= len(long_lived)
    assert not any(obj is long_lived for obj in gc.get_objects())  # later collections do not walk it
    trial_garbage = _garbage_cycle()
    release_trial_memory()
    assert trial_garbage() is None  # what a trial leaves behind is still freed
