"""Draw per-trial plots in child processes: Agg rendering holds the GIL, so threads do not help.

Children are plain ``python -c`` processes fed a pickle on stdin. Unlike ``multiprocessing``'s
spawn and forkserver modes they never re-import the parent's ``__main__`` (an unguarded script
would run again), and unlike fork they never inherit the threads and locks of an embedded run.
Any failure makes the caller draw in-process instead.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib

from services.reporter.plots.style import RC
from services.reporter.plots.trial import draw_trial
from services.reporter.results.view import TrialView

_BOOT = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from services.reporter.plots.workers import serve; serve()"
)
SECONDS_PER_TRIAL = 10.0
STARTUP_SECONDS = 60.0

Job = tuple[TrialView, Path, int]


class WorkerError(RuntimeError):
    """A plotting child process failed; the caller falls back to drawing in-process."""


def draw_jobs(jobs: list[Job]) -> list[dict[str, Path]]:
    """Draw every (trial, folder, dpi) job in this process."""
    with matplotlib.rc_context(RC):
        return [draw_trial(trial, folder, dpi) for trial, folder, dpi in jobs]


def serve() -> None:
    """Child entry point: jobs from stdin (pickle), results to stdout (pickle)."""
    jobs: list[Job] = pickle.load(sys.stdin.buffer)
    pickle.dump(draw_jobs(jobs), sys.stdout.buffer)
    sys.stdout.buffer.flush()


def _run_child(jobs: list[Job]) -> list[dict[str, Path]]:
    command = [sys.executable, "-c", _BOOT, json.dumps(sys.path)]
    timeout = STARTUP_SECONDS + SECONDS_PER_TRIAL * len(jobs)
    try:
        done = subprocess.run(command, input=pickle.dumps(jobs), capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkerError(f"plot worker did not finish: {exc}") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise WorkerError(f"plot worker exited with {done.returncode}: {tail[0]}")
    result: list[dict[str, Path]] = pickle.loads(done.stdout)
    return result


def draw_in_workers(jobs: list[Job], workers: int) -> list[dict[str, Path]]:
    """Draw ``jobs`` across ``workers`` child processes; results in job order."""
    chunks = [jobs[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_run_child, chunks))
    ordered: list[dict[str, Path]] = [{} for _ in jobs]
    for offset, chunk_result in enumerate(results):
        for i, files in enumerate(chunk_result):
            ordered[offset + i * workers] = files
    return ordered
