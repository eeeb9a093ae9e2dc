"""Markdown cells and tables, as every section of the report writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def fmt(value: Any, digits: int = 4) -> str:
    """A value in a cell: a dash for none, floats to ``digits`` decimals, times in UTC."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def cell(value: Any) -> str:
    """``fmt`` made safe inside a table row (no ``|`` or line break ends the cell)."""
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table and the blank line after it."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]
