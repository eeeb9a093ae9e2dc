from __future__ import annotations

import pytest

pytest.importorskip("tensorflow", reason="the trainer extra is not installed (pip install -e '.[trainer]')")
