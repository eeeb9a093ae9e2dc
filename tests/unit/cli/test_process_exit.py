"""The CLI's process skips the interpreter's last garbage collections: every object left is frozen at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# A handler registered before main runs after main's (atexit runs them last-in, first-out): it sees the
# collector's state as the interpreter's teardown will.
SCRIPT = textwrap.dedent(
    """
    import atexit, gc
    atexit.register(lambda: print("frozen", gc.get_freeze_count(), "tracked", len(gc.get_objects())))
    from services.cli.main import main
    main([])
    main([])
    """
)


def test_every_object_left_at_exit_is_frozen_so_the_last_collections_skip_it() -> None:
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    words = done.stdout.strip().splitlines()[-1].split()
    assert words[0] == "frozen" and words[2] == "tracked"
    assert int(words[1]) > 10_000  # the CLI's modules and what they made
    assert int(words[3]) == 0  # nothing left for a collection to walk
