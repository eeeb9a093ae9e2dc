"""fANOVA's imports (scikit-learn, SciPy) start in the background when a study's first trial starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

CHECK = textwrap.dedent(
    """
    import asyncio, sys, threading
    from services.reporter import projections
    from services.reporter.results import importance

    assert "sklearn" not in sys.modules, "scikit-learn was imported before any trial started"

    async def start_two_trials():
        class Writer:
            async def run_once(self, event_id, apply):
                return True
        deps = type("Deps", (), {"writer": Writer()})()
        for number in (0, 1):
            event = projections.TrialStarted(
                source="trainer", study_id="s", trial_id=f"t{number}",
                data={"trainer_id": "tr", "trial_number": number},
            )
            await projections.on_trial_started(event, deps)

    asyncio.run(start_two_trials())
    imports = [t for t in threading.enumerate() if t.name == "import-fanova"]
    assert len(imports) <= 1, imports
    for thread in imports:
        thread.join(120)
    assert "optuna.importance" in sys.modules and "sklearn" in sys.modules
    print("imported ahead")
    """
)


def test_the_first_trial_start_imports_fanova_once_in_the_background() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported ahead" in done.stdout
