"""Result types of an analysis: one record per traced op, roll-ups per module, totals.

Plain dataclasses with no torch in them, so results can be pickled, compared and
exported without the model that produced them. The four additive quantities of every
record live in one ``Counts`` value, so a module's or a model's counts are sums of its ops'.
The table rows and pandas frames are built here too (pandas imported only for a frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

Shape = tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Counts:
    """MACs, FLOPs and bytes moved: the additive part of a cost. ``a + b`` sums each."""

    macs: int = 0
    flops: int = 0
    bytes_read: int = 0
    bytes_written: int = 0

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(macs=self.macs + other.macs, flops=self.flops + other.flops,
                      bytes_read=self.bytes_read + other.bytes_read,
                      bytes_written=self.bytes_written + other.bytes_written)

    @property
    def memory_access_bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    @classmethod
    def zero(cls) -> Counts:
        return ZERO

    @classmethod
    def total(cls, counts: Iterable[Counts]) -> Counts:
        """The sum of ``counts`` (``Counts.zero()`` for none), in one call: the same as
        chaining ``+``, without a new value per term (roll-ups sum one per op)."""
        macs = flops = read = written = 0
        for c in counts:
            macs += c.macs
            flops += c.flops
            read += c.bytes_read
            written += c.bytes_written
        return Counts(macs=macs, flops=flops, bytes_read=read, bytes_written=written)


ZERO = Counts()


class _HasCounts:
    """Read access to the ``counts`` of a record as if its fields were the record's own."""

    __slots__ = ()
    counts: Counts

    @property
    def macs(self) -> int:
        return self.counts.macs

    @property
    def flops(self) -> int:
        return self.counts.flops

    @property
    def bytes_read(self) -> int:
        return self.counts.bytes_read

    @property
    def bytes_written(self) -> int:
        return self.counts.bytes_written

    @property
    def memory_access_bytes(self) -> int:
        counts = self.counts
        return counts.bytes_read + counts.bytes_written


@dataclass(slots=True, kw_only=True)
class OpRecord(_HasCounts):
    """The cost of one aten op call, attributed to the innermost module that ran it."""

    index: int  # position in execution order, counting every recorded op
    module: str  # dotted path of the innermost nn.Module ("" is the root model)
    module_type: str
    op: str  # aten op name without overload, e.g. "convolution"
    category: str  # an OpCategory
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    counts: Counts  # bytes are measured even when counted is False
    params: int  # parameter elements this op is the first to read
    attrs: dict[str, Any] | None = None  # kernel, stride, groups, notes
    counted: bool = True  # False: no formula; MACs/FLOPs unknown, bytes still measured
    # the dataflow graph: for each activation input, the index of the op that wrote it
    # (-1 for a model input or a constant); weights are not edges
    sources: tuple[int, ...] = ()
    # a Phase: "forward" (the loss included), "backward" or "optimizer"; backward ops are
    # attributed to the module whose forward made the autograd node that ran them
    phase: str = "forward"


@dataclass(slots=True, kw_only=True)
class UncountedOp:
    """An op with no formula: how often it ran and where."""

    op: str
    calls: int
    modules: list[str]


@dataclass(slots=True, kw_only=True)
class CostTotals(_HasCounts):
    counts: Counts  # the sum of every record's
    params: int  # unique parameter elements, frozen ones included
    buffers: int  # buffer elements (BatchNorm running stats and the like)
    peak_activation_bytes: int
    ops: int  # recorded ops (known-zero views are not recorded)
    partial: bool  # True when some op had no formula: MACs/FLOPs are lower bounds


@dataclass(slots=True, kw_only=True)
class ModuleCost(_HasCounts):
    """Costs of every op run inside one module (its descendants included).

    With ``own``, the row holds only the ops the module ran itself, outside every child
    module ("(root)" for the model's own forward): it sits among the children's rows so
    that each level of the table sums to the level above."""

    path: str
    module_type: str
    depth: int
    counts: Counts
    params: int  # unique parameter elements of the module and its children (0 if own)
    ops: int
    own: bool = False

    @property
    def label(self) -> str:
        """The row's name in tables: the path, "(root)", or "path (own ops)"."""
        if not self.own:
            return self.path
        return f"{self.path} (own ops)" if self.path else ROOT_LABEL


