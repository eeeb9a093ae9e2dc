"""``hpo optimize --url``: submit a study to a deployment, follow it live, fetch its results.

The study's events arrive over the API's live stream and drive the same terminal progress as an
embedded run. When the stream ends, the results ZIP is downloaded to ``output_dir/<study>.zip`` and
unpacked into ``output_dir/<study>/``: the layout of an embedded run. The first Ctrl-C asks the
study to stop (its results are still written and fetched); the second leaves it running remotely.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from pydantic import ValidationError
from rich.console import Console

from contracts.enums import StudyState
from contracts.events import ID_PATTERN, STUDY_NAME_PATTERN, parse_event
from contracts.study import StudyConfig
from services.cli.progress import StudyProgress
from services.cli.remote.client import RemoteApi
from services.cli.study_args import OptimizeRequest
from services.cli.summary import print_study_end
from services.runtime.errors import UserInputError

QUIET_EVENTS = {"snapshot", "lagged", "message"}


def run_remote(api: RemoteApi, request: OptimizeRequest, console: Console, *, force: bool = False) -> StudyState:
    config = request.config
    accepted = api.submit(config.model_dump(mode="json"), request.study_name)
    job_id, study_name = accepted["job_id"], accepted["study_name"]
    console.print(f"study [bold]{study_name}[/bold] submitted to {api.url} as job {job_id}")
    return _follow_to_the_end(api, job_id, study_name, config, request.output_dir, console, force=force)


def resume_remote(
    api: RemoteApi, job_id: str, output_dir: Path, console: Console, *, force: bool = False
) -> StudyState:
    """Ask the deployment to continue a stopped job, follow it, fetch its results."""
    job = api.job(job_id)
    api.resume(job_id)
    config = StudyConfig.model_validate(job["config"])
    console.print(f"study [bold]{job['name']}[/bold] resumed on {api.url} (job {job_id})")
    return _follow_to_the_end(api, job_id, job["name"], config, output_dir, console, force=force)


def _follow_to_the_end(
    api: RemoteApi,
    job_id: str,
    study_name: str,
    config: StudyConfig,
    output_dir: Path,
    console: Console,
    *,
    force: bool,
) -> StudyState:
    with StudyProgress(console=console, trials=config.trials, max_epochs=config.max_epochs) as progress:
        follow(api, job_id, progress, console)
    completed = progress.completed  # None when the study had ended before the stream opened
    state = completed.data.state if completed is not None else StudyState(api.job(job_id)["state"])
    study_dir, bundle = fetch_results(api, job_id, study_name, output_dir, force=force)
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


MAX_DOWNLOAD_BYTES = 10 * 1024**3
MAX_UNPACKED_BYTES = 20 * 1024**3
MAX_ENTRIES = 100_000
MAX_COMPRESSION_RATIO = 200


def local_name(study_name: str, job_id: str) -> str:
    """The name of the local ZIP and folder: the study's name when it is a safe one, else the job id."""
    if re.fullmatch(STUDY_NAME_PATTERN, study_name):
        return study_name
    if re.fullmatch(ID_PATTERN, job_id):
        return job_id
    raise UserInputError("the server sent neither a safe study name nor a safe job id; not writing its results")


def fetch_results(
    api: RemoteApi, job_id: str, study_name: str, output_dir: Path, *, force: bool = False
) -> tuple[Path, Path]:
    """Download the results ZIP and unpack it beside: ``output_dir/<study>.zip`` and ``output_dir/<study>/``.
    Both are always inside ``output_dir``; existing ones are replaced only with ``force``."""
    name = local_name(study_name, job_id)
    output_dir = output_dir.resolve()
    bundle, study_dir = output_dir / f"{name}.zip", output_dir / name
    existing = [path for path in (bundle, study_dir) if path.exists()]
    if existing and not force:
        raise UserInputError(f"{existing[0]} exists already; pass --force to replace it (or --output-dir DIR)")
    api.download(job_id, bundle, max_bytes=MAX_DOWNLOAD_BYTES)
    unpack(bundle, study_dir, replace=force)
    return study_dir, bundle


def unpack(
    bundle: Path,
    target: Path,
    *,
    max_bytes: int = MAX_UNPACKED_BYTES,
    max_entries: int = MAX_ENTRIES,
    max_ratio: int = MAX_COMPRESSION_RATIO,
    replace: bool = False,
) -> None:
    """Unpack a results ZIP into ``target``; a common top folder is dropped.

    Every entry is checked before anything is written (its path stays inside ``target``; at most
    ``max_entries`` entries and ``max_bytes`` in all; no entry compressed more than ``max_ratio`` to 1),
    the archive is unpacked into a temporary folder beside ``target``, and that folder is renamed into
    place: ``target`` is never left half-written. A bad archive is a one-line ``UserInputError``."""
    try:
        archive = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, OSError):
        raise UserInputError(f"{bundle} is not a readable ZIP file; the download may be incomplete") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        relatives = _checked_paths(bundle, members, max_bytes, max_entries, max_ratio)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for member, relative in zip(members, relatives, strict=True):
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, destination.open("wb") as out:
                    written = 0
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > member.file_size:
                            raise UserInputError(f"{bundle}: {member.filename!r} is larger than it says; refusing it")
                        out.write(chunk)
            if target.exists():
                if not replace:
                    raise UserInputError(f"{target} exists already; pass --force to replace it")
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            staging.replace(target)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise UserInputError(f"{bundle} is damaged ({type(exc).__name__}); download it again") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _checked_paths(
    bundle: Path, members: list[zipfile.ZipInfo], max_bytes: int, max_entries: int, max_ratio: int
) -> list[PurePosixPath]:
    if len(members) > max_entries:
        raise UserInputError(f"{bundle} holds {len(members)} files, more than {max_entries}; refusing it")
    if sum(m.file_size for m in members) > max_bytes:
        raise UserInputError(f"{bundle} unpacks to more than {max_bytes} bytes; refusing it")
    for member in members:
        if member.file_size > max_ratio * max(member.compress_size, 1) and member.file_size > 1024**2:
            raise UserInputError(f"{bundle}: {member.filename!r} is compressed suspiciously well; refusing it")
    parts = [PurePosixPath(m.filename.replace("\\", "/")).parts for m in members]
    strip = 1 if parts and all(len(p) > 1 and p[0] == parts[0][0] for p in parts) else 0
    relatives = []
    for member, path_parts in zip(members, parts, strict=True):
        relative = PurePosixPath(*path_parts[strip:])
        if not path_parts[strip:] or relative.is_absolute() or ".." in relative.parts or ":" in member.filename:
            raise UserInputError(f"{bundle} holds an unsafe path {member.filename!r}; refusing it")
        relatives.append(relative)
    return relatives
