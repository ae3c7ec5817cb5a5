"""Sweeps: a model over a search space of knob values (grids, ranges, random samples, a
user's factory), costed here, on a local pool or on Ray, streamed to a resumable file.

``sweep`` is the library's small grid, in this process, each point's ``ModelCost`` kept;
``run_sweep`` (``sweep.run``) is the command line's, for spaces of any size.
"""

from __future__ import annotations

from typing import Any, Sequence

from costlab.core.errors import UsageError
from costlab.workflows.sweep.run import SweepResult, run_sweep
from costlab.workflows.sweep.space import (SearchSpace, factory_space, registered_space,
                                           split_values)


def parse_values(text: str | Sequence[Any] | None) -> list[str]:
    """``"1,0.75,0.5"`` -> ["1", "0.75", "0.5"] (ranges ``0.5:1:0.25`` expanded; each
    value parsed later by its knob)."""
    if text is None:
        return []
    return split_values(text)


def sweep(model: str, knobs: dict[str, Sequence[Any] | str] | None = None,
          resolutions: Sequence[int] | str | None = None, **options: Any) -> SweepResult:
    """Analyze registered ``model`` at every combination of knob values and resolutions,
    here, keeping each point's ``ModelCost`` (``result.costs``); a point that fails raises."""
    import pandas as pd

    from costlab.report.tables import sweep_columns, sweep_cost_columns
    from costlab.workflows.sweep.points import SweepJob

    space = registered_space(model, dict(knobs or {}), resolutions)
    coster = SweepJob(model=model, options=options).start()
    rows, costs = [], []
    for point, values in space.points():
        cost = coster.cost(values)
        costs.append(cost)
        rows.append({"point": point, **values, **sweep_cost_columns(cost)})
    frame = pd.DataFrame(rows, columns=sweep_columns(space.names))
    return SweepResult(model=model, axes=space.names, frame=frame, costs=costs)


__all__ = ["SearchSpace", "SweepResult", "factory_space", "parse_values", "registered_space",
           "run_sweep", "sweep"]
