"""Sweep a registered model over a grid of knob values and resolutions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

from costlab.core.records import ModelCost
from costlab.build.inputs import check_positive
from costlab.core.errors import UsageError
from costlab.workflows.analyze import analyze
from costlab.workflows.display import Displayed


@dataclass(kw_only=True)
class SweepResult(Displayed):
    """One analysis per point of a knob x resolution grid."""

    model: str
    axes: list[str]  # knob names swept, then "resolution" if swept
    points: list[dict[str, Any]]  # the axis values of each point
    costs: list[ModelCost]

    def to_dataframe(self):
        from costlab.report.tables import sweep_frame

        return sweep_frame(self)

    def document(self):
        from costlab.report.export import sweep_document

        return sweep_document(self)


def parse_values(text: str | Sequence[Any] | None) -> list[str]:
    """``"1,0.75,0.5"`` -> ["1", "0.75", "0.5"] (each parsed later by its knob)."""
    if text is None:
        return []
    if not isinstance(text, str):
        return [str(v) for v in text]
    values = [v.strip() for v in text.split(",")]
    if not all(values):
        raise UsageError(f"malformed value list {text!r}: expected e.g. 1,0.75,0.5")
    return values


def sweep(model: str, knobs: dict[str, Sequence[Any] | str] | None = None,
          resolutions: Sequence[int] | str | None = None, **options: Any) -> SweepResult:
    """Analyze ``model`` at every combination of knob values and resolutions."""
    from costlab.models import registry

    spec = registry().get(model)
    axes: list[str] = []
    grids: list[list[Any]] = []
    for name, values in (knobs or {}).items():
        knob = spec.knob(name)
        axes.append(name)
        grids.append([knob.parse(v) for v in parse_values(values)])
    if resolutions is not None:
        sizes = []
        for v in parse_values(resolutions):
            try:
                sizes.append(int(v))
            except ValueError:
                raise UsageError(f"resolution must be an integer, got {v!r}") from None
            check_positive("resolution", sizes[-1])
        axes.append("resolution")
        grids.append(sizes)
    if not axes:
        raise UsageError("sweep needs at least one knob or resolution to sweep")
    points, costs = [], []
    for combo in itertools.product(*grids):
        point = dict(zip(axes, combo))
        run_knobs = {k: v for k, v in point.items() if k != "resolution"}
        costs.append(analyze(model, resolution=point.get("resolution"), **run_knobs, **options))
        points.append(point)
    return SweepResult(model=model, axes=axes, points=points, costs=costs)
