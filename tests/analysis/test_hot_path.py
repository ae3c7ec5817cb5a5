"""A guard on the analyzer's hot path that counts work instead of timing it.

A profile hook counts Python function calls (and tensor allocations) while a model is
analyzed on meta. Per traced op the counts must stay under fixed bounds, and for models
2x and 4x deeper they must grow linearly. A change that makes the hot path quadratic, lets
an op fall back to torch's Python decompositions (hundreds of calls each), or adds
per-op formatting fails here on any machine, however fast or loaded.

The bounds are about 1.5x today's counts (printed by ``pytest -s``), so ordinary edits
pass; they are not targets.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter

import pytest
import torch
from torch import nn

from costlab.analysis import build_cost, formulas, tracer
from costlab.analysis import registry as formula_registry
from costlab.core.records import layer_rows, module_costs
from costlab.build.meta_kernels import meta_construction
from costlab.models import registry

FORMULAS_FILE = formulas.__file__
# the files formulas live in (the shared per-element formula is registry.py's)
FORMULA_FILES = {FORMULAS_FILE, formula_registry.__file__}
RECORD = tracer.TraceState.record.__code__
DISPATCH = tracer._CostMode.__torch_dispatch__.__code__
COSTLAB = str(FORMULAS_FILE).rsplit("/analysis/", 1)[0]
ALLOCATORS = (torch.empty, torch.empty_strided, torch.empty_like)


class WorkCounter:
    """sys.setprofile hook: Python calls by file, formula calls from the tracer, dispatches,
    and calls of torch's allocating factories; with ``lines()`` as sys.settrace hook, the
    lines costlab executes (a quadratic loop shows there even if it calls nothing)."""

    def __init__(self):
        self.costlab_lines = 0
        self.calls = 0
        self.costlab_calls = 0
        self.formula_calls = 0
        self.dispatches = 0
        self.allocations = 0
        self.by_function: Counter = Counter()

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            self.calls += 1
            if code.co_filename.startswith(COSTLAB):
                self.costlab_calls += 1
                self.by_function[code.co_name] += 1
                if code is DISPATCH:
                    self.dispatches += 1
                elif code.co_filename in FORMULA_FILES and frame.f_back is not None \
                        and frame.f_back.f_code is RECORD:
                    self.formula_calls += 1
        elif event == "c_call" and any(arg is f for f in ALLOCATORS):
            self.allocations += 1

    def lines(self, frame, event, arg):
        if not frame.f_code.co_filename.startswith(COSTLAB):
            return None

        def local(frame, event, arg):
            if event == "line":
                self.costlab_lines += 1
            return local

        return local


@contextlib.contextmanager
def counting(counter: WorkCounter):
    """Count calls and lines inside the block; a coverage tool's or debugger's own trace and
    profile functions are put back after it."""
    previous_profile, previous_trace = sys.getprofile(), sys.gettrace()
    sys.setprofile(counter)
    sys.settrace(counter.lines)
    try:
        yield counter
    finally:
        sys.settrace(previous_trace)
        sys.setprofile(previous_profile)


def analyze_counting(model: nn.Module, x: torch.Tensor) -> tuple[WorkCounter, object]:
    """The full analysis (records, bytes, edges, params, module tree), then the per-module
    roll-up and the per-layer rows, under the counter."""
    counter = WorkCounter()
    with counting(counter):
        cost = build_cost(model, (x,), name="m", knobs={}, device="meta")
        module_costs(cost, 1)
        module_costs(cost, 3)
        layer_rows(cost)
    return counter, cost


def built(name: str, **knobs) -> tuple[nn.Module, torch.Tensor]:
    spec = registry().get(name)
    resolved = spec.resolve_knobs(knobs)
    shape = spec.input_for(1, None, resolved)
    with meta_construction():
        model = spec.build(input_shape=shape, **resolved).eval()
    x = torch.zeros(shape, device="meta", dtype=getattr(torch, spec.input_dtype))
    return model, x


def test_mobilenet_v2_work_per_op_is_bounded():
    model, x = built("mobilenet_v2")
    counter, cost = analyze_counting(model, x)
    ops = cost.total.ops
    print(f"\nmobilenet_v2: {ops} ops, {cost.known_zero_calls} views; per op: "
          f"{counter.calls / ops:.1f} Python calls, {counter.costlab_calls / ops:.1f} in "
          f"costlab, {counter.costlab_lines / ops:.0f} costlab lines, "
          f"{counter.allocations / ops:.2f} allocations; "
          f"{counter.by_function.most_common(8)}")
    assert ops == 151
    # exactly one formula call per recorded op (every op of MobileNet V2 has a formula)
    assert counter.formula_calls == ops
    # every op passes the dispatch mode once; views are counted, not recorded
    assert counter.dispatches == ops + cost.known_zero_calls
    # the per-op record is built once, without per-tensor helper calls
    assert counter.by_function["record"] == ops
    # today about 92 Python calls per op in all (torch's module machinery included), 30 of
    # them costlab's (module hooks, the module tree and the roll-ups included: MobileNet V2
    # has 1.5 modules per op), and 1.7 allocations per op (an output; BatchNorm's three).
    # One BatchNorm through torch's Python decomposition alone adds ~1,000 calls.
    assert counter.calls / ops < 150
    assert counter.costlab_calls / ops < 45
    assert counter.costlab_lines / ops < 650  # today about 420
    assert counter.allocations / ops < 2.5


class Stack(nn.Module):
    """``depth`` MobileNet V2-like blocks: 1x1 expand, 3x3 depthwise, 1x1 project, a skip."""

    def __init__(self, depth: int, channels: int = 16):
        super().__init__()

        def block():
            wide = channels * 4
            return nn.Sequential(
                nn.Conv2d(channels, wide, 1, bias=False), nn.BatchNorm2d(wide), nn.ReLU6(),
                nn.Conv2d(wide, wide, 3, padding=1, groups=wide, bias=False),
                nn.BatchNorm2d(wide), nn.ReLU6(),
                nn.Conv2d(wide, channels, 1, bias=False), nn.BatchNorm2d(channels))

        self.blocks = nn.ModuleList(block() for _ in range(depth))

    def forward(self, x):
        for b in self.blocks:
            x = x + b(x)
        return x


def linear_growth(counts: list[int]) -> float:
    """For counts at depth d, 2d, 4d: the second increment over twice the first (1.0 when
    the growth is exactly linear; a quadratic term pushes it toward 2)."""
    small, medium, large = counts
    return (large - medium) / (2 * (medium - small))


@pytest.mark.parametrize("what", ["calls", "costlab_calls", "costlab_lines", "allocations",
                                  "dispatches"])
def test_work_grows_linearly_with_depth(what):
    counts, ops = [], []
    for depth in (8, 16, 32):
        with meta_construction():
            model = Stack(depth).eval()
        counter, cost = analyze_counting(model, torch.empty(1, 16, 28, 28, device="meta"))
        counts.append(getattr(counter, what))
        ops.append(cost.total.ops)
    assert ops[2] - ops[1] == 2 * (ops[1] - ops[0])  # 9 ops a block
    assert 0.95 <= linear_growth(counts) <= 1.05, counts
    assert counts[2] / counts[1] < 2.05, counts


def test_decoder_depth_scales_linearly_end_to_end():
    """Construction on meta included (costlab.analyze by name): 1, 2 and 4 Llama layers."""
    import costlab

    costlab.analyze("llama_70b", layers=1, seq_len=128)  # one-time imports and caches
    counts = []
    for layers in (1, 2, 4):
        counter = WorkCounter()
        with counting(counter):
            costlab.analyze("llama_70b", layers=layers, seq_len=128)
        counts.append((counter.calls, counter.costlab_lines))
    for what in zip(*counts):
        assert 0.95 <= linear_growth(list(what)) <= 1.05, counts


def test_the_collector_is_paused_only_during_an_analysis():
    import gc

    from costlab.core.errors import ForwardError

    model, x = built("mobilenet_v2")
    assert gc.isenabled()
    build_cost(model, (x,), name="m", knobs={}, device="meta")
    assert gc.isenabled()
    with pytest.raises(ForwardError):
        build_cost(model, (torch.empty(1, 5, 224, 224, device="meta"),), name="m", knobs={},
                   device="meta")
    assert gc.isenabled()
    gc.disable()
    try:
        build_cost(model, (x,), name="m", knobs={}, device="meta")
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_a_cpu_trace_keeps_no_activation_alive_and_matches_meta():
    """Freed activations are forgotten (their addresses come back for new storages), so a
    trace holds no more memory than the forward; records, edges and the peak are those of
    the same trace on meta."""
    spec = registry().get("mobilenet_v2")
    with torch.device("meta"):
        on_meta = spec.build().eval()
    on_cpu = spec.build().eval()
    meta_state, _ = tracer.trace(on_meta, (torch.empty(1, 3, 224, 224, device="meta"),))
    x = torch.randn(1, 3, 224, 224)
    cpu_state, out = tracer.trace(on_cpu, (x,))
    # alive after the forward: the input and the output (and the classifier's input, freed
    # after the last op, whose death the next op would have noted), nothing in between
    assert len(cpu_state.live) <= 3
    assert len(cpu_state.spans) == len(meta_state.spans) > 100
    assert [(r.op, r.sources, r.bytes_read, r.bytes_written) for r in cpu_state.records] == \
        [(r.op, r.sources, r.bytes_read, r.bytes_written) for r in meta_state.records]
    assert cpu_state.peak_activation_bytes(out) == 9_633_792


def test_one_walk_module_tree_equals_counting_each_module():
    """index_modules visits each parameter once; the tree must still give every module its
    unique parameters, shared submodules and tied weights included."""
    from costlab.analysis.params import index_modules

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            shared = nn.Linear(4, 4)
            self.a = nn.Sequential(shared, nn.ReLU(), nn.Linear(4, 3))
            self.b = nn.Sequential(nn.Linear(3, 4), shared)  # the same module twice
            self.embed = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight  # tied
            self.register_buffer("scale", torch.ones(3))

    for model in (Tied(), registry().get("mobilenet_v2").build(),
                  registry().get("inception_v3").build()):
        index = index_modules(model)
        expected = {path: (type(m).__name__, sum(p.numel() for p in m.parameters()))
                    for path, m in model.named_modules()}
        assert index.tree() == expected
        assert list(index.tree()) == list(expected)  # definition order
        assert sum(p.numel() for p in index.params) == \
            sum(p.numel() for p in model.parameters())
        assert sum(b.numel() for b in index.buffers) == sum(b.numel() for b in model.buffers())
