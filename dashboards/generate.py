"""Write the dashboards' JSON (and the metric catalog's Markdown) into this folder.

``python -m dashboards.generate`` rewrites them; ``--check`` only says which files differ (exit 1).
The output is deterministic: sorted keys, two-space indent, ids and uids fixed by the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboards import FOLDER, json_path, overview, pipeline, training
from services.runtime.observability.catalog import markdown

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    overview.UID: overview.build,
    training.UID: training.build,
    pipeline.UID: pipeline.build,
}
METRICS_DOC = FOLDER / "METRICS.md"


def render(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files(folder: Path = FOLDER) -> dict[Path, str]:
    files = {folder / json_path(uid).name: render(build()) for uid, build in BUILDERS.items()}
    files[folder / METRICS_DOC.name] = markdown()
    return files


def stale_files(folder: Path = FOLDER) -> list[Path]:
    """The generated files in ``folder`` that are missing or differ from what the code generates."""
    return [path for path, text in expected_files(folder).items() if not path.is_file() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"{path.name} differs from the code; run python -m dashboards.generate")
        return 1 if stale else 0
    for path, text in expected_files().items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
