"""A training step traced on meta: phases, backward formulas, attribution, optimizer, memory.

The counts are checked against torch's own FlopCounterMode on the same module and input,
with one documented convention difference applied to its side (a grouped conv's weight
gradient: torch counts it ``groups`` times), and the fused attention backward's recomputed
scores added to it where costlab's trace ran the fused kernel (torch's meta trace runs the
math path)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

import costlab
from costlab.analysis.formulas_backward import attention_backward_cost
from costlab.analysis.registry import lookup
from costlab.analysis.training import sum_of_outputs
from costlab.build.inputs import input_specs
from costlab.build.target import make_inputs, resolve_target
from costlab.core.errors import ForwardError, UsageError
from costlab.models import registry

aten = torch.ops.aten


def _conv_backward_by_groups(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding,
                             _dilation, transposed, _output_padding, _groups, mask,
                             out_shape=None, **_):
    """torch's convolution_backward formula with the weight gradient's groups put back:
    each gradient takes the forward's MACs (prod(weight) x output or input positions)."""
    positions = 1
    for d in (x_shape if transposed else grad_out_shape)[2:]:
        positions *= d
    per_gradient = 2 * grad_out_shape[0] * positions
    for d in w_shape:
        per_gradient *= d
    return per_gradient * (int(bool(mask[0])) + int(bool(mask[1])))


TORCH_CONVENTION = {aten.convolution_backward: _conv_backward_by_groups}


def torch_step_macs(module: nn.Module, args: tuple, kwargs: dict | None = None,
                    mapping=None) -> int:
    """FlopCounterMode's FLOPs / 2 for forward + sum loss + autograd.grad of the trainable
    parameters, as costlab's step runs them (its optimizer step has no MACs)."""
    trainable = [p for p in module.parameters() if p.requires_grad]
    with FlopCounterMode(display=False, custom_mapping=mapping or {}) as counter:
        loss = sum_of_outputs(module(*args, **(kwargs or {})))
        torch.autograd.grad(loss, trainable, allow_unused=True)
    return counter.get_total_flops() // 2


def recomputed_scores(cost) -> int:
    """The QK^T MACs the fused attention backward recomputes (not in the math path)."""
    total = 0
    for r in cost.layers:
        if r.op == "_scaled_dot_product_flash_attention_for_cpu_backward":
            q, k = r.input_shapes[1], r.input_shapes[2]
            total += q[0] * q[1] * q[2] * k[2] * q[3]
    return total


def costlab_step_macs(cost) -> int:
    return cost.phase("forward").macs + cost.phase("backward").macs


# the zoo at batch 2 (batch statistics need more than one value per channel in places)
ZOO = [name for name in registry().names()]


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_matches_flop_counter_mode(name):
    target = resolve_target(name, input_specs(None), batch=2, resolution=None, device="meta",
                            name=None, model_kwargs=None, knobs={})
    args, kwargs = make_inputs(target, input_specs(None), None, None)
    module = target.module
    cost = costlab.analyze(module, inputs=args, input_kwargs=kwargs or None, mode="train")
    assert not cost.total.partial, cost.uncounted
    module.train()
    try:
        expected = torch_step_macs(module, args, kwargs, TORCH_CONVENTION)
    finally:
        module.eval()
    assert costlab_step_macs(cost) == expected + recomputed_scores(cost)
    # the step total is the sum of its phases
    assert cost.total.macs == sum(p.macs for p in cost.phases())
    assert cost.total.flops == sum(p.flops for p in cost.phases())


# ------------------------------------------------ torch's own test_flop_counter backward cases

class Conv(nn.Module):
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return self.conv(x)


