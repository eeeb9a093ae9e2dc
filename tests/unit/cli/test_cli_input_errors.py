"""Bad input to ``hpo optimize`` is one clear error on stderr (a short first line, hints indented below
it), exit code 2, no traceback, no files."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.main import EXIT_USAGE, main
from services.cli.study_args import parse_assignments
from services.runtime.errors import UserInputError

BAD_INPUTS = {
    "unknown dataset": (["dataset=svhn"], "dataset=svhn"),
    "unknown objective": (["optimize_for=f1"], "optimize_for=f1"),
    "unknown mode": (["mode=turbo"], "mode=turbo"),
    "health objective in simple mode": (["mode=simple", "optimize_for=overall_health"], "needs mode=health"),
    "health weight above 1": (["health_weight=1.5"], "health_weight=1.5"),
    "health weight below 0": (["health_weight=-0.1"], "health_weight=-0.1"),
    "no trials": (["trials=0"], "trials=0"),
    "typo in a key": (["trails=3"], "did you mean 'trials'"),
    "not key=value": (["digits"], "not key=value"),
    "missing data dir": (["dataset=mnist", "data_dir=/definitely/not/here"], "does not exist"),
    "user folder without data_dir": (["dataset=image_folder"], "needs data_dir"),
    "health weight not a number": (["health_weight=nan"], "health_weight must be a number in [0, 1]"),
    "study name that climbs out": (["study_name=../x"], "study_name=../x: use 1-100 letters"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args, expected = BAD_INPUTS[name]
    code = main(["optimize", *args, f"output_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert expected in err
    assert "Traceback" not in err
    first, *hints = err.strip().splitlines()
    assert first.startswith("error: ") and len(first) <= 120 and all(line.startswith("  ") for line in hints)
    assert not (tmp_path / "out").exists(), "nothing may be written for a rejected request"


def test_corrupt_data_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    (mnist / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 10))
    (mnist / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    code = main(["optimize", "dataset=mnist", f"data_dir={tmp_path}", f"output_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "mnist" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        ("learning_rate: {type: float, low: 1, high: [", ".yaml", "not valid yaml"),
        ("{not json", ".json", "not valid json"),
        ("- name: lr\n  type: float\n", ".yaml", "needs 'low' and 'high'"),
        ("42", ".yaml", "expected a list"),
    ],
)
def test_unreadable_search_space_file(tmp_path: Path, content: str, suffix: str, expected: str) -> None:
    path = tmp_path / f"space{suffix}"
    path.write_text(content)
    with pytest.raises(UserInputError, match=expected):
        parse_assignments(["dataset=digits"], str(path))


def test_missing_search_space_file(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="cannot read search-space file"):
        parse_assignments([f"search_space_file={tmp_path / 'nope.yaml'}"])


def test_search_space_file_overrides_by_name(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(
        "batch_size: {type: categorical, choices: [16]}\n"
        "learning_rate: {type: float, low: 0.001, high: 0.01, log: true}\n"
    )
    request = parse_assignments(["dataset=digits", "trials=3"], str(path))
    space = {p.name: p for p in request.config.effective_search_space().params}
    assert space["batch_size"].choices == [16]
    assert space["learning_rate"].low == 0.001
    assert request.config.trials == 3


def test_help_lists_every_option_with_its_default() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "optimize", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for key in (
        "dataset",
        "mode",
        "optimize_for",
        "trials",
        "max_epochs",
        "health_weight",
        "parallelism",
        "sampler",
        "pruner",
        "seed",
        "data_dir",
        "output_dir",
        "search_space_file",
    ):
        assert f"  {key} " in out
    assert "default 0.3" in out and "tpe|random|cmaes|gp|grid" in out


@pytest.mark.parametrize("where", ["/proc/x", "a file", "inside a file"])
def test_an_unwritable_output_dir_is_one_line_before_anything_loads(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    output_dir = {"/proc/x": "/proc/x", "a file": str(tmp_path / "file"), "inside a file": str(tmp_path / "file/x")}
    code = main(["optimize", "dataset=mnist", "data_dir=/definitely/not/here", f"output_dir={output_dir[where]}"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and len(err.strip().splitlines()) == 1 and "output_dir" in err, err
    assert "does not exist" not in err, "checked before the data"


def test_an_unknown_search_space_parameter_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("learnin_rate: {type: float, low: 0.001, high: 0.01}\n")
    with pytest.raises(UserInputError) as refused:
        parse_assignments(["dataset=digits"], str(path))
    message = str(refused.value)
    assert "unknown parameter 'learnin_rate'" in message and "did you mean 'learning_rate'?" in message
    assert "known: conv_blocks, filters" in message


def test_a_long_error_is_a_short_first_line_then_its_hints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optimize", "dataset=mnist", f"data_dir={tmp_path}", f"output_dir={tmp_path / 'out'}"]) == EXIT_USAGE
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"error: mnist: no data found in {tmp_path / 'mnist'} and {tmp_path}"
    assert any("get them from https://" in line for line in lines[1:]) and all(
        line.startswith("  ") for line in lines[1:]
    )
