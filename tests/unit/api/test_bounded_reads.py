"""Reads whose cost a client cannot blow up: trends are lean, downsampled and paged; previews load each
dataset once on their own threads; the live stream cannot be made to carry a forged event."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from contracts.enums import DatasetName
from services.api.datasets import FileCatalog
from services.api.models import TrialPoint
from services.api.routes.stream import sse
from services.api.routes.trials import downsample
from tests.support.read_models import seed_study
from tests.unit.api.support import Api, open_api, parse_sse


def _point(number: int, best: float | None) -> TrialPoint:
    return TrialPoint(
        trial_id=f"t{number}",
        number=number,
        state="completed",
        score=best,
        best_score=best,
        val_accuracy=None,
        overall_health=None,
        duration_seconds=None,
    )


def test_a_long_series_keeps_its_ends_and_every_improvement() -> None:
    points = [_point(n, 0.5 + 0.1 * sum(k <= n for k in (10, 500, 9_000))) for n in range(10_000)]
    shown = downsample(points, 100)
    numbers = [p.number or 0 for p in shown]
    assert len(shown) == 100 and numbers == sorted(numbers)
    assert {0, 10, 500, 9_000, 9_999} <= set(numbers)
    assert downsample(points[:50], 100) == points[:50]


async def test_trends_are_paged_and_say_how_much_there_is(api: Api) -> None:
    seed_study(api.repo, "s1", trials=20, epochs=5)
    first = (await api.client.get("/jobs/s1/trends", params={"epochs_limit": 30, "max_trials": 10})).json()
    assert first["trials_total"] == 20 and len(first["trials"]) == 10
    assert first["epochs_total"] == 100 and len(first["epochs"]) == 30 and first["epochs_offset"] == 0
    rest = (await api.client.get("/jobs/s1/trends", params={"epochs_offset": 90, "epochs_limit": 30})).json()
    assert len(rest["epochs"]) == 10
    assert (rest["epochs"][-1]["number"], rest["epochs"][-1]["epoch"]) == (19, 5)
    assert (await api.client.get("/jobs/s1/trends", params={"epochs_limit": 10**6})).status_code == 422


class SlowLoader:
    """A dataset loader that takes its time and counts its calls (the catalog's injected port)."""

    def __init__(self, seconds: float, fail: bool = False) -> None:
        self.seconds, self.fail, self.calls = seconds, fail, 0
        self._lock = threading.Lock()

    def __call__(self, name: DatasetName, data_dir: Path | None) -> Any:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        if self.fail:
            raise OSError("disk unplugged")
        split = type("Split", (), {"x": np.zeros((40, 8, 8, 1)), "y": np.arange(40) % 10})()
        return type("Raw", (), {"train": split, "test": None, "class_names": [str(i) for i in range(10)]})()


async def test_previews_load_once_and_never_hold_up_other_requests(tmp_path: Path) -> None:
    loader = SlowLoader(0.5)
    catalog = FileCatalog(lambda _d: [], loader, None)
    async for api in open_api(tmp_path):
        api.app.state.hpo.datasets = catalog
        previews = [
            asyncio.create_task(api.client.get("/datasets/mnist/preview", params={"count": c})) for c in (2, 4) * 4
        ]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        assert (await api.client.get("/jobs")).status_code == 200
        assert time.perf_counter() - started < 0.4, "GET /jobs does not wait for the previews"
        responses = await asyncio.gather(*previews)
        assert [len(r.json()["samples"]) for r in responses] == [2, 4] * 4
        assert loader.calls == 1, "eight previews of one dataset load it once"
    catalog.close()


async def test_a_dataset_that_failed_to_load_is_not_tried_again_at_once() -> None:
    loader = SlowLoader(0.0, fail=True)
    now = [100.0]
    catalog = FileCatalog(lambda _d: [], loader, None, clock=lambda: now[0])
    from services.api.datasets import DatasetUnavailable

    for _ in range(3):
        try:
            await catalog.preview(DatasetName.MNIST, 3)
        except DatasetUnavailable as exc:
            assert "mnist: disk unplugged" in str(exc)
    assert loader.calls == 1
    now[0] += 60
    with contextlib.suppress(DatasetUnavailable):
        await catalog.preview(DatasetName.MNIST, 3)
    assert loader.calls == 2, "tried again once the failure aged out"
    catalog.close()


def test_no_value_can_end_an_sse_event_early_or_inject_another() -> None:
    text = sse("trial.completed\n\nevent: end", '{"a": 1}\n\nevent: end\ndata: {}', event_id="x\n\nevent: end")
    events = parse_sse(text)
    assert len(events) == 1
    name, data = events[0]
    assert name == "trial.completedevent: end" and data == '{"a": 1}\n\nevent: end\ndata: {}'