CASES = {
    "linear": (nn.Linear(5, 6), (torch.randn(4, 5, requires_grad=False),)),
    "linear_no_bias": (nn.Linear(5, 6, bias=False), (torch.randn(3, 7, 5),)),
    "conv1d": (nn.Conv1d(4, 6, 3, padding=1), (torch.randn(2, 4, 9),)),
    "conv2d_strided": (nn.Conv2d(4, 8, 3, stride=2, padding=1), (torch.randn(2, 4, 9, 9),)),
    "conv2d_dilated": (nn.Conv2d(4, 8, 3, dilation=2), (torch.randn(2, 4, 11, 11),)),
    "conv3d": (nn.Conv3d(2, 4, 3), (torch.randn(1, 2, 5, 5, 5),)),
    "conv_transpose2d": (nn.ConvTranspose2d(4, 6, 3, stride=2), (torch.randn(2, 4, 5, 5),)),
    "conv_transpose_grouped": (nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2),
                               (torch.randn(2, 4, 5, 5),)),
    "depthwise": (nn.Conv2d(8, 8, 3, groups=8, padding=1), (torch.randn(2, 8, 7, 7),)),
    "grouped": (nn.Conv2d(8, 16, 3, groups=4), (torch.randn(2, 8, 7, 7),)),
    "lstm": (nn.LSTM(6, 5, num_layers=2, batch_first=True), (torch.randn(2, 4, 6),)),
    "gru": (nn.GRU(6, 5), (torch.randn(3, 2, 6),)),
    "mha": (nn.MultiheadAttention(8, 2, batch_first=True),
            (torch.randn(2, 5, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 8))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_backward_cases_match_flop_counter_mode(case):
    module, args = CASES[case]
    module = module.to("meta")
    args = tuple(a.to("meta") for a in args)
    cost = costlab.analyze(module, inputs=args, mode="train")
    assert not cost.total.partial
    module.train()
    expected = torch_step_macs(module, args, mapping=TORCH_CONVENTION)
    assert costlab_step_macs(cost) == expected + recomputed_scores(cost)


def test_input_gradients_are_not_computed_but_weight_gradients_are():
    conv = nn.Conv2d(3, 8, 3).to("meta")
    cost = costlab.analyze(conv, (2, 3, 10, 10), mode="train")
    forward = 2 * 8 * 8 * 8 * 3 * 9  # N x out positions x c_out x c_in x k^2
    backward = [r for r in cost.layers if r.phase == "backward"]
    (grad,) = [r for r in backward if r.op == "convolution_backward"]
    assert grad.attrs["gradients"] == "weight+bias"  # no input gradient: inputs need none
    assert grad.macs == forward
    assert cost.phase("forward").macs == forward
    assert cost.backward_forward_macs == 1.0


def test_grouped_conv_weight_gradient_is_the_forwards_not_groups_times_it():
    conv = nn.Conv2d(8, 8, 3, groups=8).to("meta")
    x = torch.empty(2, 8, 7, 7, device="meta", requires_grad=True)
    # two gradients, each the forward's MACs
    cost = costlab.analyze(nn.Sequential(nn.Conv2d(8, 8, 1), conv).to("meta"), (2, 8, 7, 7),
                           mode="train")
    (depthwise,) = [r for r in cost.layers
                    if r.op == "convolution_backward" and r.module == "1"]
    assert depthwise.macs == 2 * (2 * 8 * 5 * 5 * 9)
    # torch's counter: the weight gradient counted groups (8) times
    with FlopCounterMode(display=False) as counter:
        conv(x).sum().backward()  # torch's module tracker refuses autograd.grad of a leaf
    forward = 2 * 8 * 5 * 5 * 9
    assert counter.get_total_flops() // 2 == forward + forward + 8 * forward


def test_frozen_parameters_get_no_gradient_and_no_update():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    cost = costlab.analyze(model, (5, 4), mode="train", optimizer="adam")
    backward = [(r.module, r.op, r.macs) for r in cost.layers if r.phase == "backward"]
    # layer 2: grad input and grad weight mm (30 MACs each); layer 0: bias only, no mm
    assert [b for b in backward if b[1] == "mm"] == [("2", "mm", 30), ("2", "mm", 30)]
    assert ("0", "sum", 0) in backward
    updates = [(r.module, r.output_shapes[0]) for r in cost.layers if r.phase == "optimizer"]
    assert updates == [("0", (3,)), ("2", (2, 3)), ("2", (2,))]
    setup = cost.info.training
    assert (setup.trainable_params, setup.frozen_params, setup.trainable_tensors) == (11, 12, 3)
    # the model is left as it was: in train mode, with no .grad written
    assert model.training and all(p.grad is None for p in model.parameters())


def test_mode_is_restored_and_batch_norm_uses_batch_statistics():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Dropout(0.5)).to("meta")
    model.eval()
    cost = costlab.analyze(model, (2, 3, 4, 4), mode="train")
    assert not model.training
    ops = [(r.phase, r.op) for r in cost.layers]
    assert ("backward", "native_batch_norm_backward") in ops
    assert any(op in ("bernoulli_", "native_dropout") for _, op in ops)  # dropout is active
    (bn,) = [r for r in cost.layers if r.op == "native_batch_norm_backward"]
    # training: 9 FLOPs per element for input, weight and bias gradients
    assert bn.flops == 9 * 2 * 4 * 4 * 4


