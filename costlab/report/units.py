"""Units that scale: a column of counts reads in K, M, G or T, a column of bytes in KB, MB,
GB or TB (powers of 1000, as the conventions say), chosen per column so its largest value
has one to three digits before the point. Only the screen view scales; CSV and JSON keep
exact integers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Kind = Literal["count", "bytes"]
PREFIXES = ("", "K", "M", "G", "T", "P")


@dataclass(frozen=True)
class Unit:
    """A chosen unit: its name (``G``, ``MB``) and how many base units it holds."""

    name: str
    size: float

    def text(self, value: float | None, digits: int = 2) -> str:
        if value is None or value != value:
            return ""
        shown = f"{value / self.size:,.{digits}f}"
        if value and float(shown.replace(",", "")) == 0:  # non-zero, yet too small to show
            return ("<" if value > 0 else ">-") + f"{10 ** -digits:.{digits}f}" if digits \
                else ("<1" if value > 0 else ">-1")
        return shown


def unit_named(prefix: str, kind: Kind) -> Unit:
    name = prefix + ("B" if kind == "bytes" else "")
    return Unit(name=name or "", size=1000.0 ** PREFIXES.index(prefix))


def choose_unit(values: Iterable[float | None], kind: Kind, *,
                default: str = "M") -> Unit:
    """The unit for a column of ``values`` (in base units): the one that gives the largest
    magnitude one to three digits before the point, or a smaller one (while the largest
    keeps at most four digits before the point) where the smallest non-zero magnitude would
    otherwise read as 0.00 (below that it reads <0.01); ``default``'s prefix for a column of
    zeros and blanks."""
    magnitudes = [abs(v) for v in values if v is not None and v == v and v != 0]
    if not magnitudes:
        return unit_named(default, kind)
    largest, smallest = max(magnitudes), min(magnitudes)
    index = 0
    while index + 1 < len(PREFIXES) and largest >= 1000.0 ** (index + 1):
        index += 1
    while index > 0 and smallest / 1000.0 ** index < 0.01 \
            and largest / 1000.0 ** (index - 1) < 1e4:
        index -= 1
    return unit_named(PREFIXES[index], kind)


def scaled_text(value: float, kind: Kind, digits: int = 2) -> str:
    """One number in its own unit: ``146.22 T``, ``3.40 MB``, ``512`` (no unit below 1000)."""
    unit = choose_unit([value], kind, default="")
    shown = unit.text(value, digits if unit.size > 1 or kind == "bytes" else 0)
    return f"{shown} {unit.name}".rstrip()
