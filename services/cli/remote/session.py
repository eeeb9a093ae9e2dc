"""``hpo optimize --url``: submit a study to a deployment, follow it live, fetch its results.

The study's events arrive over the API's live stream and drive the same terminal progress as an
embedded run. When the stream ends, the results ZIP is downloaded to ``output_dir/<study>.zip`` and
unpacked into ``output_dir/<study>/``: the layout of an embedded run. The first Ctrl-C asks the
study to stop (its results are still written and fetched); the second leaves it running remotely.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from pydantic import ValidationError
from rich.console import Console

from contracts.enums import StudyState
from contracts.events import parse_event
from services.cli.progress import StudyProgress
from services.cli.remote.client import RemoteApi
from services.cli.study_args import OptimizeRequest
from services.cli.summary import print_study_end
from services.runtime.errors import UserInputError

QUIET_EVENTS = {"snapshot", "lagged", "message"}


def run_remote(api: RemoteApi, request: OptimizeRequest, console: Console) -> StudyState:
    config = request.config
    accepted = api.submit(config.model_dump(mode="json"))
    job_id, study_name = accepted["job_id"], accepted["study_name"]
    console.print(f"study [bold]{study_name}[/bold] submitted to {api.url} as job {job_id}")
    with StudyProgress(console=console, trials=config.trials, max_epochs=config.max_epochs) as progress:
        follow(api, job_id, progress, console)
    completed = progress.completed  # None when the study had ended before the stream opened
    state = completed.data.state if completed is not None else StudyState(api.job(job_id)["state"])
    study_dir, bundle = fetch_results(api, job_id, study_name, request.output_dir)
    if completed is not None:
        print_study_end(console, completed, progress, str(study_dir), str(bundle))
    else:
        console.print(f"study {state.value}\nresults: {study_dir}\nzip:     {bundle}")
    return state


def follow(api: RemoteApi, job_id: str, progress: StudyProgress, console: Console) -> None:
    """Render the job's events until its stream ends; the first Ctrl-C asks the study to stop."""
    stop_sent = False
    while True:
        try:
            for message in api.events(job_id):
                if message.name == "end":
                    return
                if message.name == "lagged":
                    console.print(f"[yellow]missed {message.json().get('dropped')} events (slow connection)[/yellow]")
                if message.name in QUIET_EVENTS:
                    continue
                try:
                    event = parse_event(message.data)
                except ValidationError:
                    continue  # an event type newer than this client: skip it
                progress.handle(event)
            return
        except KeyboardInterrupt:
            if stop_sent:
                console.print(f"left job {job_id} running on {api.url}; 'hpo stop {job_id} --url {api.url}' stops it")
                raise
            stop_sent = True
            api.stop(job_id)
            console.print("stopping the study (Ctrl-C again to leave it running and quit)...")


def fetch_results(api: RemoteApi, job_id: str, study_name: str, output_dir: Path) -> tuple[Path, Path]:
    """Download the results ZIP and unpack it beside: ``output_dir/<study>.zip`` and ``output_dir/<study>/``."""
    bundle = api.download(job_id, output_dir / f"{study_name}.zip")
    study_dir = output_dir / study_name
    unpack(bundle, study_dir)
    return study_dir, bundle


def unpack(bundle: Path, target: Path, *, max_bytes: int = 20 * 1024**3) -> None:
    """Unpack a results ZIP into ``target``; a common top folder is dropped. Refuses entries that would
    land outside ``target`` (absolute paths, ``..``) and archives that unpack to more than ``max_bytes``."""
    try:
        archive = zipfile.ZipFile(bundle)
    except zipfile.BadZipFile:
        raise UserInputError(f"{bundle} is not a ZIP file; the download may be incomplete") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > max_bytes:
            raise UserInputError(f"{bundle} unpacks to more than {max_bytes} bytes; refusing it")
        parts = [PurePosixPath(m.filename).parts for m in members]
        strip = 1 if parts and all(len(p) > 1 and p[0] == parts[0][0] for p in parts) else 0
        root = target.resolve()
        for member, path_parts in zip(members, parts, strict=True):
            relative = PurePosixPath(*path_parts[strip:])
            destination = (root / relative).resolve()
            if relative.is_absolute() or ".." in relative.parts or not destination.is_relative_to(root):
                raise UserInputError(f"{bundle} holds an unsafe path {member.filename!r}; refusing it")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