def test_backward_ops_are_attributed_to_the_module_whose_forward_made_them():
    cost = costlab.analyze("resnet18", mode="train")
    rows = {row["module"]: row for row in costlab.core.records.module_rows(cost, 1)}
    for path in ("layer1", "layer2", "layer3", "layer4"):
        assert rows[path]["backward_macs"] == 2 * rows[path]["forward_macs"]
    # the stem's conv reads the image, which needs no gradient: weight gradient only
    assert rows["stem"]["backward_macs"] == rows["stem"]["forward_macs"]
    assert rows["fc"]["backward_macs"] == 2 * rows["fc"]["forward_macs"]
    assert sum(r["backward_macs"] for r in rows.values()) == cost.phase("backward").macs


def test_resnet18_adam_step_exact_counts_and_memory():
    cost = costlab.analyze("resnet18", batch=8, mode="train", optimizer="adam")
    phases = {p.phase: p for p in cost.phases()}
    assert phases["forward"].macs == 14_512_586_752
    assert phases["backward"].macs == 28_081_061_888
    assert phases["optimizer"].macs == 0
    assert phases["optimizer"].flops == 13 * 11_689_512
    assert phases["optimizer"].ops == 62
    memory = cost.training_memory
    assert memory.weights_bytes == 46_758_048
    assert memory.gradients_bytes == 46_758_048
    assert memory.optimizer_state_bytes == 2 * 46_758_048 + 62 * 4  # m, v and step counters
    assert memory.peak_phase == "backward"
    assert memory.peak_bytes == (memory.weights_bytes + memory.optimizer_state_bytes
                                 + memory.peak_gradients_bytes + memory.peak_activation_bytes
                                 + memory.peak_temporary_bytes)


def test_mixed_precision_sizes_weights_gradients_and_state():
    cost = costlab.analyze("resnet18", mode="train", optimizer="adamw", precision="bf16-mixed")
    n = 11_689_512
    assert cost.info.dtype == "bfloat16"  # what every table's "bytes as" line says
    memory = cost.training_memory
    assert memory.weights_bytes == 2 * n + 4 * n  # bf16 weights and fp32 masters
    assert memory.gradients_bytes == 2 * n
    assert memory.optimizer_state_bytes == 8 * n + 62 * 4
    optimizer = cost.phase("optimizer")
    assert optimizer.flops == 14 * n
    # reads bf16 gradient, fp32 master, m and v; writes master, m, v and the bf16 weight
    assert optimizer.bytes_read == n * (2 + 4 + 8)
    assert optimizer.bytes_written == n * (4 + 8 + 2)
    # floating activations are stored in bf16; max-pool's int64 indices keep their size
    fp32 = costlab.analyze("resnet18", mode="train").training_memory
    assert fp32.activation_bytes == 22_218_244
    assert memory.activation_bytes == 11_911_938
    indices = 64 * 56 * 56 * 8  # the stem's max-pool indices, saved for its backward
    assert fp32.activation_bytes - indices == 2 * (memory.activation_bytes - indices)