ROOT_LABEL = "(root)"  # the model's own ops, outside every child module


@dataclass(slots=True, kw_only=True)
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
    mode: str = "inference"  # a Mode: "inference" (one forward) or "train" (one step)
    training: TrainingSetup | None = None  # the step's settings, in train mode


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetup:
    """How a training step was set up: what a reader needs to reproduce its numbers."""

    optimizer: str  # an analysis.optimizer.Optimizer value: "sgd", "adam", ...
    precision: str  # "fp32", "bf16-mixed", "fp16-mixed"
    loss: str  # "sum of the outputs", or the loss callable's name
    trainable_params: int  # parameter elements that require grad (and so get gradients)
    frozen_params: int
    trainable_tensors: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingMemory:
    """What one training step holds in memory, in bytes, from tensor lifetimes.

    ``weights_bytes``, ``gradients_bytes`` and ``optimizer_state_bytes`` are what the
    parameters need (their sizes by the precision's rules). ``activation_bytes`` are the
    tensors alive at the forward/backward boundary that the backward reads: what the
    forward saves for it (the loss and the model's output included). ``peak_bytes`` is the
    largest total alive at once, weights and optimizer state included, over the forward,
    backward and optimizer step; at that moment the live tensors split into
    ``peak_gradients_bytes`` (gradients written so far), ``peak_activation_bytes`` (saved
    forward tensors not yet released) and ``peak_temporary_bytes`` (everything else: the
    backward's and the forward's intermediates)."""

    weights_bytes: int
    gradients_bytes: int
    optimizer_state_bytes: int
    activation_bytes: int
    peak_bytes: int
    peak_phase: str  # the Phase in which the peak falls
    peak_op: int  # index of the op at the peak
    peak_gradients_bytes: int
    peak_activation_bytes: int
    peak_temporary_bytes: int

    @property
    def state_bytes(self) -> int:
        """Weights, gradients and optimizer state: what the parameters alone hold."""
        return self.weights_bytes + self.gradients_bytes + self.optimizer_state_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseCost(_HasCounts):
    """The ops of one phase of a training step, summed."""

    phase: str
    counts: Counts
    ops: int


def totals(records: Iterable[OpRecord], *, params: int, buffers: int, peak_bytes: int,
           partial: bool) -> CostTotals:
    """The model's totals: the records' counts summed, with what only the model knows."""
    records = list(records)
    return CostTotals(counts=Counts.total([r.counts for r in records]), params=params,
                      buffers=buffers, peak_activation_bytes=peak_bytes, ops=len(records),
                      partial=partial)


PHASE_NAMES = ("forward", "backward", "optimizer")


def phase_costs(records: Iterable[OpRecord], *, training: bool) -> list[PhaseCost]:
    """The records summed per phase, in step order (every phase of a training step, even
    an empty one; the forward alone for inference)."""
    grouped: dict[str, list[Counts]] = {name: [] for name in PHASE_NAMES}
    for r in records:
        grouped[r.phase].append(r.counts)
    names = PHASE_NAMES if training else ("forward",)
    return [PhaseCost(phase=name, counts=Counts.total(grouped[name]), ops=len(grouped[name]))
            for name in names]


def _ancestors(path: str, depth: int) -> list[str]:
    """``a.b.c`` at depth 2 -> ["a", "a.b"]; the root "" is never included."""
    if not path:
        return []
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(min(depth, len(parts)))]


