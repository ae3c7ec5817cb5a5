"""A static audit against ShuffleNet V2's four guidelines (Ma et al. 2018, Section 2).

Memory-access cost ("MAC" in the paper; here *memory access*, counted in elements, so as
not to clash with costlab's MACs, the multiply-accumulates) of a convolution with input
``c1 x a`` (a = batch x input positions), output ``c2 x b`` (b = batch x output positions),
kernel area ``k`` and ``g`` groups: ``a c1 + b c2 + k c1 c2 / g`` (read the input, write the
output, read the weights). For a stride-1 1x1 conv, a = b = hw and g = 1, this is the
paper's ``hw(c1 + c2) + c1 c2``.

- **G1, equal channel width minimizes memory access.** For each 1x1 conv (pointwise, or
  grouped with a 1x1 kernel) at fixed FLOPs ``B = hw c1 c2``, memory access is bounded
  below by ``2 sqrt(hw B) + B/hw``, reached at c1 = c2 (with a != b or groups: ``2
  sqrt(a b c1 c2) + c1 c2 / g``). A conv is *unbalanced* when its memory access exceeds
  that bound by more than ``layer_excess``.
- **G2, excessive group convolution increases memory access.** For each grouped conv
  (1 < g < c_in), memory access against the same conv at g = 1 with equal FLOPs and input
  width (``c2 / g`` outputs): the paper's ``hw c1 + B g / c1 + B/hw`` vs the same at g = 1.
  A grouped conv is *excessive* when it exceeds its g = 1 twin by more than
  ``layer_excess``.
- **G3, fragmentation reduces parallelism.** Blocks come from the dataflow graph (see
  ``costlab.analysis.graph``): the ops between two cut points, where the whole network
  passes through one tensor. A block's *branches* is the most kernel ops (convolutions,
  linear layers, attention, pooling) that could run at the same time, the width of its op
  DAG; its *fragments* is the number of those ops, the paper's "number of individual
  convolution or pooling operations in one building block". A block is *fragmented* when
  it has more than ``max_branches`` branches.
- **G4, element-wise ops are not negligible.** Element-wise ops are activations, adds and
  other per-element arithmetic, norms that cannot be folded into the conv before them,
  and depthwise convs (which the paper counts as element-wise for their high memory-access
  to FLOPs ratio). A BatchNorm that directly follows a conv or linear layer, the only
  reader of its output, is folded at inference and left out of every count; biases are
  part of their conv's op. The key figure is element-wise bytes per byte moved by the ops
  that do the arithmetic (convs other than depthwise, linear layers, attention).

Verdicts (``THRESHOLDS``; every number is a property of a guideline, none of a model):

| guideline | key metric | pass | warn | fail |
|---|---|---|---|---|
| G1 | share of arithmetic-op bytes in unbalanced 1x1 convs | < 10% | 10-50% | >= 50% |
| G2 | share of arithmetic-op bytes in excessive group convs | < 10% | 10-50% | >= 50% |
| G3 | share of arithmetic-op bytes in blocks of > 2 branches | < 10% | 10-50% | >= 50% |
| G4 | element-wise bytes per arithmetic-op byte | < 1 | 1-1.5 | >= 1.5 |

G1-G3 weigh a flagged layer or block by its share of the memory access (bytes) of the
arithmetic ops, the convs other than depthwise, linear layers and attention; its share of
MACs is reported beside (``share_macs_*``). Bytes, not MACs: the guidelines are about
memory-bound layers, which a MAC weight under-counts (ResNeXt-50's g=32 convs move 93%
more memory than their ungrouped twins and hold 15% of the arithmetic ops' bytes, but 5.5%
of the MACs). The arithmetic ops, not all traffic: element-wise ops are G4's concern, and
counting their bytes would make a model that fails G4 look better on G1-G3.

- ``layer_excess = 3 / (2 sqrt 2) - 1`` (6.07%): the memory-access excess of a 1:2
  channel ratio, the mildest imbalance the paper measures as slower (Table 1). A layer is
  flagged only when it wastes more than that; G2 reuses it, so both flags mean "moves
  more extra memory than a 1:2 channel ratio would".
- ``share_warn = 10%``, ``share_fail = 50%``: a noticeable part, and the majority, of the
  arithmetic ops' memory traffic is in flagged layers or blocks.
- ``max_branches = 2``: two branches is the floor for a unit that both transforms and
  keeps or reshapes its input (ResNet's projection shortcut, ShuffleNet V2's stride-2
  unit, designed to follow G3); more is the paper's multi-path fragmentation (Table 3:
  the 4-fragment parallel block runs slowest).
- ``elementwise_warn = 1``: element-wise ops move as many bytes as the convolutions, the
  traffic of one unfused activation after every equal-width conv; ``elementwise_fail =
  1.5``: half as much again. Measured against the arithmetic ops rather than all traffic,
  so concatenations, shuffles and pooling neither dilute nor inflate it.

Byte and element counts are those of the traced input: a larger batch spreads the
weights' share of memory access thinner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from costlab.analysis import graph
from costlab.analysis.registry import numel
from costlab.core.categories import OpCategory, Verdict
from costlab.core.records import ModelCost, OpRecord, shape_text

if TYPE_CHECKING:  # pandas is imported only when a frame is asked for
    import pandas as pd

PASS, WARN, FAIL = Verdict.PASS, Verdict.WARN, Verdict.FAIL

CONV_CATEGORIES = frozenset({OpCategory.CONV, OpCategory.DEPTHWISE, OpCategory.POINTWISE,
                             OpCategory.GROUPED})
# ops that launch a kernel doing real work: what G3 counts as fragments and branches
KERNEL_CATEGORIES = CONV_CATEGORIES | {OpCategory.MATMUL, OpCategory.ATTENTION, OpCategory.POOLING,
                                       OpCategory.REDUCTION, OpCategory.EMBEDDING}
# ops doing the arithmetic G4 weighs element-wise traffic against
ARITHMETIC_CATEGORIES = frozenset({OpCategory.CONV, OpCategory.POINTWISE, OpCategory.GROUPED,
                                   OpCategory.MATMUL, OpCategory.ATTENTION})
ELEMENTWISE_CATEGORIES = frozenset({OpCategory.ACTIVATION, OpCategory.ELEMENTWISE,
                                    OpCategory.NORM, OpCategory.DEPTHWISE})


@dataclass(frozen=True)
class Thresholds:
    """Where verdicts change; see the module docstring for why each is what it is."""

    layer_excess: float = 3 / (2 * math.sqrt(2)) - 1  # G1, G2: a 1:2 channel ratio's excess
    share_warn: float = 0.10  # G1-G3: share of arithmetic-op bytes in flagged layers/blocks
    share_fail: float = 0.50
    max_branches: int = 2  # G3: branches a block may have before it counts as fragmented
    elementwise_warn: float = 1.0  # G4: element-wise bytes per arithmetic-op byte
    elementwise_fail: float = 1.5


THRESHOLDS = Thresholds()


@dataclass
class GuidelineResult:
    """One guideline's verdict, the numbers behind it and the layers or blocks that break it."""

    guideline: str  # "G1" .. "G4"
    title: str
    verdict: Verdict
    explanation: str  # one line, plain words
    key_metric: str  # the name in ``metrics`` the verdict is read from
    metrics: dict[str, Any]
    offenders: list[dict[str, Any]] = field(default_factory=list)  # worst first

    @property
    def value(self) -> Any:
        return self.metrics[self.key_metric]

    def offenders_frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame(self.offenders)


