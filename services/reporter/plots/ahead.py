"""Trial plots drawn ahead: while a study runs, each trial's plots are drawn as soon as its final health
assessment is in, so that the report only copies them (the embedded run: 40 of its 45 PNGs, about four
seconds of drawing, leave the time between the last trial and the results).

A drawing is filed under a digest of everything it was drawn from (the trial's ``TrialView`` and the dpi).
The report looks each plotted trial up by the digest of the view it has just read: a trial whose view
changed since (a late event, a new score) is simply not found and is drawn with the report, so a plot
drawn ahead is never stale. One background thread draws, one trial at a time; ``settle`` drops the trials
still waiting and waits for the one being drawn.

Only a study's first ``trial_plots`` finished trials are drawn ahead: up to there every trial is plotted,
and each drawing reads the whole study view, which is cheap for that many. Past it, which trials the
report plots depends on scores still to come, and reading the study per trial would grow with it; those
trials are drawn with the report, as without this.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import matplotlib

from services.reporter.plots import plotted_trials
from services.reporter.plots.style import RC
from services.reporter.plots.trial import draw_trial
from services.reporter.results.view import TrialView, load_study_view
from services.runtime.db.repository import ReadModelRepository

log = logging.getLogger(__name__)


def drawing_key(trial: TrialView, dpi: int) -> str:
    """The digest of what a trial's plots are drawn from."""
    return hashlib.sha256(pickle.dumps((trial, dpi), protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()


class TrialPlotsAhead:
    """Draws trials' plots into a folder inside ``root`` in a background thread; ``find`` hands out what
    matches a view."""

    def __init__(self, root: Path, repository: ReadModelRepository, *, dpi: int, trial_plots: int) -> None:
        """Drawings go to a folder of their own made inside ``root`` (``root`` itself is never emptied)."""
        self._parent = root
        self._root: Path | None = None
        self._repository = repository
        self._dpi = dpi
        self._trial_plots = trial_plots
        self._drawn: dict[str, dict[str, Path]] = {}
        self._lock = threading.Lock()
        self._waiting: list[Future[None]] = []
        self._offered: dict[str, int] = {}  # trials of each study handed to trial_final so far
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trial-plots-ahead")

    def trial_final(self, study_id: str, trial_id: str) -> bool:
        """Draw ``trial_id``'s plots soon, if it is among the trials the report plots; False when the study
        is past its first ``trial_plots`` trials (nothing is queued)."""
        with self._lock:
            offered = self._offered.get(study_id, 0)
            if offered >= self._trial_plots:
                return False
            self._offered[study_id] = offered + 1
            self._waiting = [future for future in self._waiting if not future.done()]
            self._waiting.append(self._pool.submit(self._draw, study_id, trial_id))
            return True

    def settle(self) -> None:
        """Before a report: drop the drawings not begun, wait for the one being drawn."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.cancel():
                with contextlib.suppress(Exception):
                    future.result()

    def find(self, trial: TrialView, dpi: int) -> dict[str, Path] | None:
        """The plots drawn ahead from exactly this view at this dpi (name -> file), or None."""
        with self._lock:
            return self._drawn.get(drawing_key(trial, dpi))

    def close(self) -> None:
        """Stop drawing and remove what was drawn."""
        self.settle()
        self._pool.shutdown(wait=True)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def _folder(self) -> Path:
        if self._root is None:
            self._parent.mkdir(parents=True, exist_ok=True)
            self._root = Path(tempfile.mkdtemp(prefix="trial-plots-", dir=self._parent))
        return self._root

    def _draw(self, study_id: str, trial_id: str) -> None:
        try:
            view = load_study_view(self._repository, study_id)
            trial = next((t for t in plotted_trials(view, self._trial_plots) if t.record.trial_id == trial_id), None)
            if trial is None:
                return
            key = drawing_key(trial, self._dpi)
            with self._lock:
                if key in self._drawn:
                    return
            root = self._folder()
            staging = Path(tempfile.mkdtemp(prefix=".drawing-", dir=root))
            with matplotlib.rc_context(RC):
                files = draw_trial(trial, staging, self._dpi)
            folder = root / key
            staging.rename(folder)
            with self._lock:
                self._drawn[key] = {name: folder / path.name for name, path in files.items()}
        except Exception:  # the report draws whatever is missing; nothing of a study depends on this
            log.warning("drawing trial %s's plots ahead failed; the report draws them", trial_id, exc_info=True)