def test_a_loss_callable_is_traced_as_part_of_the_forward():
    model = nn.Linear(4, 3)
    cost = costlab.analyze(model, (5, 4), mode="train",
                           loss=lambda out: F.cross_entropy(out, torch.zeros(5, dtype=torch.long,
                                                                            device=out.device)))
    assert cost.info.training.loss == "<lambda>"
    forward_ops = [r.op for r in cost.layers if r.phase == "forward"]
    assert "_log_softmax" in forward_ops and "nll_loss_forward" in forward_ops
    backward_ops = [r.op for r in cost.layers if r.phase == "backward"]
    assert "nll_loss_backward" in backward_ops and "_log_softmax_backward_data" in backward_ops
    assert not cost.total.partial


def test_bad_losses_and_settings_are_one_line_errors():
    model = nn.Linear(4, 3)
    with pytest.raises(ForwardError, match="loss must be a scalar"):
        costlab.analyze(model, (5, 4), mode="train", loss=lambda out: out)
    with pytest.raises(ForwardError, match="the loss raised ZeroDivisionError"):
        costlab.analyze(model, (5, 4), mode="train", loss=lambda out: 1 / 0)
    frozen = nn.Linear(4, 3).requires_grad_(False)
    with pytest.raises(ForwardError, match="no parameter requires grad"):
        costlab.analyze(frozen, (5, 4), mode="train", loss=lambda out: out.sum())
    with pytest.raises(ForwardError, match="does not depend on any parameter"):
        costlab.analyze(model, (5, 4), mode="train", loss=lambda out: out.detach().sum())
    with pytest.raises(UsageError, match="unknown optimizer 'lion'"):
        costlab.analyze(model, (5, 4), mode="train", optimizer="lion")
    with pytest.raises(UsageError, match="unknown precision"):
        costlab.analyze(model, (5, 4), mode="train", precision="fp8")
    with pytest.raises(UsageError, match="takes --precision"):
        costlab.analyze(model, (5, 4), mode="train", dtype="float16")
    with pytest.raises(UsageError, match="unknown mode"):
        costlab.analyze(model, (5, 4), mode="training")


def test_a_backward_that_raises_is_a_forward_error_naming_it():
    class NoBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise NotImplementedError("no gradient for this op")

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x):
            return NoBackward.apply(self.linear(x))

    with pytest.raises(ForwardError, match="the backward failed in module .*"
                                           "NotImplementedError: no gradient for this op"):
        costlab.analyze(Model(), (2, 4), mode="train")


def test_an_uncounted_backward_op_marks_the_step_partial():
    class Gamma(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, x):
            return self.linear(x).exp().lgamma()

    assert lookup(aten.lgamma) is None and lookup(aten.digamma) is None
    cost = costlab.analyze(Gamma(), (2, 4), mode="train")
    assert cost.total.partial
    uncounted = {u.op: (u.calls, u.modules) for u in cost.uncounted}
    assert uncounted["lgamma"] == (1, [""])
    assert uncounted["digamma"] == (1, [""])  # lgamma's backward: charged to the same module


def test_fused_attention_backward_formula_matches_torchs():
    from torch.utils.flop_counter import sdpa_backward_flop_count

    q, k, v = (2, 4, 16, 8), (2, 4, 32, 8), (2, 4, 32, 6)
    cost = attention_backward_cost(q, k, v)
    assert 2 * cost.macs == sdpa_backward_flop_count((2, 4, 16, 6), q, k, v)
    assert cost.macs == 2 * 4 * 16 * 32 * (3 * 8 + 2 * 6)
    # the (batch, L, heads, E) layout of _flash_attention_backward gives the same
    layout = attention_backward_cost((2, 16, 4, 8), (2, 32, 4, 8), (2, 32, 4, 6),
                                     heads_last=True)
    assert layout.macs == cost.macs


def test_inference_analysis_is_unchanged_by_the_training_machinery():
    cost = costlab.analyze("mobilenet_v2")
    assert cost.info.mode == "inference" and cost.training_memory is None
    assert [p.phase for p in cost.phases()] == ["forward"]
    assert cost.backward_forward_macs is None
    assert cost.total.macs == 300_774_272