def module_costs(cost: ModelCost, depth: int, *, own: bool = False,
                 phase: str | None = None) -> list[ModuleCost]:
    """One row per module down to ``depth`` (1 = the model's children), in definition order.

    Each row sums every op run inside the module, its descendants included; params are the
    module's unique parameter elements. Modules that ran no op and hold no params are left out.

    With ``own``, the ops a module ran itself, outside its children, get an own-ops row
    after the module's row, among its children, when those are shown ("(root)", first,
    for the model's own forward). Then every shown module's children and own-ops row sum
    to its row, and the top level plus "(root)" to the model's total.

    With ``phase``, only that phase's ops are summed (a training step's backward ops are
    in the module whose forward made them).
    """
    # one pass over the records groups them by innermost module; each module's sum is then
    # handed to its ancestors (modules are far fewer than ops)
    grouped: dict[str, list[Counts]] = {}
    for r in cost.layers:
        if phase is not None and r.phase != phase:
            continue
        group = grouped.get(r.module)
        if group is None:
            group = grouped[r.module] = []
        group.append(r.counts)
    inside: dict[str, list[Counts]] = {}  # path -> the sums of the modules inside it
    ops: dict[str, int] = {}
    own_counts: dict[str, Counts] = {}
    for module, group in grouped.items():
        counts = Counts.total(group)
        own_counts[module] = counts
        for path in _ancestors(module, depth):
            inside.setdefault(path, []).append(counts)
            ops[path] = ops.get(path, 0) + len(group)
    rows = []
    for path, (module_type, params) in cost.module_tree.items():
        if not path:
            continue
        level = path.count(".") + 1
        if level > depth:
            continue
        sums = inside.get(path)
        if sums is None and not params:
            continue
        rows.append(ModuleCost(path=path, module_type=module_type, depth=level,
                               counts=Counts.total(sums) if sums else ZERO, params=params,
                               ops=ops.get(path, 0)))
    if not own:
        return rows
    # own-ops rows: the model's (first), and each shown module's whose children are shown
    parents = {m.path.rpartition(".")[0] for m in rows if m.depth > 1}
    with_own = []
    if "" in grouped:
        with_own.append(ModuleCost(path="", module_type=cost.module_tree.get("", ("", 0))[0],
                                   depth=1, counts=own_counts[""], params=0,
                                   ops=len(grouped[""]), own=True))
    for m in rows:
        with_own.append(m)
        if m.path in parents and m.path in grouped:
            with_own.append(ModuleCost(path=m.path, module_type=m.module_type,
                                       depth=m.depth + 1, counts=own_counts[m.path],
                                       params=0, ops=len(grouped[m.path]), own=True))
    return with_own


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
    training_memory: TrainingMemory | None = None  # in train mode only

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def training(self) -> bool:
        return self.info.mode == "train"

    def phases(self) -> list[PhaseCost]:
        """Forward, backward and optimizer step, in that order (forward only for an
        inference analysis); they sum to ``total``."""
        return phase_costs(self.layers, training=self.training)

    def phase(self, name: str) -> PhaseCost:
        """One phase's sums: ``cost.phase("backward").macs``."""
        for p in self.phases():
            if p.phase == name:
                return p
        raise KeyError(f"no phase {name!r}; phases are forward, backward, optimizer")

    @property
    def backward_forward_macs(self) -> float | None:
        """Backward MACs over forward MACs (None when not a training step, or no forward
        MACs): 2 for a plain conv or linear stack, less where the first layer needs no
        input gradient or an embedding has no MACs."""
        if not self.training:
            return None
        forward, backward = self.phase("forward").macs, self.phase("backward").macs
        return backward / forward if forward else None

    def modules(self, depth: int = 1, *, own: bool = False) -> list[ModuleCost]:
        """The module rows to ``depth``; with ``own``, the own-ops rows too, so that each
        level sums to the total (see ``module_costs``)."""
        return module_costs(self, depth, own=own)

    def to_dataframe(self, depth: int | None = None):
        """One row per op record; with ``depth``, one row per module down to that depth."""
        return layers_frame(self) if depth is None else modules_frame(self, depth)


# --------------------------------------------------------------------- table rows

def shape_text(shape) -> str:
    """(1, 3, 224, 224) -> "1x3x224x224"; None -> "" (every table writes shapes so)."""
    if shape is None:
        return ""
    return "x".join(map(str, shape))


def shapes_text(shapes) -> str:
    """Several shapes, space-separated: "1x128 1x128"."""
    return " ".join([shape_text(s) for s in shapes])


LAYER_COLUMNS = ["index", "phase", "module", "module_type", "op", "category", "input_shape",
                 "output_shape",
                 "kernel", "stride", "groups", "macs", "flops", "params", "bytes_read",
                 "bytes_written", "memory_access_bytes", "share_macs", "counted", "note"]
