"""What a study's own text (its name, a failure reason) cannot do to the files a user opens."""

from __future__ import annotations

import csv
import io

from services.reporter.results.files import _cell
from services.reporter.results.html import is_local_link, markdown_to_html


def test_the_html_report_loads_nothing_from_the_network() -> None:
    page = markdown_to_html(
        "# r\n![plot](plots/a.png)\n![beacon](https://evil.example/p.png) ![x](//evil.example/q.png)\n"
        "[click](javascript:alert(1)) <img src=https://evil.example/r.png> <script>fetch('x')</script>",
        "t",
    )
    assert '<img src="plots/a.png"' in page
    assert '<img src="https' not in page and '<img src="//' not in page and 'href="javascript' not in page
    assert "<script>" not in page and "&lt;img src=https://evil.example/r.png&gt;" in page
    assert "default-src 'none'" in page, "a Content Security Policy blocks what slipped through"


def test_only_relative_links_count_as_local() -> None:
    assert is_local_link("plots/trial_0/learning_curves.png") and is_local_link("health/trial_0.json")
    for remote in ("https://x/y.png", "HTTP://x", "//x/y", "data:image/png;base64,AAA", "file:///etc/passwd"):
        assert not is_local_link(remote), remote


def test_csv_cells_that_a_spreadsheet_would_run_are_defused() -> None:
    row = [_cell(v) for v in ('=HYPERLINK("http://evil")', "+1+2", "-1+2", "@SUM(A1)", "\t=1", "plain", -0.5, 3)]
    out = io.StringIO()
    csv.writer(out).writerow(row)
    cells = next(csv.reader(io.StringIO(out.getvalue())))
    assert cells[:5] == ['\'=HYPERLINK("http://evil")', "'+1+2", "'-1+2", "'@SUM(A1)", "'\t=1"]
    assert cells[5:] == ["plain", "-0.5", "3"], "numbers stay numbers"
