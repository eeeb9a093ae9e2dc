"""A trial child imports Keras without matplotlib, scikit-learn, pandas or SciPy, and can still import them later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# The child's main loop, run as it runs in a trial child: given its setup and told to exit before it starts, it
# warms up, says ready and exits through os._exit, which this script wraps to report what it had imported by then.
CHILD_SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, os, sys
    from pathlib import Path
    from services.runtime.artifacts.local import LocalArtifactStore
    from services.trainer.isolation import serve_trials
    from services.trainer.settings import TrainerSettings

    optional = ("matplotlib", "sklearn", "pandas", "scipy")
    real_exit = os._exit

    def report_then_exit(code):
        imported = sorted(name for name in optional if name in sys.modules)
        import sklearn.utils  # hidden only while Keras was imported: a later import gets the real package
        report = {"keras": "keras" in sys.modules, "imported": imported, "sklearn_later": sklearn.utils.__name__}
        print(json.dumps(report))
        sys.stdout.flush()
        real_exit(code)

    os._exit = report_then_exit
    parent_end, child_end = multiprocessing.Pipe()
    work = Path(sys.argv[1])
    parent_end.send(("setup", TrainerSettings(trainer_id="lean", work_dir=work), LocalArtifactStore(work)))
    parent_end.send(("exit",))
    serve_trials(child_end)
    """
)


def test_a_trial_child_imports_keras_without_its_optional_integrations_and_can_import_them_afterwards(
    tmp_path: Path,
) -> None:
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(tmp_path)], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"keras": True, "imported": [], "sklearn_later": "sklearn.utils"}
