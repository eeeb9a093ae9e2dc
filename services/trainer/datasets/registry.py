"""The trainer's entry point to data: ``load_dataset`` and ``describe_datasets``.

For built-in datasets the loaders look in ``data_dir/<name>/`` and in ``data_dir`` itself, find every
supported format there, and use the source holding the most samples (``DatasetSplits.source`` says
which). A dataset's own train/test split is kept, with validation carved from train; when only one
split (or one pool) is present it is split into train/validation/test and a note says so. Splits are
stratified and seeded; ``seed=None`` uses ``DEFAULT_SEED`` so every trainer sees the same splits.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from contracts.enums import DatasetName, Modality
from services.trainer.datasets.base import DatasetInfo, DatasetSplits, LoadOptions, Split
from services.trainer.datasets.catalog import SPECS, DatasetSpec
from services.trainer.datasets.download import DOWNLOADS, download_missing
from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source
from services.trainer.datasets.splits import carve, check_fractions, split_pool, subsample, take
from services.trainer.datasets.vocabulary import build_vocabulary, encode

log = logging.getLogger(__name__)

DEFAULT_SEED = 0


def _parse_name(name: DatasetName | str) -> DatasetName:
    try:
        return DatasetName(name)
    except ValueError:
        valid = ", ".join(n.value for n in DatasetName)
        raise DatasetError(f"unknown dataset '{name}'; choose one of {valid}") from None


def _not_found(spec: DatasetSpec, data_dir: Path) -> DatasetError:
    """A short first line (what is missing where), then how to fix it on the next lines."""
    looked = " and ".join(str(p) for p in (data_dir / spec.name.value, data_dir))
    kinds = " or ".join(spec.formats)
    lines = [
        f"{spec.name.value}: no data found in {looked}",
        f"  looked for {kinds}: {spec.expected}",
    ]
    if spec.url:
        lines.append(f"  get them from {spec.url} (unpack archives) into {data_dir / spec.name.value}/")
        lines.append("  or add download=yes to fetch them")
    return DatasetError("\n".join(lines))


def find_source(spec: DatasetSpec, data_dir: Path | None, options: LoadOptions | None = None) -> Source:
    """The source ``load_dataset`` would use: the one with the most samples among those found."""
    if data_dir is None:
        if spec.needs_dir:
            raise DatasetError(f"{spec.name.value}: no data directory given; pass the folder that holds its files")
        data_dir = Path(".")
    sources = spec.find(data_dir, options or LoadOptions())
    if not sources:
        raise _not_found(spec, data_dir)
    return max(sources, key=lambda s: s.num_samples)  # the first one wins a tie


def load_dataset(
    name: DatasetName,
    data_dir: Path | None,
    *,
    seed: int | None = None,
    max_samples: int | None = None,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    allow_download: bool = False,
    options: LoadOptions | None = None,
) -> DatasetSplits:
    """Load ``name`` from its original files under ``data_dir`` into train/validation/test splits.

    ``max_samples`` caps the training split (stratified). ``allow_download`` fetches missing official
    files into ``data_dir/<name>/`` first. ``options`` say how user data is read (unreadable images,
    CSV columns). Missing or corrupt data raises ``DatasetError``.
    """
    dataset = _parse_name(name)
    spec = SPECS[dataset]
    check_fractions(validation_fraction, test_fraction)
    if max_samples is not None and max_samples < 1:
        raise DatasetError(f"max_samples must be at least 1, got {max_samples}")
    if allow_download and dataset in DOWNLOADS:
        if data_dir is None:
            raise DatasetError(f"{dataset.value}: downloads need a data directory to put the files in")
        download_missing(dataset, data_dir / dataset.value)
    source = find_source(spec, data_dir, options)
    raw = source.load()
    rng = np.random.default_rng(DEFAULT_SEED if seed is None else seed)
    return _assemble(spec, source, raw, rng, max_samples, validation_fraction, test_fraction)


def _assemble(
    spec: DatasetSpec,
    source: Source,
    raw: RawData,
    rng: np.random.Generator,
    max_samples: int | None,
    validation_fraction: float,
    test_fraction: float,
) -> DatasetSplits:
    name = spec.name.value
    class_names = raw.class_names or list(spec.class_names or ())
    notes = list(raw.notes)
    for warning in raw.warnings:
        log.info("%s", warning)
    for part in (raw.train, raw.test):
        if part is not None and len(part) and (part.y.min() < 0 or part.y.max() >= len(class_names)):
            raise DatasetError(f"{name}: labels in {source.location} fall outside the {len(class_names)} classes")
    if raw.train is not None and raw.test is not None:
        rest, val = carve(raw.train.y, validation_fraction, rng)
        train, validation = take(raw.train, rest), take(raw.train, val)
        test = take(raw.test, rng.permutation(len(raw.test)))
        test_source = f"the dataset's own test split ({len(test)} samples)"
    else:
        pool = raw.train if raw.train is not None else raw.test
        if pool is None or len(pool) == 0:
            raise DatasetError(f"{name}: {source.location} holds no samples")
        tr, va, te = split_pool(pool.y, validation_fraction, test_fraction, rng)
        train, validation, test = take(pool, tr), take(pool, va), take(pool, te)
        held = "has no separate test split" if source.splits == ("all",) else f"holds only the {source.splits[0]} split"
        note = (
            f"{name}: the data found {held}; its {len(pool)} samples were split into "
            f"train/validation/test = {len(train)}/{len(validation)}/{len(test)} (stratified, seeded)."
        )
        notes.append(note)
        log.info(note)
        test_source = f"made by the loader: {len(test)} of the {len(pool)} samples found (stratified, seeded)"
    if max_samples is not None and max_samples < len(train):
        notes.append(f"{name}: training split capped at {max_samples} of {len(train)} samples (stratified).")
        train = take(train, subsample(train.y, max_samples, rng))
    parts = _finish(spec.modality, train, validation, test)
    input_shape = tuple(int(d) for d in parts[0].x.shape[1:]) if spec.modality is Modality.IMAGE else ()
    return DatasetSplits(
        name=spec.name,
        modality=spec.modality,
        train=parts[0],
        validation=parts[1],
        test=parts[2],
        class_names=class_names,
        input_shape=input_shape,
        source=source.describe(),
        notes=notes,
        warnings=list(raw.warnings),
        test_source=test_source,
    )


def _finish(modality: Modality, *parts: RawSplit) -> list[Split]:
    if modality is Modality.IMAGE:
        return [Split(p.x, p.y) for p in parts]
    vocabulary = build_vocabulary(parts[0].x)
    return [Split(encode(p.x, vocabulary), p.y) for p in parts]


def describe_datasets(data_dir: Path | None) -> list[DatasetInfo]:
    """Every dataset with its modality, classes, shapes and whether (and in which format) ``data_dir`` holds it."""
    infos = []
    for spec in SPECS.values():
        info = DatasetInfo(
            name=spec.name,
            modality=spec.modality,
            description=spec.description,
            formats=spec.formats,
            num_classes=len(spec.class_names) if spec.class_names else None,
            input_shape=spec.input_shape,
            available=False,
            user_data=spec.user_data,
            download_url=spec.url,
        )
        if spec.user_data:
            infos.append(info)
            continue
        try:
            source = find_source(spec, data_dir)
        except (DatasetError, OSError) as e:
            infos.append(replace(info, problem=str(e)))
            continue
        infos.append(replace(info, available=True, source=source.describe(), num_samples=source.num_samples))
    return infos
