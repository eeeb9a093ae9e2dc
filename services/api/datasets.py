"""What the API tells about datasets, behind a port the composition root fills.

The API imports no other service: the cli hands it the trainer's ``describe_datasets`` and a raw
loader (``FileCatalog``). Without them the API knows only what the contracts say
(``ContractsCatalog``: names and modalities, files unknown).

Previews never hold up other requests: each dataset is loaded once (at most two at a time, on the
catalog's own threads, not the event loop's shared pool), every preview size is a slice of one
``MAX_PREVIEW`` preview, and a dataset that failed to load is not tried again for
``FAILURE_TTL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from contracts.enums import DATASET_MODALITY, DatasetName, Modality
from services.api.models import Dataset, DatasetPreview, Sample
from services.api.png import encode_png

MAX_PREVIEW = 16
LOADER_THREADS = 2
FAILURE_TTL_SECONDS = 30.0
TEXT_PREVIEW_WORDS = 80
USER_DATA = frozenset({DatasetName.IMAGE_FOLDER, DatasetName.TEXT_CSV})


class DatasetUnavailable(Exception):
    """The dataset cannot be previewed here (files missing, user data, no loader); the message says why."""


class DatasetCatalog(Protocol):
    """Describes datasets (reads the disk: call it in a thread) and shows a few samples."""

    def describe(self) -> list[Dataset]: ...

    async def preview(self, name: DatasetName, count: int) -> DatasetPreview:
        """Up to ``count`` samples, one class after another; raises ``DatasetUnavailable``."""


class DatasetInfoLike(Protocol):
    """The fields of the trainer's ``DatasetInfo`` that the API reports."""

    @property
    def name(self) -> DatasetName: ...
    @property
    def modality(self) -> Modality: ...
    @property
    def description(self) -> str: ...
    @property
    def formats(self) -> tuple[str, ...]: ...
    @property
    def num_classes(self) -> int | None: ...
    @property
    def input_shape(self) -> tuple[int, ...] | None: ...
    @property
    def available(self) -> bool: ...
    @property
    def user_data(self) -> bool: ...
    @property
    def source(self) -> str | None: ...
    @property
    def num_samples(self) -> int | None: ...
    @property
    def problem(self) -> str | None: ...
    @property
    def download_url(self) -> str | None: ...


class RawSplitLike(Protocol):
    @property
    def x(self) -> npt.NDArray[Any]: ...
    @property
    def y(self) -> npt.NDArray[Any]: ...


class RawDataLike(Protocol):
    """The trainer's ``RawData``: images as float arrays in [0, 1], texts as token lists."""

    @property
    def train(self) -> RawSplitLike | None: ...
    @property
    def test(self) -> RawSplitLike | None: ...
    @property
    def class_names(self) -> list[str]: ...


Describe = Callable[[Path | None], Sequence[DatasetInfoLike]]
LoadRaw = Callable[[DatasetName, Path | None], RawDataLike]


class ContractsCatalog:
    """Names and modalities only: used when the API runs without the trainer's dataset code."""

    def describe(self) -> list[Dataset]:
        return [
            Dataset(
                name=name,
                modality=DATASET_MODALITY[name],
                description=name.value,
                formats=[],
                num_classes=None,
                input_shape=None,
                available=False,
                user_data=name in USER_DATA,
                problem="this API was started without the dataset catalog; file presence is unknown",
            )
            for name in DatasetName
        ]

    async def preview(self, name: DatasetName, count: int) -> DatasetPreview:
        raise DatasetUnavailable(f"{name.value}: this API was started without the dataset loaders")