@dataclass
class GuidelineAudit:
    """The four results for one model, G1 to G4."""

    model: str
    results: list[GuidelineResult]
    thresholds: Thresholds = THRESHOLDS

    def __getitem__(self, guideline: str) -> GuidelineResult:
        for r in self.results:
            if r.guideline == guideline:
                return r
        raise KeyError(guideline)

    @property
    def verdicts(self) -> dict[str, str]:
        return {r.guideline: r.verdict for r in self.results}

    def to_frames(self) -> tuple["pd.DataFrame", "pd.DataFrame"]:
        """(summary: one row per guideline; offenders: one row per flagged layer or block,
        with its guideline and rank, columns the union of the guidelines' fields)."""
        import pandas as pd

        summary = pd.DataFrame([{
            "model": self.model, "guideline": r.guideline, "title": r.title,
            "verdict": r.verdict, "key_metric": r.key_metric, "value": r.value,
            "explanation": r.explanation,
        } for r in self.results])
        rows = [{"model": self.model, "guideline": r.guideline, "rank": rank, **o}
                for r in self.results for rank, o in enumerate(r.offenders, 1)]
        return summary, pd.DataFrame(rows)


# ------------------------------------------------------------------ conv geometry

@dataclass(frozen=True, slots=True)
class ConvGeometry:
    """What memory access depends on: widths, positions (batch included), kernel, groups."""

    c_in: int
    c_out: int
    in_positions: int  # a: batch x input spatial positions
    out_positions: int  # b: batch x output spatial positions
    kernel_area: int
    groups: int

    @classmethod
    def of(cls, record: OpRecord) -> "ConvGeometry":
        x, y = record.input_shapes[0], record.output_shapes[0]
        attrs = record.attrs or {}
        return cls(int(x[1]), int(y[1]), numel(x) // int(x[1]), numel(y) // int(y[1]),
                   numel(attrs.get("kernel") or ()), int(attrs.get("groups", 1)))

    @property
    def weights(self) -> int:
        return self.c_in * self.c_out * self.kernel_area // self.groups

    @property
    def memory_access(self) -> int:
        """Elements read and written: input, output, weights."""
        return self.in_positions * self.c_in + self.out_positions * self.c_out + self.weights

    @property
    def balanced_bound(self) -> float:
        """G1's lower bound at the same FLOPs and groups: with c_in x c_out fixed,
        a c_in + b c_out >= 2 sqrt(a b c_in c_out) (AM-GM), equal when a c_in = b c_out."""
        return 2 * math.sqrt(self.in_positions * self.out_positions * self.c_in
                             * self.c_out) + self.weights

    @property
    def ungrouped_memory_access(self) -> float:
        """G2's twin: g = 1, same input width and FLOPs, so c_out / g outputs."""
        return (self.in_positions * self.c_in + self.out_positions * self.c_out / self.groups
                + self.weights)


