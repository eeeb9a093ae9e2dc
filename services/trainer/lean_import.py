"""Import Keras and TensorFlow in a trial child without their optional integrations: about 1.3 s less per child.

When they are installed, Keras imports matplotlib (``keras.visualization``), scikit-learn (the
``SKLearnClassifier`` wrappers) and pandas (DataFrames as ``fit`` input), and TensorFlow's legacy Keras
imports SciPy (sparse inputs): 1.2-1.4 s of a child's 4 s start on this machine (``python -X importtime``).
Each import is guarded by ``except ImportError`` and only switches an integration off. A trial child feeds
Keras ``tf.data`` pipelines built from NumPy arrays and uses none of them, so ``import_keras_lean`` imports
Keras with those four packages hidden for the length of that one import. Hidden is not gone: anything that
imports one of them afterwards (a dataset loader's fallback, say) gets the real package.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

OPTIONAL_INTEGRATIONS = ("matplotlib", "sklearn", "pandas", "scipy")


class _HideFromImport(importlib.abc.MetaPathFinder):
    """A finder that answers "not installed" for the named top-level packages and everything under them."""

    def __init__(self, packages: Sequence[str]) -> None:
        self._packages = frozenset(packages)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self._packages:
            raise ModuleNotFoundError(f"{fullname} is hidden while Keras is imported", name=fullname)
        return None


def import_keras_lean() -> None:
    """Import Keras (and with it TensorFlow) with its optional integrations hidden; a no-op once Keras is in."""
    if "keras" in sys.modules:
        return
    hider = _HideFromImport([name for name in OPTIONAL_INTEGRATIONS if name not in sys.modules])
    sys.meta_path.insert(0, hider)
    try:
        import keras  # noqa: F401  (imported for its side effect: it is in sys.modules from now on)
    finally:
        sys.meta_path.remove(hider)
