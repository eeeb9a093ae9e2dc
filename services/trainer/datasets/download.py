"""Downloading a built-in dataset's original files into ``<data_dir>/<name>/`` when they are missing.

Every file is written under a temporary name in the target folder and renamed when complete; archives
are unpacked into a temporary folder first and moved into place afterwards, so an interrupted
download never leaves a half-written file that a rerun would trust.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from contracts.enums import DatasetName
from services.trainer.datasets.errors import DatasetError

log = logging.getLogger(__name__)

_KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_TORONTO = "https://www.cs.toronto.edu/~kriz/"
_GTSRB = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"
_IDX = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@dataclass(frozen=True)
class Download:
    """One file to fetch; ``present`` (relative to the dataset folder) shows it is already there."""

    url: str
    present: str
    extract: bool = False


DOWNLOADS: dict[DatasetName, tuple[Download, ...]] = {
    DatasetName.MNIST: tuple(Download(_MNIST + f, f) for f in _IDX),
    DatasetName.FASHION_MNIST: tuple(Download(_KERAS + f, f) for f in _IDX),
    DatasetName.CIFAR10: (Download(_TORONTO + "cifar-10-python.tar.gz", "cifar-10-batches-py/test_batch", True),),
    DatasetName.CIFAR100: (Download(_TORONTO + "cifar-100-python.tar.gz", "cifar-100-python/test", True),),
    DatasetName.GTSRB: (
        Download(_GTSRB + "GTSRB_Final_Training_Images.zip", "GTSRB/Final_Training/Images", True),
        Download(_GTSRB + "GTSRB_Final_Test_Images.zip", "GTSRB/Final_Test/Images", True),
        Download(_GTSRB + "GTSRB_Final_Test_GT.zip", "GT-final_test.csv", True),
    ),
    DatasetName.IMDB: (Download(_KERAS + "imdb.npz", "imdb.npz"),),
    DatasetName.REUTERS: (Download(_KERAS + "reuters.npz", "reuters.npz"),),
}


def download_missing(name: DatasetName, target: Path) -> None:
    """Fetch every official file of ``name`` that ``target`` does not hold yet."""
    for item in DOWNLOADS.get(name, ()):
        if (target / item.present).exists():
            continue
        target.mkdir(parents=True, exist_ok=True)
        filename = item.url.rsplit("/", 1)[-1]
        if not item.extract:
            _fetch(item.url, target / filename)
            continue
        with tempfile.TemporaryDirectory(dir=target, prefix=".download-") as tmp:
            archive = Path(tmp) / filename
            _fetch(item.url, archive)
            unpacked = Path(tmp) / "unpacked"
            _extract(archive, unpacked)
            _merge(unpacked, target)


def _fetch(url: str, destination: Path) -> None:
    log.info("downloading %s to %s", url, destination)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done, next_report = 0, 0.1
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if total and done / total >= next_report:
                    log.info("%s: %d%% of %.1f MB", destination.name, 100 * done // total, total / 1e6)
                    next_report += 0.1
        os.replace(tmp_name, destination)
    except (urllib.error.URLError, OSError) as e:
        raise DatasetError(f"could not download {url} ({e}); put the file into {destination.parent}/ by hand") from e
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _extract(archive: Path, into: Path) -> None:
    log.info("unpacking %s", archive.name)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(into)
        else:
            with tarfile.open(archive) as t:
                t.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"{archive.name}: downloaded archive is corrupt ({e}); try again") from e


def _merge(source: Path, target: Path) -> None:
    """Move everything under ``source`` into ``target``, keeping what ``target`` already has."""
    for entry in source.iterdir():
        destination = target / entry.name
        if not destination.exists():
            os.replace(entry, destination)
        elif entry.is_dir() and destination.is_dir():
            _merge(entry, destination)
        else:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
