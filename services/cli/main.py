"""The ``hpo`` command: embedded or remote studies, ``jobs``/``stop``/``download`` on a deployment, and ``serve``."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import logging
import os
import sys
import uuid
import webbrowser
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from contracts.enums import StudyState
from services.runtime.errors import UserInputError

if TYPE_CHECKING:
    from contracts.study import StudyConfig
    from services.cli.early_trainer import FirstTrialChild
    from services.cli.remote.client import RemoteApi
    from services.cli.resume import ResumableStudy
    from services.runpod.settings import BridgeSettings
    from services.trainer.isolation import ProcessTrialRunner

EXIT_OK, EXIT_STUDY_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

OPTIMIZE_EPILOG = """\
Examples:
  hpo optimize dataset=digits mode=health trials=8 max_epochs=5
  hpo optimize dataset=mnist data_dir=./data mode=simple optimize_for=val_accuracy trials=15
  hpo optimize dataset=imdb data_dir=./data sampler=random pruner=hyperband seed=7
  hpo optimize dataset=image_folder data_dir=./my_images --search-space space.yaml

Datasets are read from their original files in data_dir (data_dir/<dataset>/ or data_dir itself);
digits is bundled and needs no files. Results go to output_dir/<study>/ and output_dir/<study>.zip.
"""


def build_parser() -> argparse.ArgumentParser:
    from services.cli.study_args import describe_options

    parser = argparse.ArgumentParser(
        prog="hpo",
        description="Health-aware hyperparameter optimization for Keras/TensorFlow classifiers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'hpo optimize --help' for every study option and its default.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what every service does")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    optimize = commands.add_parser(
        "optimize",
        help="run a study in this process (key=value options)",
        description="Run a study: every service in this process, results under output_dir.\n\nOptions (key=value):\n"
        + describe_options(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=OPTIMIZE_EPILOG,
    )
    optimize.add_argument("options", nargs="*", metavar="key=value", help="study options, see above")
    optimize.add_argument("--search-space", metavar="FILE", help="YAML/JSON search-space overrides")
    optimize.add_argument("-v", "--verbose", action="store_true", help="log what every service does")
    optimize.add_argument(
        "--interactive", action="store_true", help="ask for each option with its choices and default, then run"
    )
    optimize.add_argument(
        "--resume",
        metavar="STUDY",
        default=None,
        help="continue an interrupted study (its name or id; with --url, its job id): finished trials are kept, "
        "only the remaining ones run, the report covers all; output_dir= names where it ran",
    )
    _remote_arguments(optimize, required=False)
    optimize.add_argument(
        "--force", action="store_true", help="remote run: replace an existing <study>.zip and <study>/ when fetching"
    )
    optimize.add_argument(
        "--api-port", type=int, default=None, metavar="PORT",
        help="embedded run: also serve the REST API on 127.0.0.1:PORT while the study runs (0: any free port)",
    )  # fmt: skip
    optimize.add_argument(
        "--ui", action="store_true",
        help="embedded run: serve the API (on --api-port, else any free port) and open the control panel on it",
    )  # fmt: skip
    resume = commands.add_parser("resume", help="continue an interrupted study (same as optimize --resume)")
    resume.add_argument("study", metavar="STUDY", help="the study's name or id (with --url, its job id)")
    resume.add_argument("options", nargs="*", metavar="output_dir=DIR", help="where the study ran")
    resume.add_argument("--api-port", type=int, default=None, metavar="PORT", help="also serve the REST API")
    resume.add_argument("--force", action="store_true", help="remote: replace existing results when fetching")
    _remote_arguments(resume, required=False)
    datasets = commands.add_parser(
        "datasets",
        help="list datasets and whether their files are present; describe your own image folder or CSV",
        description="List the datasets and whether --data-dir holds their files. When --data-dir is itself "
        "your data (a folder of class subfolders of images, or a CSV of text and labels), also describe it: "
        "classes, images per class, image sizes and channels, unreadable files; or rows, labels and columns.",
    )
    datasets.add_argument(
        "--data-dir", default=None, help="folder holding the datasets' original files, or your own data"
    )
    datasets.add_argument("--text-column", default="text", help="a CSV's text column (default: text)")
    datasets.add_argument("--label-column", default="label", help="a CSV's label column (default: label)")
    serve = commands.add_parser(
        "serve",
        help="run one service as its own process (RabbitMQ, S3/MinIO, Postgres)",
        description="Run one service until SIGTERM/Ctrl-C. Settings: HPO_* environment variables "
        "(HPO_AMQP_URL, HPO_S3_ENDPOINT, HPO_S3_ACCESS_KEY, HPO_S3_SECRET_KEY, HPO_S3_BUCKET, HPO_HTTP_PORT, "
        "HPO_DATABASE_URL, HPO_SCHEDULER_OPTUNA_STORAGE, HPO_TRAINER_*, HPO_RUNPOD_*, HPO_API_TOKEN, HPO_API_HOST, "
        "HPO_API_PORT, HPO_API_*, HPO_DEVELOPMENT), optionally from --env-file.",
    )
    serve.add_argument("service", choices=["scheduler", "trainer", "health", "reporter", "api", "runpod-bridge"])
    serve.add_argument("--env-file", default=None, help="KEY=VALUE file loaded before the environment is read")
    serve.add_argument("-v", "--verbose", action="store_true", help="log what the service does")
    ui = commands.add_parser(
        "ui",
        help="the control panel (Streamlit) for an API",
        description="Start the Streamlit control panel on a local port, talking to the API at --url. The token "
        "comes from HPO_API_TOKEN, or the panel asks for it once.",
    )
    ui.add_argument(
        "--url",
        default=os.environ.get("HPO_UI_API_URL") or os.environ.get("HPO_API_URL"),
        help="the API, e.g. http://host:8000 (default: HPO_UI_API_URL or HPO_API_URL)",
    )
    ui.add_argument("--port", type=int, default=8501, help="the panel's port (default 8501; 0: any free port)")
    ui.add_argument("--host", default="127.0.0.1", help="the address the panel listens on (default 127.0.0.1)")
    ui.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    jobs = commands.add_parser("jobs", help="list the studies of a remote deployment")
    _remote_arguments(jobs, required=True)
    stop = commands.add_parser("stop", help="ask a remote study to stop (its results are still written)")
    stop.add_argument("job_id", metavar="ID")
    _remote_arguments(stop, required=True)
    download = commands.add_parser("download", help="fetch a remote study's results ZIP and unpack it")
    download.add_argument("job_id", metavar="ID")
    download.add_argument("--output-dir", default="./optimization_results", help="where <study>/ and <study>.zip go")
    download.add_argument("--force", action="store_true", help="replace an existing <study>.zip and <study>/")
    _remote_arguments(download, required=True)
    tokens = commands.add_parser(
        "tokens",
        help="named API tokens (read, submit, admin) with quotas",
        description="Manage the API's named tokens in the read-model database (HPO_DATABASE_URL).",
    )
    token_commands = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = token_commands.add_parser("create", help="make a token (shown once)")
    create.add_argument("name", help="lowercase name; it owns the jobs the token starts")
    create.add_argument("--role", default="submit", choices=["read", "submit", "admin"])
    create.add_argument("--max-trial-epochs", type=int, default=None, help="quota: trials x max_epochs per study")
    create.add_argument("--max-running-studies", type=int, default=None, help="quota: studies running at once")
    token_commands.add_parser("list", help="every token with its role, state and quotas")
    revoke = token_commands.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("name")
    for parser_ in token_commands.choices.values():
        parser_.add_argument("--database-url", default=None, help="default: HPO_DATABASE_URL")
        parser_.add_argument("--env-file", default=None, help="KEY=VALUE file loaded before the environment is read")
    db = commands.add_parser("db", help="database maintenance", description="Read-model database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply the Alembic migrations of the read models")
    upgrade.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL (default: HPO_DATABASE_URL or its default)"
    )
    upgrade.add_argument("--env-file", default=None, help="KEY=VALUE file loaded before the environment is read")
    from services.cli.dashboards import add_dashboards_parser
    from services.cli.export import add_export_parser
    from services.cli.runpod import add_runpod_parser

    add_dashboards_parser(commands)
    add_export_parser(commands)
    add_runpod_parser(commands)
    return parser


def _remote_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    where = "run the study on the deployment whose API is at URL" if not required else "the deployment's API"
    parser.add_argument("--url", default=os.environ.get("HPO_API_URL"), help=f"{where} (or HPO_API_URL)")
    parser.add_argument("--token", default=None, help="the API's bearer token (default: HPO_API_TOKEN)")


def main(argv: list[str] | None = None) -> int:
    skip_the_last_garbage_collection()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any child starts: TensorFlow's C++ info logs stay off
    from services.cli.early_trainer import start_first_trial_child

    # first of all: an embedded study's trial process imports TensorFlow while this one reads the options
    first_child = start_first_trial_child(sys.argv[1:] if argv is None else argv)
    try:
        return _command(argv, first_child)
    finally:
        first_child.discard()  # not taken: the command failed early or did not need it


def _command(argv: list[str] | None, first_child: FirstTrialChild) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(verbose=bool(getattr(args, "verbose", False)), service=args.command == "serve")
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    try:
        if args.command == "resume":
            if args.url:
                return _resume_remote(args.url, args.token, args.study, args.options, console, force=args.force)
            return _optimize(list(args.options), None, console, api_port=args.api_port, resume=args.study)
        if args.command == "optimize":
            options = list(args.options)
            if args.interactive:
                from services.cli.remote.interactive import ask_options

                options = ask_options(console.input, console.print) + options
            if args.url and args.resume:
                return _resume_remote(args.url, args.token, args.resume, options, console, force=args.force)
            if args.url:
                return _optimize_remote(args.url, args.token, options, args.search_space, console, force=args.force)
            return _optimize(
                options,
                args.search_space,
                console,
                api_port=args.api_port,
                resume=args.resume,
                ui=args.ui,
                first_child=first_child,
            )
        if args.command == "ui":
            from services.cli.ui import run_ui

            if not args.url:
                raise UserInputError("hpo ui needs the API's address: --url http://host:8000 (or HPO_UI_API_URL)")
            opening = not args.no_browser and sys.stdout.isatty()
            return run_ui(args.url, args.port, args.host, console, open_browser=opening)
        if args.command in ("jobs", "stop", "download"):
            return _remote_command(args, console)
        if args.command == "datasets":
            return _datasets(args.data_dir, console, text_column=args.text_column, label_column=args.label_column)
        if args.command == "serve":
            return _serve(args.service, args.env_file)
        if args.command == "db":
            return _db_upgrade(args.database_url, args.env_file, console)
        if args.command == "tokens":
            return _tokens(args, console)
        if args.command == "runpod":
            from services.cli.runpod import run_runpod

            return run_runpod(args, console)
        if args.command == "export":
            from services.cli.export import run_export

            return run_export(args, console)
        if args.command == "dashboards":
            from services.cli.dashboards import run_dashboards

            return run_dashboards(args, console)
        parser.print_help()
        return EXIT_USAGE
    except UserInputError as exc:
        Console(stderr=True, highlight=False).print(f"[red]error:[/red] {short_first_line(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("interrupted")
        return EXIT_INTERRUPTED


def skip_the_last_garbage_collection() -> None:
    """Freeze every live object at exit, after the atexit handlers registered later have run, before the
    interpreter tears down: its last collections walk each object left (about 300,000 after an embedded study:
    Optuna, SciPy, scikit-learn, matplotlib), 0.5 s of the digits demo's wall time spent on memory the OS takes
    back anyway. Nothing is lost: files and connections are closed by then, and objects freed by their last
    reference (module teardown) are still finalized; only unreachable cycles are left to the OS."""
    atexit.unregister(gc.freeze)  # once, however often main runs in one process (tests call it in-process)
    atexit.register(gc.freeze)


def _optimize(
    options: list[str],
    search_space: str | None,
    console: Console,
    *,
    api_port: int | None = None,
    resume: str | None = None,
    ui: bool = False,
    first_child: FirstTrialChild | None = None,
) -> int:
    from services.cli.preflight import check_output_dir
    from services.cli.study_args import parse_assignments

    resumed: ResumableStudy | None = None
    bridge: BridgeSettings | None = None
    if resume is not None:
        from services.cli.resume import find_study  # the read model's imports (0.3 s): a resumed study's only

        output_dir = check_output_dir(_resume_output_dir(options))
        resumed = find_study(output_dir, resume)
        config, study_id, study_name, allow_download = resumed.config, resumed.study_id, resumed.name, False
    else:
        request = parse_assignments(options, search_space)
        output_dir = check_output_dir(request.output_dir)
        config, allow_download = request.config, request.allow_download
        study_id = uuid.uuid4().hex
        started = datetime.now(UTC)
        generated = f"{config.dataset.value}_{config.mode.value}_{started:%Y%m%d_%H%M%S}_{study_id[:6]}"
        study_name = request.study_name or generated
        if request.trainer == "runpod":
            from services.cli.runpod import bridge_for_study

            bridge = bridge_for_study(config, request.endpoint or "")
    from services.cli.early_trainer import start_trial_process
    from services.cli.preflight import check_dataset

    # first: the trial process imports TensorFlow while the dataset is checked (it writes nothing until a trial)
    runner = (
        None
        if bridge is not None
        else start_trial_process(config, output_dir, resumed=resumed is not None, first_child=first_child)
    )
    try:
        # on RunPod the data is the worker's (its image, a network volume or a download there): nothing to check
        notes = [] if bridge is not None else check_dataset(config, allow_download=allow_download)
        run = _StudyRun(config, study_id, study_name, output_dir, resumed, api_port, bridge, runner, ui=ui)
        return _run_study(run, console, notes)
    finally:
        if runner is not None:
            runner.close()


@dataclass(frozen=True)
class _StudyRun:
    config: StudyConfig
    study_id: str
    study_name: str
    output_dir: Path
    resumed: ResumableStudy | None
    api_port: int | None
    bridge: BridgeSettings | None
    runner: ProcessTrialRunner | None
    ui: bool = False


def _run_study(run: _StudyRun, console: Console, notes: list[str]) -> int:
    config, study_id, study_name, output_dir = run.config, run.study_id, run.study_name, run.output_dir
    resumed, api_port, bridge, runner, ui = run.resumed, run.api_port, run.bridge, run.runner, run.ui
    verb = "resuming" if resumed is not None else "study"
    console.print(
        f"{verb} [bold]{study_name}[/bold]: {config.dataset.value}, mode={config.mode.value}, "
        f"optimize_for={config.optimize_for.value}, trials={config.trials}, max_epochs={config.max_epochs}, "
        f"sampler={config.sampler.value}, pruner={config.pruner.value}"
    )
    for note in notes:
        console.print(f"[cyan]data:[/cyan] {note}")
    if bridge is not None:
        console.print(
            f"trainer: RunPod endpoint {bridge.endpoint_id or bridge.endpoint_url}, up to {bridge.concurrency} jobs "
            f"at once, execution timeout {bridge.execution_timeout_seconds:.0f} s"
        )

    from services.cli.embedded import run_embedded
    from services.cli.progress import StudyProgress
    from services.cli.summary import print_summary
    from services.cli.ui import Panel, start_panel

    panels: list[Panel] = []

    def open_panel(api_url: str, token: str | None) -> None:
        try:
            panel = start_panel(api_url, port=0, token=token)
        except UserInputError as exc:
            console.print(f"[yellow]control panel:[/yellow] {short_first_line(str(exc))}")
            return
        panels.append(panel)
        live = f"{panel.url}/live?job={study_id}"
        console.print(f"Control panel: [bold]{live}[/bold]")
        if sys.stdout.isatty():
            webbrowser.open(live)

    try:
        with StudyProgress(console=console, trials=config.trials, max_epochs=config.max_epochs) as progress:
            if resumed is not None:
                progress.seed(resumed.finished)
            outcome = asyncio.run(
                run_embedded(
                    config,
                    study_id,
                    study_name,
                    output_dir,
                    progress,
                    api_port=0 if ui and api_port is None else api_port,
                    resume=resumed is not None,
                    bridge=bridge,
                    on_api=open_panel if ui else None,
                    runner=runner,
                )
            )
    finally:
        for panel in panels:
            panel.stop()
    print_summary(console, outcome, progress)
    state = outcome.completed.data.state
    if state is StudyState.FAILED:
        return EXIT_STUDY_FAILED
    return EXIT_INTERRUPTED if state is StudyState.STOPPED else EXIT_OK


def _resume_output_dir(options: list[str]) -> Path:
    """``--resume`` keeps the study's own settings: only ``output_dir=`` may be given."""
    output_dir = Path("./optimization_results")
    for option in options:
        key, _, value = option.partition("=")
        if key.strip().replace("-", "_") != "output_dir" or not value:
            raise UserInputError(
                f"'{option}': a resumed study keeps its own settings; only output_dir=DIR may be given"
            )
        output_dir = Path(value)
    return output_dir


