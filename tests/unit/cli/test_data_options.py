"""The data options (``on_bad_files``, ``text_column``, ``label_column``) on the command line, the preflight's
data notes, and ``hpo datasets --data-dir`` describing the user's own folder or CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from contracts.study import BadFilePolicy
from services.cli.main import EXIT_OK, EXIT_USAGE, main
from services.cli.preflight import check_dataset
from services.cli.study_args import parse_assignments


def _image_folder_with_three_bad_files(root: Path) -> Path:
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (16, 12), (i * 40, 0, 0)).save(root / cls / f"{i}.png")
    for name in ("cats/broken.png", "dogs/empty.jpg", "dogs/[draft].png"):
        (root / name).write_bytes(b"")
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_the_data_options_are_study_options(tmp_path: Path) -> None:
    request = parse_assignments(
        ["dataset=text_csv", f"data_dir={tmp_path}", "on_bad_files=fail", "text_column=Review", "label_column=stars"]
    )
    config = request.config
    assert (config.on_bad_files, config.text_column, config.label_column) == (BadFilePolicy.FAIL, "Review", "stars")
    defaults = parse_assignments([]).config
    assert (defaults.on_bad_files, defaults.text_column, defaults.label_column) == (BadFilePolicy.SKIP, "text", "label")


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("on_bad_files=maybe", "on_bad_files=maybe: "),
        ("text_column= ", "text_column=: String should have at least 1 character"),
        ("label_column=" + "x" * 101, "String should have at most 100 characters"),
        ("text_column=label", "text_column and label_column both name the column 'label'; they must differ"),
    ],
)
def test_bad_data_options_are_one_line_and_exit_2(
    option: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["optimize", option, f"output_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    if option.startswith("on_bad_files"):
        assert "skip" in err and "fail" in err  # the choices


def test_optimize_help_lists_the_data_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["optimize", "--help"])
    out = capsys.readouterr().out
    assert "on_bad_files       default skip" in out and "[skip|fail]" in out
    assert "text_column        default text" in out and "label_column       default label" in out


def test_preflight_warns_of_skipped_files_and_notes_what_was_ignored(tmp_path: Path) -> None:
    root = _image_folder_with_three_bad_files(tmp_path / "images")
    config = parse_assignments(["dataset=image_folder", f"data_dir={root}"]).config

    lines = check_dataset(config)

    warning = next(line for line in lines if line.startswith("[yellow]warning:[/yellow] "))
    assert "skipped 3 of 13 image files" in warning
    assert "dogs/\\[draft].png" in warning  # escaped: printed as it is, not read as markup
    assert "image_folder: ignored 1 non-image file" in lines


def test_preflight_with_on_bad_files_fail_stops_listing_every_file(tmp_path: Path) -> None:
    root = _image_folder_with_three_bad_files(tmp_path / "images")
    code = main(["optimize", "dataset=image_folder", f"data_dir={root}", "on_bad_files=fail", f"output_dir={tmp_path}"])
    assert code == EXIT_USAGE


def test_preflight_reads_the_named_csv_columns(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("Review,stars\n" + "".join(f"{'good' if i % 2 else 'bad'} film {i},{i % 2}\n" for i in range(20)))
    named = ["dataset=text_csv", f"data_dir={path}", "text_column=review", "label_column=Stars"]

    lines = check_dataset(parse_assignments(named).config)

    assert "text_csv: reviews.csv: 20 rows used (text from column 'review', label from 'Stars')." in lines


def test_datasets_describes_a_user_image_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _image_folder_with_three_bad_files(tmp_path / "images")

    assert main(["datasets", "--data-dir", str(root)]) == EXIT_OK

    out = capsys.readouterr().out
    assert "digits" in out and "image_folder" in out  # the built-in list is still there
    assert f"{root} is your own data (dataset=image_folder data_dir={root}):" in out
    assert "2 classes, 13 image files, 10 readable:" in out
    assert "3 unreadable image files" in out and "dogs/[draft].png" in out
    assert "ignored 1 non-image file" in out and "image sizes: 16x12 (10 images)" in out


def test_datasets_describes_a_csv_with_named_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("Review,stars\ngood film,1\nbad film,0\n\n")

    code = main(["datasets", "--data-dir", str(path), "--text-column", "review", "--label-column", "stars"])

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "is your own data (dataset=text_csv" in out and "3 rows: 2 used, 1 dropped as empty" in out


def test_datasets_on_a_built_in_data_folder_adds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mnist").mkdir()
    assert main(["datasets", "--data-dir", str(tmp_path)]) == EXIT_OK
    assert "your own data" not in capsys.readouterr().out
