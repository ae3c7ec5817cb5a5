"""Where the forward time goes: measured self time per op category and per module.

ShuffleNet V2's Figure 2 splits a network's run time into conv, element-wise, data movement
(shuffle, concat), pooling and other. This module measures that breakdown on this machine:

- ``module_scopes`` opens a ``torch.profiler.record_function`` scope for every module call
  (from a ``core.module_tracker.ModuleTracker``'s callbacks, its hooks removed on exit),
  so each aten op is known to run in a module;
- ``torch.profiler`` records several forwards (after warm-up), one at a time, interleaved
  with plain forwards; every aten op's *self* time (its kernels on CUDA) is attributed to a
  category and to its innermost module;
- the category comes from the static analysis of the same model and input: in each module
  the profiled ops are matched, in order, to the analyzer's op records (the tracer sees the
  ops the profiler shows below composite wrappers such as ``conv2d`` or ``batch_norm``), so
  depthwise is what the analyzer calls depthwise (groups == input channels);
- the plain forwards (no hooks, no profiler) are timed by ``timing.time_interleaved``: their
  median is the measured forward time, which the self times should add up to within 10%;
  the report gives the coverage and warns when it is off.

Categories (the analyzer's, grouped as in Figure 2):
conv = dense, 1x1 and grouped convolutions; depthwise conv; linear/matmul = linear layers,
matmuls and attention, kept apart from conv so a transformer's breakdown stays readable;
element-wise = activations, adds and multiplies, normalization (eager BatchNorm is never
folded into the conv); data movement = cat, copies, contiguous after a transpose (the
channel shuffle), padding, and the view/split/reshape ops the analyzer counts as free
(their time is bookkeeping, but it is spent); pooling = pooling and reductions (a global
average pool runs as a mean); other = anything else.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from costlab.core.categories import KNOWN_ZERO_NAMES, OpCategory
from costlab.bench.stats import LatencyStats

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost, OpRecord

CONV = OpCategory.CONV
DEPTHWISE = OpCategory.DEPTHWISE
MATMUL = OpCategory.MATMUL
ELEMENTWISE = OpCategory.ELEMENTWISE
DATA_MOVEMENT = OpCategory.DATA_MOVEMENT
POOLING = OpCategory.POOLING
OTHER = OpCategory.OTHER
PROFILE_CATEGORIES = (CONV, DEPTHWISE, MATMUL, ELEMENTWISE, DATA_MOVEMENT, POOLING, OTHER)

# The analyzer's categories, grouped as ShuffleNet V2's Figure 2 groups them.
FIGURE2_GROUP = {
    OpCategory.CONV: CONV, OpCategory.POINTWISE: CONV, OpCategory.GROUPED: CONV,
    OpCategory.DEPTHWISE: DEPTHWISE,
    OpCategory.MATMUL: MATMUL, OpCategory.ATTENTION: MATMUL,
    OpCategory.NORM: ELEMENTWISE, OpCategory.ACTIVATION: ELEMENTWISE,
    OpCategory.ELEMENTWISE: ELEMENTWISE, OpCategory.OPTIMIZER: ELEMENTWISE,  # element-wise updates
    OpCategory.DATA_MOVEMENT: DATA_MOVEMENT, OpCategory.EMBEDDING: DATA_MOVEMENT,
    OpCategory.POOLING: POOLING, OpCategory.REDUCTION: POOLING,
    OpCategory.OTHER: OTHER,
}

COVERAGE_TOLERANCE = 0.10  # self times must add up to the measured forward within this
SCOPE_PREFIX = "costlab.module:"
ROOT = "(root)"  # the model's own forward, outside any child module
DEFAULT_ITERS = 20  # rounds of one plain and one profiled forward, at least


def profile_category(record: "OpRecord") -> str:
    """The Figure 2 category of one of the analyzer's op records."""
    return FIGURE2_GROUP.get(record.category, OTHER)


# ------------------------------------------------------------------------ module scopes

@contextlib.contextmanager
def module_scopes(model: Any) -> Iterator[dict[str, str]]:
    """A ``record_function`` scope around every module call while the context is open.

    Yields scope name -> module path ("" for the model itself). The scopes are opened and
    closed from a :class:`ModuleTracker`'s callbacks; its hooks are removed on exit, and it
    closes the scopes a forward that raised left open.
    """
    from torch.autograd.profiler import record_function

    from costlab.core.module_tracker import ModuleTracker

    paths = {module: path for path, module in model.named_modules()}
    names = {path: SCOPE_PREFIX + (path or ROOT) for path in paths.values()}
    open_scopes: list[Any] = []

    def enter(path: str) -> None:
        function = record_function(names[path])
        function.__enter__()
        open_scopes.append(function)

    def leave(path: str) -> None:
        open_scopes.pop().__exit__(None, None, None)

    with ModuleTracker(paths, on_enter=enter, on_exit=leave):
        yield {name: path for path, name in names.items()}