def _resume_remote(
    url: str, token: str | None, job_id: str, options: list[str], console: Console, *, force: bool
) -> int:
    from services.cli.remote.session import resume_remote

    output_dir = _resume_output_dir(options)
    with _remote_api(url, token) as api:
        state = resume_remote(api, job_id, output_dir, console, force=force)
    if state is StudyState.FAILED:
        return EXIT_STUDY_FAILED
    return EXIT_INTERRUPTED if state is StudyState.STOPPED else EXIT_OK


def _remote_api(url: str | None, token: str | None) -> RemoteApi:
    from services.cli.remote.client import RemoteApi

    if not url:
        raise UserInputError("give the deployment's API address with --url URL (or set HPO_API_URL)")
    return RemoteApi(url, token or os.environ.get("HPO_API_TOKEN"))


def _optimize_remote(
    url: str, token: str | None, options: list[str], search_space: str | None, console: Console, *, force: bool
) -> int:
    from services.cli.remote.session import run_remote
    from services.cli.study_args import parse_assignments

    request = parse_assignments(options, search_space)
    with _remote_api(url, token) as api:
        state = run_remote(api, request, console, force=force)
    if state is StudyState.FAILED:
        return EXIT_STUDY_FAILED
    return EXIT_INTERRUPTED if state is StudyState.STOPPED else EXIT_OK


