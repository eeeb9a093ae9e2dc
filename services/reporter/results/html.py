"""``report.html``: the Markdown report converted (markdown-it, which ``rich`` already brings) and
wrapped in a small, self-contained page; images stay relative links into ``plots/``."""

from __future__ import annotations

import html

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code, pre { background: #f6f6f6; font-size: 0.85rem; }
pre { padding: 0.6rem; overflow-x: auto; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3rem 0; }
h1, h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
"""


def markdown_to_html(markdown: str, title: str) -> str:
    """A standalone HTML page for ``markdown`` (tables included)."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - markdown-it-py ships with rich
        body = f"<pre>{html.escape(markdown)}</pre>"
    else:
        body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