# -------------------------------------------------------------------------- attribution

@dataclass
class Attribution:
    """Self time (us) of one forward, or the mean of several, by category and module path."""

    by_category: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_module: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    unmatched_us: float = 0.0  # ops not matched to an analyzer record: categorized by name
    matched_records: int = 0  # the analyzer's records found in the profile (fewest of a mean)
    forwards: int = 1  # how many forwards this is the mean of

    @property
    def total_us(self) -> float:
        return sum(self.by_category.values())


def middle_mean(attributions: list[Attribution]) -> Attribution:
    """The mean of the forwards whose total time is in the middle half (all of them when
    fewer than 4), so a forward preempted by another process does not skew the breakdown."""
    if not attributions:
        raise ValueError("no profiled forwards")
    ranked = sorted(attributions, key=lambda a: a.total_us)
    n = len(ranked)
    kept = ranked[n // 4: n - n // 4] if n >= 4 else ranked
    mean = Attribution(matched_records=min(a.matched_records for a in kept),
                       forwards=len(kept))
    for a in kept:
        for key, us in a.by_category.items():
            mean.by_category[key] += us / len(kept)
        for key, us in a.by_module.items():
            mean.by_module[key] += us / len(kept)
        mean.unmatched_us += a.unmatched_us / len(kept)
    return mean


def _op_name(event: Any) -> str:
    name = event.name
    return name[6:] if name.startswith("aten::") else name


def _subtree_time(event: Any, self_time: Callable[[Any], float]) -> float:
    total = self_time(event)
    for child in event.cpu_children:
        total += _subtree_time(child, self_time)
    return total


def _leaves(event: Any) -> Iterator[Any]:
    if not event.cpu_children:
        yield event
    for child in event.cpu_children:
        yield from _leaves(child)


def _on_cpu(event: Any) -> bool:
    device_type = getattr(event, "device_type", None)
    return device_type is None or getattr(device_type, "name", "CPU") == "CPU"


def _ordered(events: list[Any]) -> list[Any]:
    return sorted(events, key=lambda e: e.time_range.start)


class _RecordCursor:
    """The analyzer's records of each module, consumed in execution order."""

    def __init__(self, records: list["OpRecord"]):
        self.by_module: dict[str, list["OpRecord"]] = defaultdict(list)
        for r in records:
            self.by_module[r.module].append(r)
        self.position: dict[str, int] = {}

    def restart(self) -> None:
        self.position = {}

    def next_op(self, module: str) -> "OpRecord | None":
        records = self.by_module.get(module, ())
        i = self.position.get(module, 0)
        return records[i] if i < len(records) else None

    def take(self, module: str) -> None:
        self.position[module] = self.position.get(module, 0) + 1


class _Attributor:
    """Walks the profiler's event tree and attributes every aten op's self time."""

    def __init__(self, cost: "ModelCost", scopes: dict[str, str],
                 self_time: Callable[[Any], float]):
        self.cursor = _RecordCursor(cost.layers)
        self.scopes = scopes
        self.self_time = self_time
        self.result = Attribution()
        self.known_zero = frozenset(KNOWN_ZERO_NAMES)
        # fallback for ops that cannot be matched: the category the analyzer gave that name
        votes: dict[str, Counter] = defaultdict(Counter)
        for r in cost.layers:
            votes[r.op][profile_category(r)] += 1
        self.name_category = {op: c.most_common(1)[0][0] for op, c in votes.items()}

    def forward(self, root_scope: Any) -> Attribution:
        """One profiled forward: the root module's scope event."""
        self.cursor.restart()
        self.result = Attribution()
        self._scope(root_scope, self.scopes[root_scope.name])
        return self.result

    def _scope(self, event: Any, module: str) -> None:
        for child in _ordered(event.cpu_children):
            path = self.scopes.get(child.name)
            if path is not None:
                self._scope(child, path)
            else:
                self._top_level_op(child, module)

    def _match(self, event: Any, module: str, matched: list[tuple[str, float]]) -> float:
        """Depth first: an event named like the module's next record takes that record's
        category for its whole subtree. Returns the self time left unmatched."""
        record = self.cursor.next_op(module)
        if record is not None and _op_name(event) == record.op:
            self.cursor.take(module)
            self.result.matched_records += 1
            matched.append((profile_category(record), _subtree_time(event, self.self_time)))
            return 0.0
        left = self.self_time(event)
        for child in _ordered(event.cpu_children):
            left += self._match(child, module, matched)
        return left

    def _fallback(self, event: Any) -> tuple[str, bool]:
        """(category, unmatched) of an op no record matched."""
        if all(_op_name(leaf) in self.known_zero for leaf in _leaves(event)):
            return DATA_MOVEMENT, False  # views, splits, reshapes: free to the analyzer
        stack = [event]
        while stack:
            e = stack.pop(0)
            category = self.name_category.get(_op_name(e))
            if category is not None:
                return category, True
            stack.extend(_ordered(e.cpu_children))
        return OTHER, True

    def _top_level_op(self, event: Any, module: str) -> None:
        matched: list[tuple[str, float]] = []
        left = self._match(event, module, matched)
        result = self.result
        for category, time in matched:
            result.by_category[category] += time
        if left:
            if matched:  # composite wrappers and views inside a matched op: its category
                result.by_category[matched[0][0]] += left
            else:
                category, unmatched = self._fallback(event)
                result.by_category[category] += left
                if unmatched:
                    result.unmatched_us += left
        result.by_module[module] += left + sum(t for _, t in matched)


def attribute_events(events: list[Any], cost: "ModelCost", scopes: dict[str, str],
                     device: str = "cpu") -> list[Attribution]:
    """Attribute the self time of every aten op in ``events`` (a profiler's function
    events) to a category and a module, one ``Attribution`` per forward (per call of the
    root module's scope). On CUDA the time is the op's own kernels' time."""
    if device == "cuda":
        def self_time(e: Any) -> float:
            return float(e.self_device_time_total)
    else:
        def self_time(e: Any) -> float:
            return float(e.self_cpu_time_total)
    attributor = _Attributor(cost, scopes, self_time)
    root = SCOPE_PREFIX + ROOT
    # on CUDA a scope also shows as an annotation on the GPU's timeline: not a forward
    return [attributor.forward(event) for event in
            _ordered([e for e in events if e.name == root and e.cpu_parent is None
                      and _on_cpu(e)])]


# ------------------------------------------------------------------------------ report

@dataclass(frozen=True)
class ProfileRow:
    """One category or module: its measured time beside its static FLOPs and bytes."""

    name: str  # a category, or a module path (ROOT for the model's own forward)
    module_type: str  # "" for categories
    depth: int  # module depth (1 = the model's children); 0 for categories and ROOT
    time_ms: float  # aten self time per forward, mean over the profiled forwards
    time_share: float  # of the profiled total
    flops: int  # static count of the same model and input
    flops_share: float
    memory_access_bytes: int
    bytes_share: float
    ops: int  # the analyzer's op records (views not counted)


@dataclass
class ProfileReport:
    """Where one model's forward time goes, by category and by module."""

    model: str
    variant: str
    device: str
    threads: int
    input_shapes: list[tuple[int, ...]]
    forwards: int  # profiled forwards the times are averaged over
    depth: int
    categories: list[ProfileRow]
    modules: list[ProfileRow]
    profiled_ms: float  # the sum of the self times, per forward
    measured: LatencyStats  # the forward timed on its own, without profiler or hooks
    unmatched_ms: float  # categorized by op name, not matched to a static record
    matched_records: int  # the analyzer's op records found in each profiled forward
    flops: int
    memory_access_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Sum of self times / measured median forward time."""
        return self.profiled_ms / self.measured.median_ms if self.measured.median_ms else 0.0

    @property
    def coverage_ok(self) -> bool:
        return abs(self.coverage - 1) <= COVERAGE_TOLERANCE

    def warnings(self) -> list[str]:
        lines = []
        if not self.coverage_ok:
            lines.append(
                f"self times add up to {100 * self.coverage:.1f}% of the measured forward "
                f"({self.profiled_ms:.2f} of {self.measured.median_ms:.2f} ms), outside "
                f"100 +/- {100 * COVERAGE_TOLERANCE:.0f}%: "
                + ("time outside aten ops (Python, launch gaps) is not in the breakdown"
                   if self.coverage < 1 else "profiler overhead inflates the self times"))
        if self.unmatched_ms > COVERAGE_TOLERANCE * self.profiled_ms:
            lines.append(f"{self.unmatched_ms:.2f} ms of ops could not be matched to the "
                         "static analysis and were categorized by op name")
        return lines

    def to_dataframes(self) -> dict[str, "pd.DataFrame"]:
        """``categories`` and ``modules``: one row each, columns as in ``ProfileRow``."""
        import pandas as pd

        columns = list(ProfileRow.__dataclass_fields__)
        return {
            "categories": pd.DataFrame([asdict(r) for r in self.categories], columns=columns)
            .rename(columns={"name": "category"}).drop(columns=["module_type", "depth"]),
            "modules": pd.DataFrame([asdict(r) for r in self.modules], columns=columns)
            .rename(columns={"name": "module"}),
        }

    def to_dataframe(self, kind: str = "categories") -> "pd.DataFrame":
        return self.to_dataframes()[kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "variant": self.variant, "device": self.device,
            "threads": self.threads, "input_shapes": [list(s) for s in self.input_shapes],
            "forwards": self.forwards, "depth": self.depth,
            "profiled_ms": self.profiled_ms, "measured": self.measured.to_dict(),
            "coverage": self.coverage, "coverage_ok": self.coverage_ok,
            "unmatched_ms": self.unmatched_ms, "matched_records": self.matched_records,
            "flops": self.flops,
            "memory_access_bytes": self.memory_access_bytes, "notes": list(self.notes),
            "warnings": self.warnings(),
            "categories": [asdict(r) for r in self.categories],
            "modules": [asdict(r) for r in self.modules],
        }


def _share(part: float, total: float) -> float:
    return part / total if total else 0.0


def _module_at_depth(path: str, depth: int) -> list[str]:
    """The rows a module path's time adds to: its ancestors down to ``depth``, or ROOT."""
    if not path:
        return [ROOT]
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(min(depth, len(parts)))]