def is_1x1(record: OpRecord) -> bool:
    if record.category == OpCategory.POINTWISE:
        return True
    kernel = (record.attrs or {}).get("kernel") or ()
    return record.category == OpCategory.GROUPED and all(k == 1 for k in kernel)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def share_verdict(share: float, t: Thresholds) -> Verdict:
    return FAIL if share >= t.share_fail else WARN if share >= t.share_warn else PASS


def arithmetic_bytes(cost: ModelCost) -> int:
    """Memory access (bytes) of the ops doing the arithmetic: what G1-G3 weigh by."""
    return sum(r.memory_access_bytes for r in cost.layers
               if r.category in ARITHMETIC_CATEGORIES)


def _bytes_share(rows: list[dict[str, Any]], whole: int) -> float:
    return _share(sum(o["memory_access_bytes"] for o in rows), whole)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# --------------------------------------------------------------------------- G1

def _excessive_convs(cost: ModelCost, t: Thresholds, select: Callable[[OpRecord], bool],
                     ideal: Callable[["ConvGeometry"], float],
                     extra: Callable[["ConvGeometry", float], dict[str, Any]],
                     ) -> tuple[list[dict[str, Any]], int]:
    """The selected convs whose memory access exceeds ``ideal`` by more than the layer
    tolerance, worst (most excess elements) first; and the MACs of all selected convs."""
    total, total_bytes = cost.total.macs, arithmetic_bytes(cost)
    rows, macs_selected = [], 0
    for r in cost.layers:
        if not select(r):
            continue
        geo = ConvGeometry.of(r)
        macs_selected += r.macs
        best = ideal(geo)
        excess = geo.memory_access / best - 1
        if excess > t.layer_excess:
            rows.append({
                "index": r.index, "module": r.module, "c_in": geo.c_in, "c_out": geo.c_out,
                **extra(geo, best), "groups": geo.groups, "positions": geo.out_positions,
                "memory_access": geo.memory_access, "excess": excess,
                "excess_elements": geo.memory_access - best, "macs": r.macs,
                "share_macs": _share(r.macs, total),
                "memory_access_bytes": r.memory_access_bytes,
                "share_memory_access": _share(r.memory_access_bytes, total_bytes),
            })
    rows.sort(key=lambda o: -o["excess_elements"])
    return rows, macs_selected


