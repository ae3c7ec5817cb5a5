"""Costing a sweep's points: the job each worker starts once and the row of each point.

A registered model is built by the registry (its code imported with the zoo, once per
worker); a user's factory (``space.py:build``) is imported once per worker and called with
each point's knob values as keyword arguments, on meta first. A point that cannot be built or
traced becomes a row with its one-line error, and the sweep goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from costlab.core.errors import ForwardError
from costlab.workflows.sweep.space import RESOLUTION

# one task: (point number, knob values) pairs; its result: one row per point
Batch = list[tuple[int, dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class SweepJob:
    """What every point of one sweep shares: the model and the analysis options."""

    model: str
    factory: bool = False  # ``model`` is a user's factory, knobs are its keyword arguments
    options: dict[str, Any] = field(default_factory=dict)  # batch, input_shape, dtype, device
    single_thread: bool = False  # a worker process: one torch thread, the cores are shared

    def start(self) -> "PointCoster":
        if self.single_thread:
            import torch

            torch.set_num_threads(1)
        return PointCoster(job=self)


@dataclass(kw_only=True)
class PointCoster:
    """One worker's coster: the model code imported once, then a row per point."""

    job: SweepJob
    _factory: Any = None

    def __post_init__(self) -> None:
        from costlab.build.loaders import import_target
        from costlab.models import registry

        if self.job.factory:
            self._factory = import_target(self.job.model)
        else:
            registry().get(self.job.model)  # the zoo imported, the name checked

    def __call__(self, batch: Batch) -> list[dict[str, Any]]:
        return [self.row(point, values) for point, values in batch]

    def row(self, point: int, values: dict[str, Any]) -> dict[str, Any]:
        from costlab.report.tables import sweep_cost_columns, sweep_failure_columns
        from costlab.workflows.executors import one_line

        try:
            columns = sweep_cost_columns(self.cost(values))
        except Exception as exc:  # a point that cannot be built is a row, not the end
            columns = sweep_failure_columns(one_line(exc))
        return {"point": point, **values, **columns}

    def cost(self, values: dict[str, Any]):
        from costlab.workflows.analyze import analyze

        if not self.job.factory:
            knobs = {k: v for k, v in values.items() if k != RESOLUTION}
            return analyze(self.job.model, resolution=values.get(RESOLUTION), **knobs,
                           **self.job.options)
        return self._factory_cost(values)

    def _factory_cost(self, values: dict[str, Any]):
        from costlab.build.loaders import construct
        from costlab.workflows.analyze import analyze

        options = dict(self.job.options)
        device = options.pop("device", "meta")
        label = self.job.model
        built = construct(self._factory, values, label, device)
        try:
            return analyze(built.module, name=label, device=device, **options)
        except ForwardError:
            if built.device != "meta":
                raise
            # meta cannot run its forward (data-dependent code): on the CPU, as analyze does
            again = construct(self._factory, values, label, "cpu")
            return analyze(again.module, name=label, **options)


def batches(points: Any, size: int) -> Any:
    """``points`` in lists of ``size``."""
    batch: Batch = []
    for item in points:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def batch_size(points: int, workers: int, *, most: int = 16) -> int:
    """Points per task: several per worker's task so that the per-task overhead (Ray's is
    about a millisecond) stays small beside 20-50 ms points, and few enough that every worker
    gets several tasks and a kill loses only the few points in flight."""
    return max(1, min(most, points // max(1, workers * 4)))


Coster = Callable[[Batch], list[dict[str, Any]]]
