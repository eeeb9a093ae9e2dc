"""``/datasets`` and previews, with the trainer's own readers (as ``hpo serve api`` wires them)."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from services.api.app import create_app
from services.api.datasets import FileCatalog
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.trainer.datasets import describe_datasets
from services.trainer.datasets.catalog import SPECS
from services.trainer.datasets.registry import find_source
from tests.conftest import SHARED_DATASETS
from tests.support.http import AUTH
from tests.support.read_models import sqlite_repository
from tests.unit.api.support import Api, settings


def trainer_catalog(data_dir: Path | None) -> FileCatalog:
    return FileCatalog(describe_datasets, lambda name, d: find_source(SPECS[name], d).load(), data_dir)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    data_dir = SHARED_DATASETS if SHARED_DATASETS.is_dir() else None
    repo = sqlite_repository(tmp_path / "db.sqlite")
    app = create_app(
        InMemoryBus(), repo, LocalArtifactStore(tmp_path / "a"), settings(), datasets_catalog=trainer_catalog(data_dir)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as c:
        yield c
    repo.engine.dispose()


async def test_datasets_tell_modality_classes_shape_and_presence(client: httpx.AsyncClient) -> None:
    response = await client.get("/datasets")
    assert response.status_code == 200
    by_name = {d["name"]: d for d in response.json()}
    assert set(by_name) == {
        "mnist",
        "fashion_mnist",
        "cifar10",
        "cifar100",
        "gtsrb",
        "imdb",
        "reuters",
        "digits",
        "image_folder",
        "text_csv",
    }
    digits = by_name["digits"]
    assert digits["modality"] == "image" and digits["num_classes"] == 10 and digits["input_shape"] == [8, 8, 1]
    assert digits["available"] is True and digits["num_samples"] == 1797
    assert by_name["imdb"]["modality"] == "text"
    assert by_name["image_folder"]["user_data"] is True and by_name["image_folder"]["available"] is False
    if SHARED_DATASETS.is_dir():
        assert by_name["mnist"]["available"] is True and by_name["mnist"]["input_shape"] == [28, 28, 1]


async def test_image_preview_returns_pngs_of_several_classes(client: httpx.AsyncClient) -> None:
    response = await client.get("/datasets/digits/preview", params={"count": 4})
    assert response.status_code == 200
    preview = response.json()
    assert preview["modality"] == "image"
    assert [s["label"] for s in preview["samples"]] == [0, 1, 2, 3]
    image = Image.open(io.BytesIO(base64.b64decode(preview["samples"][1]["image_png_base64"])))
    assert image.size == (8, 8) and image.mode == "L"


@pytest.mark.skipif(not SHARED_DATASETS.is_dir(), reason="needs ../shared/datasets")
async def test_rgb_and_text_previews(client: httpx.AsyncClient) -> None:
    cifar = (await client.get("/datasets/cifar10/preview", params={"count": 2})).json()
    image = Image.open(io.BytesIO(base64.b64decode(cifar["samples"][0]["image_png_base64"])))
    assert image.size == (32, 32) and image.mode == "RGB"
    assert cifar["samples"][0]["class_name"] == "airplane"
    imdb = (await client.get("/datasets/imdb/preview", params={"count": 2})).json()
    assert imdb["modality"] == "text"
    assert {s["class_name"] for s in imdb["samples"]} == {"neg", "pos"}
    assert all(s["text"] for s in imdb["samples"])


async def test_previews_that_cannot_be_given(client: httpx.AsyncClient) -> None:
    response = await client.get("/datasets/image_folder/preview")
    assert response.status_code == 404
    assert "your own data" in response.json()["detail"]
    response = await client.get("/datasets/nope/preview")
    assert response.status_code == 422
    assert "digits" in response.json()["detail"][0]["allowed"]
    assert (await client.get("/datasets/digits/preview", params={"count": 99})).status_code == 422


async def test_missing_files_give_a_404_naming_the_problem(tmp_path: Path) -> None:
    catalog = trainer_catalog(tmp_path / "empty")
    repo = sqlite_repository(tmp_path / "db.sqlite")
    app = create_app(InMemoryBus(), repo, LocalArtifactStore(tmp_path / "a"), settings(), datasets_catalog=catalog)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as c:
        response = await c.get("/datasets/mnist/preview")
        assert response.status_code == 404
        assert response.json()["detail"].startswith("mnist: no data found")
        assert {d["name"]: d["available"] for d in (await c.get("/datasets")).json()}["mnist"] is False
    repo.engine.dispose()


async def test_without_the_trainer_catalog_only_the_contracts_are_known(api: Api) -> None:
    datasets = (await api.client.get("/datasets")).json()
    assert len(datasets) == 10
    assert all(d["available"] is False for d in datasets)
    assert (await api.client.get("/datasets/digits/preview")).status_code == 404