class FileCatalog:
    """Datasets as found under ``data_dir`` by the trainer's own readers; previews are cached."""

    def __init__(
        self,
        describe: Describe,
        load_raw: LoadRaw,
        data_dir: Path | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._describe = describe
        self._load_raw = load_raw
        self._data_dir = data_dir
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=LOADER_THREADS, thread_name_prefix="hpo-api-datasets")
        self._previews: dict[DatasetName, DatasetPreview] = {}
        self._failures: dict[DatasetName, tuple[float, str]] = {}
        self._loading: dict[DatasetName, asyncio.Lock] = {}

    def describe(self) -> list[Dataset]:
        return [_dataset(info) for info in self._describe(self._data_dir)]

    async def preview(self, name: DatasetName, count: int) -> DatasetPreview:
        count = max(1, min(count, MAX_PREVIEW))
        if name in USER_DATA:
            raise DatasetUnavailable(f"{name.value} is your own data, given per study with data_dir; no preview here")
        async with self._loading.setdefault(name, asyncio.Lock()):  # one load per dataset; others wait for it
            full = self._previews.get(name)
            if full is None:
                full = self._previews[name] = await self._load(name)
        return full.model_copy(update={"samples": full.samples[:count]})

    async def _load(self, name: DatasetName) -> DatasetPreview:
        failed = self._failures.get(name)
        if failed is not None and self._clock() - failed[0] < FAILURE_TTL_SECONDS:
            raise DatasetUnavailable(failed[1])
        loop = asyncio.get_running_loop()
        try:
            raw = await loop.run_in_executor(self._executor, self._load_raw, name, self._data_dir)
            return await loop.run_in_executor(self._executor, build_preview, name, raw, MAX_PREVIEW)
        except DatasetUnavailable as exc:
            self._failures[name] = (self._clock(), str(exc))
            raise
        except Exception as exc:
            message = _first_line(exc)
            message = message if message.startswith(name.value) else f"{name.value}: {message}"
            self._failures[name] = (self._clock(), message)
            raise DatasetUnavailable(message) from exc

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_preview(name: DatasetName, raw: RawDataLike, count: int) -> DatasetPreview:
    split = raw.train if raw.train is not None and len(raw.train.y) else raw.test
    if split is None or not len(split.y):
        raise DatasetUnavailable(f"{name.value}: the files hold no samples")
    modality = DATASET_MODALITY[name]
    samples = []
    for index in _spread(np.asarray(split.y), count):
        label = int(split.y[index])
        class_name = raw.class_names[label] if 0 <= label < len(raw.class_names) else str(label)
        if modality is Modality.IMAGE:
            png = encode_png(np.asarray(split.x[index]))
            samples.append(Sample(label=label, class_name=class_name, image_png_base64=base64.b64encode(png).decode()))
        else:
            samples.append(Sample(label=label, class_name=class_name, text=_text(split.x[index])))
    return DatasetPreview(name=name, modality=modality, samples=samples)


def _spread(labels: npt.NDArray[Any], count: int) -> list[int]:
    """Indices of ``count`` samples taking each class in turn (first occurrences first)."""
    chosen: list[int] = []
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels[: max(count * 200, 2000)].tolist()):
        by_class.setdefault(int(label), []).append(index)
    rounds = 0
    while len(chosen) < count and any(len(v) > rounds for v in by_class.values()):
        chosen += [v[rounds] for _, v in sorted(by_class.items()) if len(v) > rounds][: count - len(chosen)]
        rounds += 1
    return chosen


def _text(tokens: Any) -> str:
    words = list(tokens)[:TEXT_PREVIEW_WORDS]
    if words and not isinstance(words[0], str):
        return "word ids: " + " ".join(str(int(w)) for w in words)
    return " ".join(str(w) for w in words)


def _dataset(info: DatasetInfoLike) -> Dataset:
    return Dataset(
        name=info.name,
        modality=info.modality,
        description=info.description,
        formats=list(info.formats),
        num_classes=info.num_classes,
        input_shape=list(info.input_shape) if info.input_shape else None,
        available=info.available,
        user_data=info.user_data,
        source=info.source,
        num_samples=info.num_samples,
        problem=info.problem,
        download_url=info.download_url,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
