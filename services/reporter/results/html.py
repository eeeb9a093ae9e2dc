"""``report.html``: the Markdown report converted (markdown-it, which ``rich`` already brings) and
wrapped in a small, self-contained page; images stay relative links into ``plots/``.

Nothing in it reaches the network: only relative links and images are rendered (a study name or a
failure reason holding ``![](https://...)`` stays text), raw HTML is escaped, and a Content Security
Policy forbids any remote resource should a browser find one anyway."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

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


_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
_SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.-]*:|//|\\\\)", re.IGNORECASE)


def is_local_link(url: str) -> bool:
    """True for a relative path: no scheme (``http:``, ``javascript:``, ``data:``...) and no ``//host``."""
    return not _SCHEME.match(url)


class _LocalLinksOnly(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return is_local_link(url)


def markdown_to_html(markdown: str, title: str) -> str:
    """A standalone HTML page for ``markdown`` (tables included)."""
    body = _LocalLinksOnly("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