def _remote_command(args: argparse.Namespace, console: Console) -> int:
    from services.cli.remote.session import fetch_results

    with _remote_api(args.url, args.token) as api:
        if args.command == "jobs":
            page = api.jobs()
            for job in page["items"]:
                counts = ", ".join(f"{n} {state}" for state, n in sorted(job.get("counts", {}).items()))
                console.print(f"{job['job_id']}  {job['name']:<40} {job['state']:<10} {counts}")
            console.print(f"{len(page['items'])} of {page['total']} jobs")
        elif args.command == "stop":
            api.stop(args.job_id)
            console.print(f"job {args.job_id}: stopping (running trials end at their next epoch boundary)")
        else:
            name = api.job(args.job_id)["name"]
            study_dir, bundle = fetch_results(api, args.job_id, name, Path(args.output_dir), force=args.force)
            console.print(f"results: {study_dir}\nzip:     {bundle}")
    return EXIT_OK


def _datasets(data_dir: str | None, console: Console, *, text_column: str = "text", label_column: str = "label") -> int:
    from rich.markup import escape

    from services.trainer.datasets import LoadOptions, describe_datasets
    from services.trainer.datasets.user_data import describe_user_data

    for info in describe_datasets(Path(data_dir) if data_dir else None):
        status = "present" if info.available else ("user data" if info.user_data else "missing")
        shape = "x".join(str(d) for d in info.input_shape) if info.input_shape else "-"
        detail = info.source or info.problem or ""
        console.print(
            escape(
                f"{info.name.value:<14} {info.modality.value:<6} classes={info.num_classes or '-':<4} "
                f"shape={shape:<8} {status:<9} {detail}"
            )
        )
    if data_dir:
        options = LoadOptions(text_column=text_column, label_column=label_column)
        described = describe_user_data(Path(data_dir), options)
        if described is not None:
            kind = described.dataset.value
            console.print(
                f"\n[bold]{escape(data_dir)}[/bold] is your own data (dataset={kind} data_dir={escape(data_dir)}):"
            )
            for line in described.lines:
                console.print(escape(line))
            if described.problem:
                console.print(f"[red]problem:[/red] {escape(described.problem)}")
    return EXIT_OK