def audit_g1(cost: ModelCost, t: Thresholds = THRESHOLDS) -> GuidelineResult:
    total = cost.total.macs
    rows, macs_1x1 = _excessive_convs(
        cost, t, is_1x1, lambda geo: geo.balanced_bound,
        lambda geo, best: {"ratio": geo.c_out / geo.c_in, "lower_bound": best})
    share_macs = _share(sum(o["macs"] for o in rows), total)
    share = _bytes_share(rows, arithmetic_bytes(cost))
    verdict = share_verdict(share, t)
    if rows:
        worst = rows[0]
        explanation = (f"{_pct(share)} of the arithmetic ops' memory access ({_pct(share_macs)} "
                       f"of MACs) is in 1x1 convs whose unequal widths cost "
                       f"more memory access than needed (worst: {worst['module']}, "
                       f"{worst['c_in']}->{worst['c_out']} channels, "
                       f"+{_pct(worst['excess'])} over the balanced minimum)")
    elif macs_1x1:
        explanation = "every 1x1 conv keeps its input and output widths close"
    else:
        explanation = "no 1x1 convolutions"
    metrics = {"share_memory_access_unbalanced": share, "share_macs_unbalanced": share_macs,
               "unbalanced_convs": len(rows), "share_macs_1x1": _share(macs_1x1, total),
               "excess_elements": sum(o["excess_elements"] for o in rows)}
    return GuidelineResult("G1", "equal channel width minimizes memory access", verdict,
                           explanation, "share_memory_access_unbalanced", metrics, rows)


# --------------------------------------------------------------------------- G2

def audit_g2(cost: ModelCost, t: Thresholds = THRESHOLDS) -> GuidelineResult:
    total = cost.total.macs
    rows, macs_grouped = _excessive_convs(
        cost, t, lambda r: r.category == OpCategory.GROUPED,  # 1 < g < c_in, as conv_category
        lambda geo: geo.ungrouped_memory_access,
        lambda geo, best: {"kernel_area": geo.kernel_area, "ungrouped_memory_access": best})
    share_macs = _share(sum(o["macs"] for o in rows), total)
    share = _bytes_share(rows, arithmetic_bytes(cost))
    verdict = share_verdict(share, t)
    if rows:
        worst = rows[0]
        explanation = (f"{_pct(share)} of the arithmetic ops' memory access ({_pct(share_macs)} "
                       f"of MACs) is in group convs that move more memory than "
                       f"an ungrouped conv of equal FLOPs (worst: {worst['module']}, "
                       f"g={worst['groups']}, +{_pct(worst['excess'])})")
    elif macs_grouped:
        explanation = "group convs are few or mild enough to cost little extra memory access"
    else:
        explanation = "no group convolutions (depthwise ones are G4's concern)"
    metrics = {"share_memory_access_excessive": share, "share_macs_excessive": share_macs,
               "excessive_convs": len(rows), "share_macs_grouped": _share(macs_grouped, total),
               "excess_elements": sum(o["excess_elements"] for o in rows)}
    return GuidelineResult("G2", "excessive group convolution increases memory access",
                           verdict, explanation, "share_memory_access_excessive", metrics, rows)


# --------------------------------------------------------------------------- G3

