"""Result types of an analysis: one record per traced op, roll-ups per module, totals.

Plain dataclasses with no torch in them, so results can be pickled, compared and
exported without the model that produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]


@dataclass(slots=True)
class OpRecord:
    """The cost of one aten op call, attributed to the innermost module that ran it."""

    index: int  # position in execution order, counting every recorded op
    module: str  # dotted path of the innermost nn.Module ("" is the root model)
    module_type: str
    op: str  # aten op name without overload, e.g. "convolution"
    category: str
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    macs: int
    flops: int
    params: int  # parameter elements this op is the first to read
    bytes_read: int
    bytes_written: int
    attrs: dict[str, Any] | None = None  # kernel, stride, groups, notes
    counted: bool = True  # False: no formula; MACs/FLOPs unknown, bytes still measured
    # the dataflow graph: for each activation input, the index of the op that wrote it
    # (-1 for a model input or a constant); weights are not edges
    sources: tuple[int, ...] = ()

    @property
    def memory_access_bytes(self) -> int:
        return self.bytes_read + self.bytes_written


@dataclass(slots=True)
class UncountedOp:
    """An op with no formula: how often it ran and where."""

    op: str
    calls: int
    modules: list[str]


@dataclass(slots=True)
class CostTotals:
    macs: int
    flops: int
    params: int  # unique parameter elements, frozen ones included
    buffers: int  # buffer elements (BatchNorm running stats and the like)
    bytes_read: int
    bytes_written: int
    peak_activation_bytes: int
    ops: int  # recorded ops (known-zero views are not recorded)
    partial: bool  # True when some op had no formula: MACs/FLOPs are lower bounds

    @property
    def memory_access_bytes(self) -> int:
        return self.bytes_read + self.bytes_written


@dataclass(slots=True)
class ModuleCost:
    """Costs of every op run inside one module (its descendants included)."""

    path: str
    module_type: str
    depth: int
    macs: int
    flops: int
    params: int  # unique parameter elements of the module and its children
    bytes_read: int
    bytes_written: int
    ops: int

    @property
    def memory_access_bytes(self) -> int:
        return self.bytes_read + self.bytes_written


@dataclass(slots=True)
class ModelInfo:
    """What was analyzed and how."""

    name: str
    knobs: dict[str, Any]
    input_shapes: tuple[Shape, ...]
    device: str
    dtype: str | None  # storage dtype used for bytes; None: each tensor's own dtype
    reference: str = ""
    variant: str = ""  # the knobs set away from their defaults, "width=0.75"
    notes: list[str] = field(default_factory=list)  # how the model was built or run


@dataclass
class ModelCost:
    """The full analysis of one model: per-op records, module tree, totals."""

    info: ModelInfo
    layers: list[OpRecord]
    total: CostTotals
    uncounted: list[UncountedOp]
    # path -> (module type, unique parameter elements under it), in definition order
    module_tree: dict[str, tuple[str, int]] = field(default_factory=dict)
    known_zero_calls: int = 0  # view/metadata ops seen and deliberately counted as free

    @property
    def name(self) -> str:
        return self.info.name

    def modules(self, depth: int = 1) -> list[ModuleCost]:
        from costlab.analysis.aggregate import module_costs

        return module_costs(self, depth)

    def to_dataframe(self, depth: int | None = None):
        """One row per op record; with ``depth``, one row per module down to that depth."""
        from costlab.analysis.aggregate import layers_frame, modules_frame

        return layers_frame(self) if depth is None else modules_frame(self, depth)
