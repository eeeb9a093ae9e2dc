"""A live hpo API for panel tests: every service of an embedded run (real Keras training on the bundled
digits) plus the REST API on a free port, in a background thread, until ``close()``.

Studies are started through the API itself (``POST /optimize``), as the panel does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from services.api import bootstrap as api_bootstrap
from services.api.settings import load_settings
from services.cli.serve import dataset_catalog
from services.health import bootstrap as health_bootstrap
from services.health.settings import HealthSettings
from services.reporter import bootstrap as reporter_bootstrap
from services.reporter.settings import ReporterSettings
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository
from services.runtime.service import RunningService
from services.scheduler import bootstrap as scheduler_bootstrap
from services.scheduler.settings import SchedulerSettings
from services.trainer import bootstrap as trainer_bootstrap
from services.trainer.settings import TrainerSettings
from tests.support.http import TOKEN

TINY_STUDY: dict[str, Any] = {
    "dataset": "digits",
    "mode": "health",
    "trials": 2,
    "max_epochs": 2,
    "max_samples": 100,
    "seed": 7,
    "pruner": "none",
    "search_space": [
        {"name": "conv_blocks", "type": "int", "low": 1, "high": 1},
        {"name": "filters", "type": "categorical", "choices": [4, 8]},
        {"name": "dense_units", "type": "categorical", "choices": [8, 16]},
        {"name": "batch_size", "type": "categorical", "choices": [32]},
        {"name": "dropout", "type": "float", "low": 0.1, "high": 0.3},
        {"name": "pooling", "type": "categorical", "choices": ["max"]},
        {"name": "augmentation", "type": "categorical", "choices": [False]},
    ],
}


class LiveApi:
    """The services and the API on one event loop in a daemon thread; ``url`` and ``token`` to call it."""

    def __init__(self, root: Path, *, trainer: Literal["keras", "synthetic"] = "keras") -> None:
        self.root = root
        self.token = TOKEN
        self._trainer = trainer
        self._loop = asyncio.new_event_loop()
        self._services: list[RunningService] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-api", daemon=True)
        self._thread.start()
        self.url = self._call(self._start)
        self.repository: ReadModelRepository

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def start_study(self, **overrides: Any) -> str:
        with self.client() as http:
            response = http.post("/optimize", json={**TINY_STUDY, **overrides})
            response.raise_for_status()
            return str(response.json()["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        with self.client() as http:
            response = http.get(f"/jobs/{job_id}")
            response.raise_for_status()
            return dict(response.json())

    def results_ready(self, job_id: str) -> bool:
        with self.client() as http:
            return http.get(f"/jobs/{job_id}/download").status_code == 200

    def stop(self, job_id: str) -> None:
        with self.client() as http:
            http.post(f"/jobs/{job_id}/stop")

    def close(self) -> None:
        self._call(self._stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def _call(self, make: Callable[[], Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(make(), self._loop)
        return future.result(timeout=300)

    async def _start(self) -> str:
        database = sqlite_url(self.root / "read_models.sqlite")
        await asyncio.to_thread(upgrade, database)
        self.repository = ReadModelRepository(create_engine_for(database))
        artifacts = LocalArtifactStore(self.root / "artifacts")
        self._bus = bus = InMemoryBus()
        optuna = sqlite_url(self.root / "optuna.sqlite")
        self._services += [
            await scheduler_bootstrap.start(
                bus, SchedulerSettings(optuna_storage=optuna, resume_unfinished=False, queue_ahead=0)
            ),
            await health_bootstrap.start(bus, HealthSettings()),
            await reporter_bootstrap.start(
                bus, self.repository, artifacts, ReporterSettings(results_root=self.root / "results")
            ),
            await trainer_bootstrap.start(
                bus,
                artifacts,
                TrainerSettings(
                    trainer_id="panel-tests",
                    work_dir=self.root / "work",
                    isolate_trials=False,
                    mode=self._trainer,
                    early_stopping_patience=0,
                ),
            ),
        ]
        settings = load_settings(
            host="127.0.0.1", port=0, token=SecretStr(self.token), development=False, failed_auth_limit=10_000
        )
        api = await api_bootstrap.start(bus, self.repository, artifacts, settings, dataset_catalog(None))
        self._services.append(api)
        return api.url

    async def _stop(self) -> None:
        for service in reversed(self._services):
            await service.stop()
        await self._bus.close()
        self.repository.engine.dispose()