def block_rows(cost: ModelCost) -> list[dict[str, Any]]:
    """One row per block of the dataflow graph: its branches, fragments and costs (its
    arithmetic ops' bytes, which G3 weighs it by, and its MACs)."""
    records, total, total_bytes = cost.layers, cost.total.macs, arithmetic_bytes(cost)
    succ = graph.successors(records)

    def is_kernel(p: int) -> bool:
        return records[p].category in KERNEL_CATEGORIES

    rows = []
    for block in graph.blocks(records):
        macs = sum(records[p].macs for p in block.positions)
        moved = sum(records[p].memory_access_bytes for p in block.positions
                    if records[p].category in ARITHMETIC_CATEGORIES)
        rows.append({
            "block": block.module or "(model)",
            "first_index": records[block.positions[0]].index,
            "last_index": records[block.positions[-1]].index,
            "ops": len(block.positions),
            "fragments": sum(is_kernel(p) for p in block.positions),
            "branches": max(1, graph.max_antichain(succ, block.positions, is_kernel)),
            "macs": macs, "share_macs": _share(macs, total),
            "arithmetic_bytes": moved, "share_memory_access": _share(moved, total_bytes),
        })
    return rows


def audit_g3(cost: ModelCost, t: Thresholds = THRESHOLDS) -> GuidelineResult:
    total, total_bytes = cost.total.macs, arithmetic_bytes(cost)
    blocks = block_rows(cost)
    rows = sorted((b for b in blocks if b["branches"] > t.max_branches),
                  key=lambda b: (-b["branches"], -b["macs"]))
    share_macs = _share(sum(b["macs"] for b in rows), total)
    share = _share(sum(b["arithmetic_bytes"] for b in rows), total_bytes)
    verdict = share_verdict(share, t)
    in_blocks = sum(b["macs"] for b in blocks)
    # ops outside any block form plain chains: one branch
    mean_branches = (_share(sum(b["branches"] * b["macs"] for b in blocks)
                            + (total - in_blocks), total) if total else 1.0)
    if rows:
        worst = rows[0]
        explanation = (f"{_pct(share)} of the arithmetic ops' memory access ({_pct(share_macs)} "
                       f"of MACs) is in multi-path blocks of more than "
                       f"{t.max_branches} parallel branches (widest: {worst['block']}, "
                       f"{worst['branches']} branches, {worst['fragments']} kernel ops)")
    elif blocks:
        explanation = (f"no block runs more than {t.max_branches} branches side by side; "
                       "few, large ops in series")
    else:
        explanation = "a plain chain of ops: nothing runs side by side"
    metrics = {
        "share_memory_access_fragmented": share, "share_macs_fragmented": share_macs,
        "fragmented_blocks": len(rows), "blocks": len(blocks),
        "max_branches": max((b["branches"] for b in blocks), default=1),
        "mean_branches": mean_branches,
        "mean_fragments": _share(sum(b["fragments"] for b in blocks), len(blocks)),
    }
    return GuidelineResult("G3", "network fragmentation reduces parallelism", verdict,
                           explanation, "share_memory_access_fragmented", metrics, rows)


# --------------------------------------------------------------------------- G4

def folded_norms(records: Sequence[OpRecord]) -> set[int]:
    """Positions of BatchNorms an inference engine folds into the conv or linear layer
    before them: that layer's result is read by the BatchNorm alone."""
    succ, pred = graph.successors(records), graph.predecessors(records)
    folded = set()
    for p, r in enumerate(records):
        if r.category != OpCategory.NORM or "batch_norm" not in r.op or not pred[p]:
            continue
        producer = pred[p][0]
        if (producer != graph.INPUT
                and records[producer].category in CONV_CATEGORIES | {OpCategory.MATMUL}
                and graph.sole_consumer(succ, producer, p)):
            folded.add(p)
    return folded


