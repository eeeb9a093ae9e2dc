"""Dependencies: every one has a lower bound above its releases with known vulnerabilities that matter
here, and the lock that installs use pins every package exactly, within those bounds."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"
SAFE_MINIMUMS = {  # package -> the first release without the vulnerability that matters to us
    "pillow": "11.3",  # decodes users' images
    "python-multipart": "0.0.18",  # parses request bodies (CVE-2024-53981)
    "h11": "0.16",  # parses HTTP (CVE-2025-43859)
    "starlette": "0.47.2",  # serves the API (CVE-2025-54121)
    "urllib3": "2.5",  # fetches from S3 (CVE-2025-50181)
    "requests": "2.32.4",  # CVE-2024-47081
    "keras": "3.12",  # loads models (safe_mode bypasses fixed up to 3.11)
}


NOT_IN_THE_DEV_LOCK = {"trainer-gpu"}  # the GPU image resolves CUDA's TensorFlow on a GPU machine


def _requirements(*, locked_only: bool = False) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra, lines in project["optional-dependencies"].items():
        if not (locked_only and extra in NOT_IN_THE_DEV_LOCK):
            declared += lines
    return [Requirement(line) for line in declared if not line.startswith("hpo[")]


def _locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = Version(version.split(";")[0].strip())
    return pins


def test_every_dependency_has_a_lower_bound() -> None:
    unbounded = [str(r) for r in _requirements() if not any(s.operator in (">=", "==") for s in r.specifier)]
    assert unbounded == []


@pytest.mark.parametrize(("package", "minimum"), sorted(SAFE_MINIMUMS.items()))
def test_lower_bounds_leave_out_vulnerable_releases(package: str, minimum: str) -> None:
    bounds = [r.specifier for r in _requirements() if r.name.lower() == package]
    assert bounds, f"{package} is not declared"
    assert all(not spec.contains(_just_below(minimum)) for spec in bounds)
    assert _locked()[package] >= Version(minimum)


def _just_below(version: str) -> Version:
    parts = [int(p) for p in version.split(".")]
    parts[-1] -= 1
    return Version(".".join(str(p) for p in parts if p >= 0))


def test_the_lock_pins_everything_exactly_and_names_no_local_path() -> None:
    text = LOCK.read_text()
    assert "file://" not in text and "hpo @" not in text
    pins = _locked()
    assert len(pins) > 100
    for requirement in _requirements(locked_only=True):
        name = requirement.name.lower()
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        assert name in pins, f"{name} is not in the lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} breaks {requirement}"
        )
