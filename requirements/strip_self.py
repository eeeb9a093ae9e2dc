"""Drop the project's own entry (``hpo @ file:///...``, a path on the machine that made the lock) from a
pip-compile lock file, so that it can serve as constraints anywhere: ``python strip_self.py FILE``."""

import sys
from pathlib import Path

path = Path(sys.argv[1])
kept, skipping = [], False
for line in path.read_text().splitlines():
    if line.startswith("hpo @ "):
        skipping = True
        continue
    if skipping and line.startswith("    #"):
        continue
    skipping = False
    kept.append(line)
path.write_text("\n".join(kept) + "\n")