def audit_g4(cost: ModelCost, t: Thresholds = THRESHOLDS) -> GuidelineResult:
    records = cost.layers
    folded = folded_norms(records)
    deployed = [r for p, r in enumerate(records) if p not in folded]
    elementwise = [r for r in deployed if r.category in ELEMENTWISE_CATEGORIES]
    total_bytes = sum(r.memory_access_bytes for r in deployed)
    ew_bytes = sum(r.memory_access_bytes for r in elementwise)
    arithmetic_bytes = sum(r.memory_access_bytes for r in deployed
                           if r.category in ARITHMETIC_CATEGORIES)
    ratio = ew_bytes / arithmetic_bytes if arithmetic_bytes else (math.inf if ew_bytes else 0.0)
    verdict = (FAIL if ratio >= t.elementwise_fail else WARN if ratio >= t.elementwise_warn
               else PASS)
    rows = sorted(({
        "index": r.index, "module": r.module, "op": r.op, "category": r.category,
        "output_shape": shape_text(r.output_shapes[0]) if r.output_shapes else "",
        "memory_access_bytes": r.memory_access_bytes, "flops": r.flops,
        "share_bytes": _share(r.memory_access_bytes, total_bytes),
    } for r in elementwise), key=lambda o: -o["memory_access_bytes"])
    by_kind = {f"share_bytes_{c.replace(' ', '_').replace('-', '_')}":
               _share(sum(r.memory_access_bytes for r in elementwise if r.category == c),
                      total_bytes)
               for c in sorted(ELEMENTWISE_CATEGORIES)}
    share_bytes = _share(ew_bytes, total_bytes)
    share_flops = _share(sum(r.flops for r in elementwise), sum(r.flops for r in deployed))
    explanation = (f"element-wise ops (activations, adds, unfolded norms, depthwise convs) "
                   f"move {ratio:.2f} bytes per byte of the convolutions, "
                   f"{_pct(share_bytes)} of all memory traffic for {_pct(share_flops)} "
                   "of the FLOPs")
    metrics = {
        "elementwise_per_conv_byte": ratio,
        "share_ops": _share(len(elementwise), len(deployed)),
        "share_bytes": share_bytes,
        "share_flops": share_flops,
        **by_kind, "folded_norms": len(folded),
    }
    return GuidelineResult("G4", "element-wise operations are not negligible", verdict,
                           explanation, "elementwise_per_conv_byte", metrics, rows)


def with_measured_time(result: GuidelineResult, elementwise_share: float,
                       depthwise_share: float, source: str) -> GuidelineResult:
    """G4 with the measured share of forward time spent in element-wise ops (and depthwise
    convs, which the paper counts with them) beside the static shares. The verdict stays the
    static one: time depends on the machine, the bytes do not. ``source`` says where the
    time was measured (e.g. "cpu, 2 threads")."""
    from dataclasses import replace

    measured = elementwise_share + depthwise_share
    metrics = {**result.metrics, "share_time": measured,
               "share_time_elementwise": elementwise_share,
               "share_time_depthwise": depthwise_share}
    explanation = (f"{result.explanation}; measured ({source}): {_pct(measured)} of the "
                   f"forward time ({_pct(elementwise_share)} element-wise, "
                   f"{_pct(depthwise_share)} depthwise)")
    return replace(result, metrics=metrics, explanation=explanation)


# ------------------------------------------------------------------------- audit

def audit(cost: ModelCost, thresholds: Thresholds = THRESHOLDS) -> GuidelineAudit:
    """Check ``cost`` against ShuffleNet V2's guidelines G1-G4 (see the module docstring)."""
    results = [check(cost, thresholds) for check in (audit_g1, audit_g2, audit_g3, audit_g4)]
    return GuidelineAudit(cost.name, results, thresholds)


def with_measured_g4(audit_result: GuidelineAudit, elementwise_share: float,
                     depthwise_share: float, source: str) -> GuidelineAudit:
    """The audit with G4's measured time shares added (see ``with_measured_time``)."""
    from dataclasses import replace

    results = [with_measured_time(r, elementwise_share, depthwise_share, source)
               if r.guideline == "G4" else r for r in audit_result.results]
    return replace(audit_result, results=results)


__all__ = ["THRESHOLDS", "ConvGeometry", "GuidelineAudit", "GuidelineResult", "Thresholds",
           "audit", "audit_g1", "audit_g2", "audit_g3", "audit_g4", "block_rows",
           "folded_norms", "with_measured_g4", "with_measured_time"]
