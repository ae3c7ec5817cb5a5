"""Search spaces: the points a sweep costs, each fully described by its knob values.

An axis is one knob's values: a list (``1,0.75,0.5``), a range (``0.35:1.4:0.05``, both
ends included, computed in decimal so 0.35 + 13 x 0.05 is 1.0, not 0.9999999999999999) or
both (``0.25,0.5:1:0.25``). The grid is every combination, the last axis changing fastest
(``itertools.product``'s order). ``sample`` draws that many distinct grid points at random
with ``seed``, so a sampled run is as reproducible from its command line as a grid.

A point's number (``point`` in the results) is its place in that order: the grid index for a
grid, the draw's index for a sample. Results are sorted by it and resumed by it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, Callable, Iterator, Sequence

from costlab.core.errors import UsageError

RESOLUTION = "resolution"
# one axis longer than this is a typo (a step of 0.0001), not a search space
MAX_AXIS_VALUES = 100_000


@dataclass(frozen=True, kw_only=True)
class Axis:
    """One swept knob and its parsed values, in order."""

    name: str
    values: tuple[Any, ...]

    def __len__(self) -> int:
        return len(self.values)


def _decimal(text: str, item: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"malformed range {item!r}: {text!r} is not a number "
                         "(expected START:STOP:STEP, e.g. 0.35:1.4:0.05)") from None
    if not value.is_finite():
        raise UsageError(f"malformed range {item!r}: {text!r} is not a finite number")
    return value


def expand_range(item: str) -> list[str]:
    """``"0.35:1.4:0.05"`` -> ["0.35", "0.40", ..., "1.40"]: both ends included."""
    parts = item.split(":")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise UsageError(f"malformed range {item!r}: expected START:STOP:STEP, e.g. "
                         "0.35:1.4:0.05")
    start, stop, step = (_decimal(p.strip(), item) for p in parts)
    if step <= 0:
        raise UsageError(f"malformed range {item!r}: the step must be > 0")
    if stop < start:
        raise UsageError(f"malformed range {item!r}: STOP is below START")
    count = int((stop - start) / step) + 1
    if count > MAX_AXIS_VALUES:
        raise UsageError(f"range {item!r} has {count} values, more than {MAX_AXIS_VALUES}: "
                         "is the step right?")
    return [str(start + i * step) for i in range(count)]


def split_values(text: str | Sequence[Any]) -> list[str]:
    """A value list as texts, ranges expanded: ``"0.25,0.5:1:0.25"`` -> 0.25, 0.5, 0.75, 1."""
    if not isinstance(text, str):
        return [str(v) for v in text]
    items = [v.strip() for v in text.split(",")]
    if not all(items):
        raise UsageError(f"malformed value list {text!r}: expected e.g. 1,0.75,0.5 or a "
                         "range 0.35:1.4:0.05")
    values: list[str] = []
    for item in items:
        values += expand_range(item) if ":" in item else [item]
    return values


def literal(text: str) -> Any:
    """A factory's keyword value from the command line: an int, a float, a bool or the text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{text!r} is not a finite number")
        return value
    return text


def _resolution(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"resolution must be an integer, got {text!r}") from None
    if value <= 0:
        raise UsageError(f"resolution must be > 0, got {value}")
    return value


def make_axis(name: str, values: str | Sequence[Any], parse: Callable[[str], Any]) -> Axis:
    """An axis of ``values`` (a list, ranges), each parsed by ``parse``; repeats dropped."""
    parsed = [parse(v) for v in split_values(values)]
    unique = list(dict.fromkeys(parsed))
    if not unique:
        raise UsageError(f"--knob {name} has no values")
    return Axis(name=name, values=tuple(unique))


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """The points of a sweep: a grid of axes, or ``sample`` random points of it."""

    axes: tuple[Axis, ...]
    sample: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.axes:
            raise UsageError("sweep needs at least one knob or resolution to sweep")
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise UsageError(f"a knob is swept twice: {', '.join(names)}")
        if self.sample is not None:
            if self.sample < 1:
                raise UsageError(f"--sample must be >= 1, got {self.sample}")
            if self.sample > self.grid_size:
                raise UsageError(f"--sample {self.sample} is more than the {self.grid_size} "
                                 "points of the grid: drop --sample to sweep them all")

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    @property
    def grid_size(self) -> int:
        return math.prod(len(a) for a in self.axes)

    def __len__(self) -> int:
        return self.grid_size if self.sample is None else self.sample

    @cached_property
    def _sampled(self) -> list[int]:
        # random.sample over a range draws distinct indices without listing the grid
        return random.Random(self.seed).sample(range(self.grid_size), self.sample)

    def grid_index(self, point: int) -> int:
        if not 0 <= point < len(self):
            raise IndexError(point)
        return point if self.sample is None else self._sampled[point]

    def values(self, point: int) -> dict[str, Any]:
        """Point ``point``'s knob values (mixed-radix digits of its grid index)."""
        index = self.grid_index(point)
        digits = []
        for axis in reversed(self.axes):
            index, digit = divmod(index, len(axis))
            digits.append(axis.values[digit])
        return dict(zip(self.names, reversed(digits)))

    def points(self, skip: frozenset[int] | set[int] = frozenset()) -> Iterator[tuple[int, dict]]:
        """(number, knob values) of every point, in order, but those in ``skip``."""
        for point in range(len(self)):
            if point not in skip:
                yield point, self.values(point)


def registered_space(model: str, knobs: dict[str, Any], resolutions: Any = None, *,
                     sample: int | None = None, seed: int = 0) -> SearchSpace:
    """The space of a registered model: each knob parsed (and checked) by the model's own
    knob, then the resolutions."""
    from costlab.models import registry

    spec = registry().get(model)
    axes = [make_axis(name, values, spec.knob(name).parse) for name, values in knobs.items()]
    if resolutions is not None:
        axes.append(make_axis(RESOLUTION, resolutions, _resolution))
    return SearchSpace(axes=tuple(axes), sample=sample, seed=seed)


def factory_space(knobs: dict[str, Any], *, sample: int | None = None,
                  seed: int = 0) -> SearchSpace:
    """The space of a user's factory: its keyword arguments, each value a literal."""
    axes = [make_axis(name, values, literal) for name, values in knobs.items()]
    return SearchSpace(axes=tuple(axes), sample=sample, seed=seed)
