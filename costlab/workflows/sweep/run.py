"""Running a sweep: its points on an executor, the rows streamed to a file, resumable.

``run_sweep`` costs every point of a :class:`~costlab.workflows.sweep.space.SearchSpace`
not yet in the results file (``resume``), in batches on the executor given
(``workflows.executors``), appending each finished batch to the file
(``report.results_file``) as it comes. The final file and the result have one row per point,
sorted by its number: the same whichever executor ran them and however often the run was
interrupted and resumed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from costlab.core.errors import UsageError
from costlab.core.records import ModelCost
from costlab.workflows.display import Displayed
from costlab.workflows.executors import Executor, InProcess
from costlab.workflows.sweep.pareto import Objective, pareto_front
from costlab.workflows.sweep.points import SweepJob, batch_size, batches
from costlab.workflows.sweep.space import SearchSpace

# a progress callback: advance by this many points
Advance = Callable[[int], None]


@dataclass(kw_only=True)
class SweepResult(Displayed):
    """One row per point of a sweep, sorted by point (``report.tables.sweep_columns``)."""

    model: str
    axes: list[str]  # knob names swept, then "resolution" if swept
    frame: Any  # a pandas DataFrame
    costs: list[ModelCost] = field(default_factory=list)  # kept by the in-process ``sweep``
    sampled: bool = False
    output: str | None = None  # the results file the rows were streamed to
    resumed: int = 0  # points found in the file and not costed again
    executor: str = "in this process"
    elapsed_s: float = 0.0
    pareto: tuple[Objective, Objective] | None = None

    @property
    def points(self) -> list[dict[str, Any]]:
        """Each point's knob values."""
        return self.frame[self.axes].to_dict("records")

    @property
    def failed(self) -> Any:
        """The rows of the points that could not be costed."""
        return self.frame[self.frame["error"] != ""]

    def on_front(self) -> list[bool] | None:
        if self.pareto is None:
            return None
        first, second = (self.frame[o.column].tolist() for o in self.pareto)
        return pareto_front(first, second, self.pareto)

    def to_dataframe(self):
        frame = self.frame.copy()
        front = self.on_front()
        if front is not None:
            frame["pareto"] = front
        return frame

    def document(self):
        from costlab.report.export import sweep_document

        return sweep_document(self)


def _kind(values: Any) -> str:
    types = {type(v) for v in values}
    if types <= {bool}:
        return "bool"
    if types <= {int}:
        return "int"
    if types <= {int, float}:
        return "float"
    return "str"


def column_kinds(space: SearchSpace) -> dict[str, str]:
    """Each column's kind, for a typed (parquet) file."""
    kinds = {"point": "int", "input": "str", "macs": "int", "flops": "int", "params": "int",
             "memory_access_bytes": "int", "peak_activation_bytes": "int", "partial": "bool",
             "published_macs_m": "float", "published_params_m": "float",
             "published_top1_pct": "float", "macs_vs_published_pct": "float", "error": "str"}
    kinds.update({a.name: _kind(a.values) for a in space.axes})
    return kinds


def typed_frame(frame: Any, kinds: dict[str, str]) -> Any:
    """Counts as integers where a failed point leaves a gap (pandas' nullable Int64), not
    floats; the error column as text, empty for a point that was costed."""
    dtypes = {"int": "Int64", "bool": "boolean"}
    frame = frame.astype({c: dtypes[k] for c, k in kinds.items()
                          if k in dtypes and c in frame.columns})
    frame["error"] = frame["error"].fillna("").astype(str)
    return frame


def _check_resumed(store: Any, space: SearchSpace) -> None:
    """Every row found belongs to this space: the same number, the same knob values."""
    for point in sorted(store.rows):
        if point >= len(space) or point < 0:
            raise UsageError(f"cannot resume from {store.output}: it has point {point}, this "
                             f"sweep has {len(space)} (0-{len(space) - 1}); it was written by "
                             "another sweep")
        for name, value in space.values(point).items():
            found = store.value(point, name)
            if found != store.encode(name, value):
                raise UsageError(f"cannot resume from {store.output}: its point {point} has "
                                 f"{name}={found}, this sweep's has {name}={value}; it was "
                                 "written by another sweep (same knobs, --sample and --seed?)")


def run_sweep(model: str, space: SearchSpace, *, factory: bool = False,
              options: dict[str, Any] | None = None, executor: Executor | None = None,
              output: str | None = None, resume: bool = False,
              pareto: tuple[Objective, Objective] | None = None,
              progress: Callable[[int, int], Advance | None] | None = None) -> SweepResult:
    """Cost every point of ``space`` on ``executor`` (default: here).

    ``output`` (``.csv`` or ``.parquet``) receives the rows as batches finish; with
    ``resume`` the points already in it are skipped. ``progress(done, total)`` may return a
    callback advanced by the points of each finished batch.
    """
    import pandas as pd

    from costlab.report.results_file import ResultsFile, read_results
    from costlab.report.tables import sweep_columns

    executor = executor or InProcess()
    columns = sweep_columns(space.names)
    store = ResultsFile(output, columns, column_kinds(space)) if output else None
    if resume and store is None:
        raise UsageError("--resume needs -o results.csv (or .parquet): the file to resume")
    began = time.perf_counter()
    done = set(store.start(resume=resume)) if store else set()
    if store is not None:
        _check_resumed(store, space)
    todo = len(space) - len(done)
    advance = progress(len(done), len(space)) if progress else None
    job = SweepJob(model=model, factory=factory, options=dict(options or {}),
                   single_thread=not isinstance(executor, InProcess))
    kept: list[dict[str, Any]] = []
    size = batch_size(todo, executor.workers)
    for _, rows in executor.run(job, batches(space.points(skip=done), size)):
        if store is not None:
            store.add(rows)
        else:
            kept.extend(rows)
        if advance is not None:
            advance(len(rows))
    if store is not None:
        store.finish()
        frame = read_results(output)
    else:
        frame = pd.DataFrame(sorted(kept, key=lambda r: r["point"]), columns=columns)
    frame = typed_frame(frame, column_kinds(space))
    return SweepResult(model=model, axes=space.names, frame=frame, sampled=space.sample is not None,
                       output=output, resumed=len(done), executor=executor.describe(),
                       elapsed_s=time.perf_counter() - began, pareto=pareto)
