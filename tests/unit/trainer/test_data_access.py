"""A trial reads its data only inside the trainer's data folder (the embedded run trusts its user)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.data_access import DataDirRefused, resolve_data_dir
from services.trainer.settings import TrainerSettings


def _settings(root: Path, *, trusted: bool = False) -> TrainerSettings:
    return TrainerSettings(trainer_id="t", data_dir=root, allow_absolute_data_dir=trusted)


@pytest.mark.parametrize("requested", ["/proc/self/environ", "/etc/passwd", "../outside", "a/../../outside"])
def test_paths_outside_the_data_folder_are_refused_without_saying_what_exists(tmp_path: Path, requested: str) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(DataDirRefused) as refused:
        resolve_data_dir(requested, _settings(tmp_path / "data"))
    assert "HPO_TRAINER_DATA_DIR" in str(refused.value) and requested not in str(refused.value)


def test_a_symbolic_link_out_of_the_data_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "escape").symlink_to("/etc")
    with pytest.raises(DataDirRefused):
        resolve_data_dir("escape", _settings(tmp_path / "data"))


def test_folders_inside_are_resolved_under_it(tmp_path: Path) -> None:
    assert resolve_data_dir("reviews/2025", _settings(tmp_path)) == (tmp_path / "reviews/2025").resolve()
    assert resolve_data_dir(None, _settings(tmp_path)) == tmp_path


def test_the_embedded_run_trusts_an_absolute_path_its_user_gave(tmp_path: Path) -> None:
    assert resolve_data_dir(str(tmp_path), _settings(Path("."), trusted=True)) == tmp_path