def build_report(cost: "ModelCost", attribution: Attribution, measured: LatencyStats, *,
                 device: str, threads: int, depth: int) -> ProfileReport:
    """Times (``attribution``: per forward) beside the static FLOPs and bytes, by category
    and by module."""
    total_us = attribution.total_us
    flops_total = cost.total.flops
    bytes_total = cost.total.memory_access_bytes

    static: dict[str, list[int]] = {c: [0, 0, 0] for c in PROFILE_CATEGORIES}
    for r in cost.layers:
        s = static[profile_category(r)]
        s[0] += r.flops
        s[1] += r.memory_access_bytes
        s[2] += 1
    categories = [
        ProfileRow(c, "", 0, attribution.by_category.get(c, 0.0) / 1e3,
                   _share(attribution.by_category.get(c, 0.0), total_us),
                   static[c][0], _share(static[c][0], flops_total),
                   static[c][1], _share(static[c][1], bytes_total), static[c][2])
        for c in PROFILE_CATEGORIES]

    module_time: dict[str, float] = defaultdict(float)
    for path, us in attribution.by_module.items():
        for row in _module_at_depth(path, depth):
            module_time[row] += us
    modules = []
    root_records = [r for r in cost.layers if not r.module]
    if root_records or module_time.get(ROOT):
        flops = sum(r.flops for r in root_records)
        nbytes = sum(r.memory_access_bytes for r in root_records)
        us = module_time.get(ROOT, 0.0)
        modules.append(ProfileRow(ROOT, cost.module_tree.get("", ("", 0))[0], 0,
                                  us / 1e3, _share(us, total_us), flops,
                                  _share(flops, flops_total), nbytes,
                                  _share(nbytes, bytes_total), len(root_records)))
    for m in cost.modules(depth):
        us = module_time.get(m.path, 0.0)
        modules.append(ProfileRow(m.path, m.module_type, m.depth, us / 1e3,
                                  _share(us, total_us), m.flops, _share(m.flops, flops_total),
                                  m.memory_access_bytes,
                                  _share(m.memory_access_bytes, bytes_total), m.ops))
    return ProfileReport(
        cost.name, cost.info.variant, device, threads, list(cost.info.input_shapes),
        attribution.forwards, depth, categories, modules, total_us / 1e3,
        measured, attribution.unmatched_us / 1e3, attribution.matched_records, flops_total,
        bytes_total,
        list(cost.info.notes))


