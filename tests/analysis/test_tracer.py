"""The tracer: attribution, params, peak memory, uncounted ops, failures, cleanliness."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import costlab
from costlab.core.errors import ForwardError


def run(module, *shapes, **kw):
    module = module.to("meta")
    return costlab.analyze(module, inputs=tuple(torch.empty(s, device="meta") for s in shapes),
                           **kw)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.ReLU())

    def forward(self, x):
        return torch.relu(self.body(x) + x)  # functional ops belong to this module


class Twice(nn.Module):
    """One Linear called twice (shared weights) and a tied second Linear."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(8, 8, bias=False)
        self.tied = nn.Linear(8, 8, bias=False)
        self.tied.weight = self.shared.weight
        self.frozen = nn.Linear(8, 2)
        self.frozen.requires_grad_(False)

    def forward(self, x):
        return self.frozen(self.tied(self.shared(self.shared(x))))


def test_ops_attributed_to_innermost_module():
    cost = run(nn.Sequential(Residual()), (1, 4, 6, 6))
    where = [(r.module, r.op) for r in cost.layers]
    assert where == [("0.body.0", "convolution"), ("0.body.1", "relu"), ("0", "add"),
                     ("0", "relu")]
    assert cost.layers[0].module_type == "Conv2d"


def test_root_functional_ops_have_the_root_path():
    class Root(nn.Module):
        def forward(self, x):
            return x * 2

    cost = run(Root(), (3,))
    assert [(r.module, r.op) for r in cost.layers] == [("", "mul")]


def test_shared_module_counted_per_call_and_params_once():
    # on CPU: Module.to("meta") would give each module its own copy of a tied weight
    cost = costlab.analyze(Twice(), input_shape=(1, 8))
    mms = [r for r in cost.layers if r.op in ("mm", "addmm")]
    assert [r.module for r in mms] == ["shared", "shared", "tied", "frozen"]
    assert cost.total.macs == 3 * 64 + 16
    # the tied weight is one Parameter object: counted once; frozen params included
    assert cost.total.params == 64 + 18
    assert [r.params for r in mms] == [64, 0, 0, 18]


def test_buffers_are_separate_from_params():
    cost = run(nn.BatchNorm1d(5), (2, 5))
    assert cost.total.params == 10
    assert cost.total.buffers == 11  # running mean, running var, num_batches_tracked


def test_module_rollup():
    cost = run(nn.Sequential(Residual(), nn.Conv2d(4, 2, 1)), (1, 4, 6, 6))
    top = {m.path: m for m in cost.modules(1)}
    assert set(top) == {"0", "1"}
    assert top["0"].macs == 36 * 16 and top["0"].params == 16 and top["0"].ops == 4
    assert top["1"].macs == 36 * 8 and top["1"].params == 10
    deep = [m.path for m in cost.modules(2)]
    assert deep == ["0", "0.body", "1"]
    assert sum(m.macs for m in cost.modules(1)) == cost.total.macs


def test_peak_activation_follows_lifetimes():
    n = 1000
    chain = run(nn.Sequential(nn.ReLU(), nn.ReLU(), nn.ReLU()), (n,))
    assert chain.total.peak_activation_bytes == 2 * 4 * n  # input and output of one op

    class Skip(nn.Module):
        def forward(self, x):
            return torch.relu(torch.relu(x)) + x  # x must stay alive across the branch

    assert run(Skip(), (n,)).total.peak_activation_bytes == 3 * 4 * n


@pytest.mark.parametrize("dtype,size", [("float32", 4), ("float16", 2), ("bfloat16", 2),
                                        ("int8", 1)])
def test_storage_dtype_scales_float_bytes(dtype, size):
    cost = run(nn.Linear(10, 20, bias=False), (3, 10), dtype=dtype)
    assert cost.total.bytes_read == size * (30 + 200)
    assert cost.total.bytes_written == size * 60
    assert cost.info.dtype == dtype


def test_uncounted_op_is_reported_not_zeroed():
    class Spectral(nn.Module):
        def forward(self, x):
            return torch.fft.rfft(x).abs()

    cost = run(nn.Sequential(Spectral()), (4, 16))
    assert cost.total.partial is True
    assert len(cost.uncounted) == 1
    u = cost.uncounted[0]
    assert (u.op, u.calls, u.modules) == ("_fft_r2c", 1, ["0"])
    rec = next(r for r in cost.layers if r.op == "_fft_r2c")
    assert rec.counted is False and rec.bytes_read == 4 * 64  # bytes still measured


def test_forward_failure_names_module_and_shapes():
    model = nn.Sequential(nn.Linear(8, 4), nn.Sequential(nn.Linear(5, 2)))
    with pytest.raises(ForwardError) as info:
        run(model, (2, 8))
    message = str(info.value)
    assert "module '1.0' (Linear)" in message and "(2, 8)" in message
    assert "\n" not in message


@pytest.mark.parametrize("fail", [False, True])
def test_hooks_and_modes_are_removed(fail):
    model = nn.Sequential(nn.Linear(8, 4))
    if fail:
        with pytest.raises(ForwardError):
            run(model, (2, 7))
    else:
        run(model, (2, 8))
    assert not model[0]._forward_hooks and not model[0]._forward_pre_hooks
    assert not model._forward_hooks and not model._forward_pre_hooks
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    assert _get_current_dispatch_mode() is None
    assert torch.relu(torch.ones(1)).item() == 1.0  # nothing intercepts ordinary calls


def test_training_flag_restored():
    model = nn.Sequential(nn.BatchNorm1d(3))
    model.train()
    run(model, (2, 3))
    assert model.training is True


def test_user_model_on_cpu_works_and_matches_meta():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    on_cpu = costlab.analyze(model, input_shape=(1, 3, 16, 16))
    assert on_cpu.info.device == "cpu"
    on_meta = run(model, (1, 3, 16, 16))
    assert on_cpu.total == on_meta.total


def test_results_do_not_leak_between_runs():
    a = run(nn.Linear(4, 4), (1, 4))
    b = run(nn.Linear(4, 4), (1, 4))
    assert a.total == b.total and len(a.layers) == len(b.layers) == 1


def test_dataflow_edges():
    class Branches(nn.Module):
        def forward(self, x):
            a, b = torch.relu(x), torch.sigmoid(x)  # two branches off the input
            c = torch.cat([a, b])
            c.mul_(2)  # in place: later readers read what mul_ wrote
            return c + 1

    cost = run(Branches(), (4,))
    assert [(r.op, r.sources) for r in cost.layers] == [
        ("relu", (-1,)), ("sigmoid", (-1,)), ("cat", (0, 1)), ("mul_", (2,)), ("add", (3,))]
