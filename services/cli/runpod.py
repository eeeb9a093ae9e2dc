"""``hpo runpod up|status|down`` (GPU pods that join a deployment's studies as trainers) and the settings
of ``hpo optimize trainer=runpod endpoint=ID`` (each trial of an embedded study as a serverless job)."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from contracts.study import StudyConfig
from services.runtime.errors import UserInputError

if TYPE_CHECKING:
    from services.runpod.pods import PodsApi
    from services.runpod.settings import BridgeSettings

DEFAULT_IMAGE = "ghcr.io/hpo/hpo-trainer-gpu:latest"
EXIT_OK = 0


def bridge_for_study(config: StudyConfig, endpoint: str) -> BridgeSettings:
    """The bridge of an embedded study (``HPO_RUNPOD_*`` with ``endpoint``); a study whose trials cannot fit
    the endpoint's execution timeout is refused here, before anything starts."""
    try:
        from services.runpod.costs import EpochTimeBudget
        from services.runpod.settings import BridgeSettings
        from services.runtime.settings import load
    except ImportError as exc:  # pragma: no cover - an install without the runpod extra
        raise UserInputError(f"trainer=runpod needs the runpod extra: pip install 'hpo[runpod]' ({exc})") from None
    settings = load(BridgeSettings, prefix="HPO_RUNPOD_", endpoint_id=endpoint)
    budget = EpochTimeBudget(settings.execution_timeout_seconds, settings.seconds_per_epoch)
    refusal = budget.refusal(config.max_epochs)
    if refusal is not None:
        raise UserInputError(f"trainer=runpod: {refusal}")
    return settings


def add_runpod_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runpod = commands.add_parser(
        "runpod",
        help="GPU pods on RunPod that join this deployment's studies as trainers",
        description="Pods run the trainer image with 'hpo serve trainer', given only the broker and object-store "
        "settings (HPO_AMQP_URL, HPO_EXCHANGE, HPO_QUEUE_PREFIX, HPO_S3_*), never database credentials. "
        "The API key comes from HPO_RUNPOD_API_KEY.",
    )
    actions = runpod.add_subparsers(dest="runpod_command", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="create pods (within the cost guards)")
    up.add_argument("--gpu-type", required=True, help='RunPod GPU type id, e.g. "NVIDIA RTX A5000"')
    up.add_argument("--count", type=int, default=1, help="pods to create (default 1)")
    up.add_argument(
        "--image",
        default=os.environ.get("HPO_RUNPOD_TRAINER_IMAGE", DEFAULT_IMAGE),
        help="the GPU trainer image (default: HPO_RUNPOD_TRAINER_IMAGE or %(default)s)",
    )
    up.add_argument("--max-pods", type=int, default=4, help="cost guard: pods of this deployment at most")
    up.add_argument("--max-hourly-usd", type=float, default=3.0, help="cost guard: all its pods per hour at most")
    up.add_argument("--idle-exit-seconds", type=float, default=900, help="a pod stops after this long with no trial")
    actions.add_parser("status", help="list the pods with GPU, cost per hour, uptime and trials trained")
    actions.add_parser("down", help="terminate the pods")
    for action in actions.choices.values():
        action.add_argument(
            "--name-prefix", default="hpo-trainer", help="pods are named PREFIX-N (default %(default)s)"
        )
        action.add_argument("--env-file", default=None, help="KEY=VALUE file loaded before the environment is read")


def run_runpod(args: argparse.Namespace, console: Console) -> int:
    from services.cli.serve import load_env_file
    from services.runpod.pods import PodsApi

    load_env_file(args.env_file)
    api = PodsApi(os.environ.get("HPO_RUNPOD_API_KEY", ""))
    prefix = args.name_prefix
    if args.runpod_command == "up":
        return _up(api, args, console)
    pods = api.list(prefix)
    if args.runpod_command == "status":
        trained = _trials_trained()
        for pod in pods:
            count = trained.get(pod.name)
            console.print(
                escape(
                    f"{pod.id:<16} {pod.name:<20} {pod.gpu:<26} ${pod.cost_per_hour:.2f}/h  "
                    f"up {timedelta(seconds=pod.uptime_seconds)}  {pod.status:<8} "
                    f"trials trained {'-' if count is None else count}"
                )
            )
        hourly = sum(p.cost_per_hour for p in pods)
        console.print(f"{len(pods)} pods, ${hourly:.2f}/h in all")
        return EXIT_OK
    for pod in pods:
        api.terminate(pod.id)
        console.print(f"terminated {pod.id} ({escape(pod.name)})")
    console.print(f"{len(pods)} pods terminated")
    return EXIT_OK


def _up(api: PodsApi, args: argparse.Namespace, console: Console) -> int:
    from services.runpod.costs import PodBudget
    from services.runpod.pods import pod_environment

    if args.count < 1:
        raise UserInputError(f"--count {args.count}: give 1 or more pods")
    price = api.gpu_price(args.gpu_type)
    running = api.list(args.name_prefix)
    PodBudget(args.max_pods, args.max_hourly_usd).check(len(running), args.count, price, args.gpu_type)
    taken = {pod.name for pod in running}
    names = (f"{args.name_prefix}-{n}" for n in range(1, 10_000) if f"{args.name_prefix}-{n}" not in taken)
    for _ in range(args.count):
        name = next(names)
        env = pod_environment(os.environ, args.idle_exit_seconds, trainer_id=name)
        pod_id = api.create(name, args.image, args.gpu_type, env)
        console.print(f"created {pod_id} ({name}): {escape(args.gpu_type)} at ${price:.2f}/h")
    total = (len(running) + args.count) * price
    console.print(
        f"{len(running) + args.count} pods, ${total:.2f}/h in all; each stops after "
        f"{args.idle_exit_seconds:g} s with no trial ('hpo runpod down' ends them now)"
    )
    return EXIT_OK


def _trials_trained() -> dict[str, int]:
    """Trials per trainer id from the read models, when ``HPO_DATABASE_URL`` reaches them (else none)."""
    url = os.environ.get("HPO_DATABASE_URL")
    if not url:
        return {}
    import sqlalchemy as sa

    from services.runtime.db.schema import trials

    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(trials.c.trainer_id, sa.func.count()).group_by(trials.c.trainer_id)).all()
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        return {}
    return {str(trainer): int(count) for trainer, count in rows if trainer}