def _serve(service: str, env_file: str | None) -> int:
    from services.cli.serve import load_env_file, serve

    load_env_file(env_file)
    asyncio.run(serve(service))
    return EXIT_OK


def _db_upgrade(database_url: str | None, env_file: str | None, console: Console) -> int:
    from services.cli.serve import load_env_file
    from services.runtime.db.migrate import current_revision, upgrade
    from services.runtime.settings import DatabaseSettings, load

    load_env_file(env_file)
    url = database_url or load(DatabaseSettings).url
    upgrade(url)
    console.print(f"read-model database at revision {current_revision(url)}")
    return EXIT_OK


def _tokens(args: argparse.Namespace, console: Console) -> int:
    from services.cli import tokens
    from services.cli.serve import load_env_file

    load_env_file(args.env_file)
    if args.tokens_command == "create":
        tokens.create(
            args.name,
            args.role,
            args.database_url,
            console,
            max_trial_epochs=args.max_trial_epochs,
            max_running_studies=args.max_running_studies,
        )
    elif args.tokens_command == "list":
        tokens.show(args.database_url, console)
    else:
        tokens.revoke(args.name, args.database_url, console)
    return EXIT_OK


def short_first_line(message: str, width: int = 100) -> str:
    """A long one-line error as a short first line (up to its first '; ') and the rest on the next lines."""
    first, _, rest = message.partition("\n")
    if len(first) > width and "; " in first:
        head, _, tail = first.partition("; ")
        first = head + "".join(f"\n  {part}" for part in tail.split("; "))
    return first + (f"\n{rest}" if rest else "")


def _configure_logging(*, verbose: bool, service: bool) -> None:
    """A served service logs what it does (INFO: started, serving, stopping); an interactive command shows
    its own progress and logs only problems, unless ``-v``."""
    logging.basicConfig(
        level=logging.INFO if verbose or service else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
