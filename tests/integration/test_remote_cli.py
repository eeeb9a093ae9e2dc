"""The remote CLI against a deployment: API, scheduler, health, reporter and Keras trainers as separate
processes on RabbitMQ, Postgres and S3. ``hpo optimize --url`` runs a study, shows its live events and
unpacks the results ZIP with exactly the files of the same study run embedded; ``hpo jobs`` and
``hpo download`` work on it; a wrong token is a one-line error."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from services.cli.main import EXIT_OK, EXIT_USAGE, main
from tests.integration.cluster import Cluster, Processes, results_layout
from tests.support.http import is_ready
from tests.support.ports import free_port
from tests.support.s3 import S3Server
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OPTIONS = ["dataset=digits", "mode=health", "trials=3", "max_epochs=2", "max_samples=400", "pruner=none", "seed=5"]


def _only_study(root: Path) -> Path:
    (study_dir,) = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return study_dir


async def test_the_remote_cli_runs_a_study_streams_it_and_fetches_the_embedded_layout(
    cluster: Cluster,
    processes: Processes,
    tmp_path: Path,
    s3_server: S3Server,
    s3_bucket: str,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "t" + secrets.token_urlsafe(24)  # never starting with "-", which argparse would read as an option
    api_port, probe_port = free_port(), free_port()
    processes.env |= {
        "HPO_S3_ENDPOINT": s3_server.endpoint,
        "HPO_S3_ACCESS_KEY": s3_server.access_key,
        "HPO_S3_SECRET_KEY": s3_server.secret_key,
        "HPO_S3_BUCKET": s3_bucket,
        "HPO_TRAINER_MODE": "keras",
        "HPO_API_TOKEN": token,
        "HPO_DATABASE_URL": postgres_url,
        "HPO_API_HOST": "127.0.0.1",
        "HPO_API_PORT": str(api_port),
    }
    await cluster.start(trainers=2)
    processes.start("api", "api", probe_port)
    await eventually(lambda: is_ready(probe_port), "the API to be ready", timeout=60, interval=0.1)
    url = f"http://127.0.0.1:{api_port}"
    remote_root = tmp_path / "remote"
    try:
        wrong = ["stop", "no-such-job", "--url", url, "--token", "wrong-" + token]
        assert await asyncio.to_thread(main, wrong) == EXIT_USAGE
        assert "refused" in capsys.readouterr().err
        code = await asyncio.to_thread(
            main, ["optimize", "--url", url, "--token", token, *OPTIONS, f"output_dir={remote_root}"]
        )
        assert code == EXIT_OK
        streamed = capsys.readouterr().out
        assert "submitted" in streamed and "best trial #" in streamed and "trial 2" in streamed
        assert await asyncio.to_thread(main, ["jobs", "--url", url, "--token", token]) == EXIT_OK
        listed = capsys.readouterr().out
        remote_dir = _only_study(remote_root)
        assert remote_dir.name in listed and "completed" in listed
        job_id = listed.split(remote_dir.name)[0].split()[-1]
        again = tmp_path / "again"
        assert (
            await asyncio.to_thread(
                main, ["download", job_id, "--url", url, "--token", token, "--output-dir", str(again)]
            )
            == EXIT_OK
        )
    finally:
        await cluster.stop(tmp_path / "logs")
    assert (remote_root / f"{remote_dir.name}.zip").is_file()
    assert results_layout(_only_study(again)) == results_layout(remote_dir)

    embedded_root = tmp_path / "embedded"
    assert await asyncio.to_thread(main, ["optimize", *OPTIONS, f"output_dir={embedded_root}"]) == EXIT_OK
    layout = results_layout(remote_dir)
    assert layout == results_layout(_only_study(embedded_root))
    assert {"report.md", "best_model.keras", "trials.csv", "best_params.yaml"} <= layout
