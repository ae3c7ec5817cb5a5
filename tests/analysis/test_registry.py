"""The formula registry: one formula per op, and per-analysis overrides that leave it as is."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import costlab
from costlab.analysis import formulas, registry
from costlab.analysis.registry import DuplicateFormulaError, OpCost, TensorSpec
from costlab.core.categories import OpCategory
from costlab.core.errors import ForwardError


@torch.library.custom_op("costlab_registry_test::scale", mutates_args=())
def scale(x: torch.Tensor, w: torch.Tensor, factor: float = 2.0) -> torch.Tensor:
    return x @ w * factor


@scale.register_fake
def _(x, w, factor=2.0):
    return x.new_empty(x.shape[0], w.shape[1])


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(8, 3))

    def forward(self, x):
        return torch.relu(scale(x, self.w, 3.0))


def scale_formula(args, kwargs, out) -> OpCost:
    x, w = args[0], args[1]
    macs = x.shape[0] * x.shape[1] * w.shape[1]
    return OpCost(macs=macs, flops=2 * macs + x.shape[0] * w.shape[1],
                  category=OpCategory.MATMUL, attrs={"factor": args[2]})


def test_a_second_formula_for_an_op_raises_naming_it():
    assert formulas.lookup is registry.lookup  # importing formulas filled the registry
    before = registry.registered_docs()
    with pytest.raises(DuplicateFormulaError, match=r"aten\.relu has a formula already"):
        registry.register("relu", "again")(lambda args, kwargs, out: None)
    # two names of one op in a single registration fail the same way
    with pytest.raises(DuplicateFormulaError, match=r"aten\.mm has a formula already"):
        registry.register(["mm"], "again")(lambda args, kwargs, out: None)
    assert registry.registered_docs() == before


def test_a_custom_op_is_counted_only_in_the_analysis_given_its_formula():
    x = torch.empty(4, 8, device="meta")
    plain = costlab.analyze(Scaled().to("meta"), inputs=(x,))
    assert [(u.op, u.calls) for u in plain.uncounted] == [("scale", 1)]
    assert plain.total.partial is True and plain.total.macs == 0

    cost = costlab.analyze(Scaled().to("meta"), inputs=(x,),
                           formulas={torch.ops.costlab_registry_test.scale: scale_formula})
    assert cost.uncounted == [] and cost.total.partial is False
    op = cost.layers[0]
    assert (op.op, op.category, op.macs, op.flops, op.counted) == \
        ("scale", "linear/matmul", 96, 204, True)
    assert op.attrs == {"factor": 3.0}
    assert cost.total.macs == 96 and cost.total.flops == 204 + 12  # the relu: 12 outputs

    again = costlab.analyze(Scaled().to("meta"), inputs=(x,))  # the registry is unchanged
    assert [(u.op, u.calls) for u in again.uncounted] == [("scale", 1)]
    assert registry.lookup(torch.ops.costlab_registry_test.scale) is None


def test_an_int_result_counts_macs_and_twice_the_flops_as_other():
    x = torch.empty(4, 8, device="meta")
    cost = costlab.analyze(Scaled().to("meta"), inputs=(x,),
                           formulas={torch.ops.costlab_registry_test.scale.default:
                                     lambda args, kwargs, out: 7})
    op = cost.layers[0]
    assert (op.macs, op.flops, op.category) == (7, 14, OpCategory.OTHER)


def test_overriding_a_built_in_op_changes_that_analysis_only():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU()).to("meta")
    x = torch.empty(2, 4, device="meta")
    base = costlab.analyze(model, inputs=(x,))
    relu = [r for r in base.layers if r.op == "relu"]
    assert [(r.macs, r.flops) for r in relu] == [(0, 8)]

    tenfold = costlab.analyze(model, inputs=(x,), formulas={
        torch.ops.aten.relu: lambda args, kwargs, out: OpCost(
            macs=0, flops=10 * out.shape[0] * out.shape[1], category="activation")})
    assert [(r.macs, r.flops) for r in tenfold.layers if r.op == "relu"] == [(0, 80)]
    assert tenfold.total.flops == base.total.flops + 72
    # bytes are still the tracer's
    assert [r.memory_access_bytes for r in tenfold.layers] == \
        [r.memory_access_bytes for r in base.layers]
    assert costlab.analyze(model, inputs=(x,)).total.flops == base.total.flops


def test_a_formula_gets_tensor_specs_never_tensors():
    seen = []

    def spy(args, kwargs, out):
        seen.append((args, kwargs, out))
        return 0

    model = nn.Sequential(nn.Linear(4, 3)).to("meta")
    costlab.analyze(model, inputs=(torch.empty(2, 4, device="meta"),),
                    formulas={torch.ops.aten.addmm: spy, torch.ops.aten.linear: spy})
    assert len(seen) == 1  # addmm is what runs below autograd
    args, kwargs, out = seen[0]
    assert [type(a) for a in args] == [TensorSpec] * 3
    assert args == (TensorSpec((3,), torch.float32), TensorSpec((2, 4), torch.float32),
                    TensorSpec((4, 3), torch.float32))
    assert out == TensorSpec((2, 3), torch.float32) and kwargs == {}


def test_built_in_formulas_get_specs_too():
    seen = []
    entry = registry.lookup(torch.ops.aten.cat)
    original = entry.formula
    try:
        object.__setattr__(entry, "formula",
                           lambda a, k, o: seen.append((a, o)) or original(a, k, o))
        x = torch.empty(1, 2, device="meta")
        costlab.analyze(nn.Identity(), inputs=(x,))  # nothing runs
        from costlab.analysis.tracer import trace

        class Cat(nn.Module):
            def forward(self, x):
                return torch.cat([x, x], 1)

        trace(Cat(), (x,))
    finally:
        object.__setattr__(entry, "formula", original)
    (args, out), = seen
    assert args == ([TensorSpec((1, 2), torch.float32)] * 2, 1)
    assert type(args[0][0]) is TensorSpec and out == TensorSpec((1, 4), torch.float32)


def test_overrides_are_checked():
    x = torch.empty(2, 4, device="meta")
    with pytest.raises(TypeError, match="keys are ops such as torch.ops.aten.relu, not str"):
        costlab.analyze(nn.ReLU(), inputs=(x,), formulas={"relu": lambda a, k, o: 0})
    with pytest.raises(TypeError, match="not callable"):
        costlab.analyze(nn.ReLU(), inputs=(x,), formulas={torch.ops.aten.relu: 3})
    # a formula runs inside the forward, so what it raises comes as a ForwardError
    with pytest.raises(ForwardError, match=r"the formula for aten.relu returned str; return "
                                           r"an OpCost or an int of MACs"):
        costlab.analyze(nn.ReLU(), inputs=(x,),
                        formulas={torch.ops.aten.relu: lambda a, k, o: "x"})
    with pytest.raises(ForwardError, match="returned category 'fancy'"):
        costlab.analyze(nn.ReLU(), inputs=(x,), formulas={
            torch.ops.aten.relu: lambda a, k, o: OpCost(macs=0, flops=1, category="fancy")})