MODULE_COLUMNS = ["module", "module_type", "depth", "macs", "flops", "params", "bytes_read",
                  "bytes_written", "memory_access_bytes", "ops", "share_macs"]


def layer_rows(cost: ModelCost) -> list[dict]:
    total_macs = cost.total.counts.macs or 1
    rows = []
    shape_texts: dict[tuple, str] = {}  # deep models repeat the same shapes many times
    for r in cost.layers:
        attrs = r.attrs or {}
        c = r.counts
        inputs = shape_texts.get(r.input_shapes)
        if inputs is None:
            inputs = shape_texts[r.input_shapes] = shapes_text(r.input_shapes)
        outputs = shape_texts.get(r.output_shapes)
        if outputs is None:
            outputs = shape_texts[r.output_shapes] = shapes_text(r.output_shapes)
        rows.append({
            "index": r.index, "phase": r.phase, "module": r.module, "module_type": r.module_type, "op": r.op,
            "category": r.category, "input_shape": inputs, "output_shape": outputs,
            "kernel": shape_text(attrs.get("kernel")), "stride": shape_text(attrs.get("stride")),
            "groups": attrs.get("groups", ""), "macs": c.macs, "flops": c.flops,
            "params": r.params, "bytes_read": c.bytes_read, "bytes_written": c.bytes_written,
            "memory_access_bytes": c.bytes_read + c.bytes_written,
            "share_macs": c.macs / total_macs, "counted": r.counted,
            "note": attrs.get("note", "") if r.counted else "no formula: uncounted",
        })
    return rows


# a training step's module rows add these: each phase's part of the row's counts
PHASE_MODULE_COLUMNS = ["forward_macs", "backward_macs", "forward_flops", "backward_flops",
                        "optimizer_flops"]


def module_rows(cost: ModelCost, depth: int) -> list[dict]:
    total_macs = cost.total.counts.macs or 1
    rows = [{
        "module": m.label, "module_type": m.module_type, "depth": m.depth, "macs": c.macs,
        "flops": c.flops, "params": m.params, "bytes_read": c.bytes_read,
        "bytes_written": c.bytes_written, "memory_access_bytes": c.bytes_read + c.bytes_written,
        "ops": m.ops, "share_macs": c.macs / total_macs,
    } for m in module_costs(cost, depth, own=True) for c in (m.counts,)]
    if cost.training:
        by_phase = {name: {m.label: m.counts for m in module_costs(cost, depth, own=True,
                                                                    phase=name)}
                    for name in PHASE_NAMES}
        for row in rows:
            parts = {name: by_phase[name].get(row["module"], ZERO) for name in PHASE_NAMES}
            row.update(forward_macs=parts["forward"].macs, backward_macs=parts["backward"].macs,
                       forward_flops=parts["forward"].flops,
                       backward_flops=parts["backward"].flops,
                       optimizer_flops=parts["optimizer"].flops)
    return rows


def layers_frame(cost: ModelCost):
    """``layer_rows`` as a pandas DataFrame (pandas is imported only here)."""
    import pandas as pd

    return pd.DataFrame(layer_rows(cost), columns=LAYER_COLUMNS)


def modules_frame(cost: ModelCost, depth: int):
    """``module_rows`` as a pandas DataFrame."""
    import pandas as pd

    columns = MODULE_COLUMNS + (PHASE_MODULE_COLUMNS if cost.training else [])
    return pd.DataFrame(module_rows(cost, depth), columns=columns)


__all__ = ["LAYER_COLUMNS", "MODULE_COLUMNS", "PHASE_MODULE_COLUMNS", "PHASE_NAMES", "Counts", "CostTotals", "ModelCost",
           "ModelInfo", "ModuleCost", "OpRecord", "PhaseCost", "TrainingMemory", "TrainingSetup",
           "phase_costs", "ROOT_LABEL", "Shape", "UncountedOp", "layer_rows", "layers_frame",
           "module_costs", "module_rows", "modules_frame", "shape_text", "shapes_text", "totals"]
