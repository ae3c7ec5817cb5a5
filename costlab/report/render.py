"""How numbers read in a cell of the screen view: the formats the document builders give
their columns. Drawing is the renderers' job (costlab.report.renderers)."""

from __future__ import annotations

from typing import Any


def millions(n: float | None, digits: int = 2) -> str:
    return "" if n is None else f"{n / 1e6:,.{digits}f}"


def mega(n: float | None, digits: int = 2) -> str:
    """``n`` with thousands separators; blank for None or NaN (a missing cell)."""
    return "" if n is None or n != n else f"{n:,.{digits}f}"


def percent(p: float | None) -> str:
    return "" if p is None else f"{p:+.1f}%"


def ratio(r: float | None) -> str:
    return "" if r is None else f"{r:,.2f}x"


def grouped(n: int | None) -> str:
    """An integer with thousands separators; blank for None or 0 (no params)."""
    return f"{n:,}" if n else ""


def share(p: float | None, digits: int = 1) -> str:
    return "" if p is None else f"{p:.{digits}f}"


def cell_text(value: Any) -> str:
    """Any value of a plain frame: ints grouped, floats to two places, blank when missing."""
    if value is None or value != value:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def nan_none(value: Any) -> Any:
    return None if value is None or value != value else value