# --------------------------------------------------------------------------- profiling

@contextlib.contextmanager
def quiet_kineto() -> Iterator[None]:
    """Silence kineto's two log lines per profiling session (a flood with one session per
    forward) unless the user set KINETO_LOG_LEVEL; kineto reads it when it first starts."""
    import os

    key = "KINETO_LOG_LEVEL"
    was_set = key in os.environ
    if not was_set:
        os.environ[key] = "6"  # above its highest level (USDT = 5)
    try:
        yield
    finally:
        if not was_set:
            os.environ.pop(key, None)


class ProfiledForward:
    """A zero-argument callable: one forward under module scopes and the profiler, its
    self times attributed at once (so no event list outlives the call)."""

    def __init__(self, prepared: Any, cost: "ModelCost", device: str = "cpu"):
        from torch.profiler import ProfilerActivity

        self.prepared = prepared
        self.cost = cost
        self.device = device
        self.activities = [ProfilerActivity.CPU]
        if device == "cuda":
            self.activities.append(ProfilerActivity.CUDA)
        self.forwards: list[Attribution] = []

    def __call__(self) -> None:
        import torch
        from torch.profiler import profile

        with module_scopes(self.prepared.module) as scopes:
            with profile(activities=self.activities) as prof:
                self.prepared()
                if self.device == "cuda":
                    torch.cuda.synchronize()
        self.forwards.extend(attribute_events(list(prof.events()), self.cost, scopes,
                                              self.device))
