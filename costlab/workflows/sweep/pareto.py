"""The Pareto front over two columns of a sweep: the points no other point beats on both."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from costlab.core.errors import UsageError

# columns where more is better; every other column is a cost, where less is
MAXIMIZED = ("published_top1_pct", "top1", "top1_pct", "accuracy", "top5_pct")


@dataclass(frozen=True, kw_only=True)
class Objective:
    column: str
    maximize: bool = False

    def __str__(self) -> str:
        return f"{'maximizing' if self.maximize else 'minimizing'} {self.column}"


def parse_pareto(text: str, columns: Sequence[str]) -> tuple[Objective, Objective]:
    """``"macs,memory_access_bytes"`` (each optionally ``:min`` or ``:max``) as two
    objectives; accuracy columns are maximized unless told."""
    items = [t.strip() for t in text.split(",")]
    if len(items) != 2 or not all(items):
        raise UsageError(f"malformed --pareto {text!r}: expected two columns, e.g. "
                         "macs,memory_access_bytes")
    objectives = []
    for item in items:
        name, _, sense = item.partition(":")
        if name not in columns:
            raise UsageError(f"--pareto: no column {name!r}; the sweep's columns: "
                             f"{', '.join(columns)}")
        if sense not in ("", "min", "max"):
            raise UsageError(f"--pareto: {item!r}: the sense is min or max")
        maximize = sense == "max" or (not sense and name in MAXIMIZED)
        objectives.append(Objective(column=name, maximize=maximize))
    if objectives[0].column == objectives[1].column:
        raise UsageError("--pareto needs two different columns")
    return objectives[0], objectives[1]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def pareto_front(first: Sequence[Any], second: Sequence[Any],
                 objectives: tuple[Objective, Objective]) -> list[bool]:
    """For each row, whether it is on the front (rows without both numbers are not): sorted
    by the first objective, a row is on it when it beats every row before it on the second.
    O(n log n), for a million points."""
    sign = [-1.0 if o.maximize else 1.0 for o in objectives]
    keyed = []
    for i, (a, b) in enumerate(zip(first, second)):
        x, y = _number(a), _number(b)
        if x is not None and y is not None:
            keyed.append((sign[0] * x, sign[1] * y, i))
    keyed.sort()
    on_front = [False] * len(first)
    best, last = math.inf, None
    for x, y, i in keyed:
        if y < best or (x, y) == last:  # a tie with a point on the front is on it too
            on_front[i] = True
            best, last = y, (x, y)
    return on_front
