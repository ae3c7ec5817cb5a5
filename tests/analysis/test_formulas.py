"""Closed-form checks of every formula family, through the tracer on meta (and on CPU
where the two could differ) and directly on shapes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.analysis.formulas import TensorSpec, adaptive_window_total, attention_cost, conv_cost


class Fn(nn.Module):
    """Wraps a function of the inputs, so any expression can be traced as a model."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def cost_of(module, *shapes, device="meta", **kw):
    module = module.to(device)
    inputs = tuple(torch.randn(s, device=device) for s in shapes)
    return costlab.analyze(module, inputs=inputs, **kw)


def only(cost, category=None):
    records = [r for r in cost.layers if category is None or r.category == category]
    assert len(records) == 1, [(r.op, r.category) for r in cost.layers]
    return records[0]


# ---------------------------------------------------------------- convolutions

def test_mobilenet_table3_full_conv():
    # MobileNet V1, section 3.1: a 3x3 conv, 512 -> 512 channels, on a 14x14 map
    cost = cost_of(nn.Conv2d(512, 512, 3, padding=1, bias=False), (1, 512, 14, 14))
    assert cost.total.macs == 462_422_016
    assert cost.total.params == 2_359_296
    assert cost.total.flops == 2 * 462_422_016
    assert only(cost).category == OpCategory.CONV


def test_mobilenet_table3_depthwise_separable():
    block = nn.Sequential(nn.Conv2d(512, 512, 3, padding=1, groups=512, bias=False),
                          nn.Conv2d(512, 512, 1, bias=False))
    cost = cost_of(block, (1, 512, 14, 14))
    assert cost.total.macs == 52_283_392
    assert cost.total.params == 266_752
    assert [r.category for r in cost.layers] == [OpCategory.DEPTHWISE, OpCategory.POINTWISE]


@pytest.mark.parametrize("c1,c2,hw", [(64, 128, 28 * 28), (128, 128, 14 * 14), (32, 256, 56 * 56)])
def test_pointwise_memory_access_is_shufflenet_v2_g1(c1, c2, hw):
    side = int(hw ** 0.5)
    cost = cost_of(nn.Conv2d(c1, c2, 1, bias=False), (1, c1, side, side))
    r = only(cost)
    assert r.memory_access_bytes == 4 * (hw * (c1 + c2) + c1 * c2)
    assert r.macs == hw * c1 * c2
    assert r.bytes_written == 4 * hw * c2


def test_grouped_strided_conv():
    cost = cost_of(nn.Conv2d(64, 128, 3, stride=2, padding=1, groups=4, bias=False),
                   (2, 64, 32, 32))
    r = only(cost)
    assert r.macs == 2 * 128 * 16 * 16 * (64 // 4) * 9
    assert r.category == OpCategory.GROUPED
    assert r.attrs["groups"] == 4 and r.attrs["stride"] == (2, 2) and r.attrs["kernel"] == (3, 3)


def test_dilated_conv_with_bias():
    cost = cost_of(nn.Conv2d(16, 8, 3, padding=2, dilation=2), (1, 16, 20, 20))
    r = only(cost)
    assert r.macs == 8 * 20 * 20 * 16 * 9
    assert r.flops == 2 * r.macs + 8 * 20 * 20  # one add per output for the bias
    assert r.attrs["dilation"] == (2, 2)
    assert r.params == 8 * 16 * 9 + 8


def test_transposed_conv():
    cost = cost_of(nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1, bias=False), (1, 32, 8, 8))
    r = only(cost)
    assert r.output_shapes == ((1, 16, 16, 16),)
    # every input element meets c_out x kernel area weights
    assert r.macs == (32 * 8 * 8) * 16 * 16
    assert r.attrs["transposed"] is True


def test_conv1d_and_conv3d():
    assert cost_of(nn.Conv1d(4, 6, 5, bias=False), (1, 4, 20)).total.macs == 6 * 16 * 4 * 5
    assert cost_of(nn.Conv3d(2, 3, 3, bias=False), (1, 2, 5, 5, 5)).total.macs == 3 * 27 * 2 * 27


def test_conv_cost_on_bare_shapes():
    cost = conv_cost((1, 8, 10, 10), (8, 1, 3, 3), (1, 8, 10, 10), bias=False, transposed=False,
                     groups=8)
    assert cost.macs == 8 * 100 * 9 and cost.category == OpCategory.DEPTHWISE


# ------------------------------------------------------------------ linear, matmul

def test_linear_with_and_without_bias():
    with_bias = only(cost_of(nn.Linear(256, 1000), (8, 256)))
    assert with_bias.op == "addmm"
    assert with_bias.macs == 8 * 256 * 1000
    assert with_bias.flops == 2 * 8 * 256 * 1000 + 8 * 1000
    assert with_bias.params == 256 * 1000 + 1000
    without = only(cost_of(nn.Linear(256, 1000, bias=False), (8, 256)))
    assert without.op == "mm"
    assert without.flops == 2 * 8 * 256 * 1000


def test_linear_on_sequence_input():
    cost = cost_of(nn.Linear(64, 32), (2, 10, 64))
    assert cost.total.macs == 2 * 10 * 64 * 32


def test_bmm_matmul_einsum():
    assert cost_of(Fn(torch.bmm), (4, 8, 16), (4, 16, 32)).total.macs == 4 * 8 * 16 * 32
    assert cost_of(Fn(torch.matmul), (3, 4, 8, 16), (16, 5)).total.macs == 3 * 4 * 8 * 16 * 5
    einsum = Fn(lambda a, b: torch.einsum("bij,bjk->bik", a, b))
    assert cost_of(einsum, (4, 8, 16), (4, 16, 32)).total.macs == 4 * 8 * 16 * 32
    baddbmm = Fn(lambda c, a, b: torch.baddbmm(c, a, b))
    r = only(cost_of(baddbmm, (4, 8, 32), (4, 8, 16), (4, 16, 32)))
    assert r.macs == 4 * 8 * 16 * 32 and r.flops == 2 * r.macs + 4 * 8 * 32


# -------------------------------------------------------------------- attention

@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_sdpa_same_on_meta_and_cpu(device):
    sdpa = Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v))
    cost = cost_of(sdpa, (2, 4, 16, 32), (2, 4, 24, 32), (2, 4, 24, 8), device=device)
    r = only(cost)
    assert r.category == OpCategory.ATTENTION and r.op == "scaled_dot_product_attention"
    scores = 2 * 4 * 16 * 24
    assert r.macs == scores * (32 + 8)
    assert r.flops == 2 * r.macs + scores * 6  # scale + softmax (5)
    assert cost.total.macs == r.macs  # nothing inside the kernel is counted twice


def test_sdpa_causal_counted_dense_and_labelled():
    causal = Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    r = only(cost_of(causal, (1, 2, 8, 16), (1, 2, 8, 16), (1, 2, 8, 16)))
    assert r.macs == 2 * 8 * 8 * 32
    assert r.attrs["note"] == "causal mask counted dense"


def test_sdpa_with_mask_and_grouped_query_heads():
    fn = Fn(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m,
                                                              enable_gqa=True))
    r = only(cost_of(fn, (1, 8, 4, 16), (1, 2, 6, 16), (1, 2, 6, 16), (4, 6)))
    scores = 8 * 4 * 6
    assert r.macs == scores * 32 and r.flops == 2 * r.macs + scores * 7


def test_attention_formula_kernel_layout():
    # the (batch, L, heads, E) layout of the flash/efficient kernels gives the same count
    a = attention_cost((2, 4, 16, 32), (2, 4, 16, 32), (2, 4, 16, 32), causal=False,
                       has_mask=False)
    b = attention_cost((2, 16, 4, 32), (2, 16, 4, 32), (2, 16, 4, 32), causal=False,
                       has_mask=False, heads_last=True)
    assert a.macs == b.macs == 2 * 4 * 16 * 16 * 64 and a.flops == b.flops


def test_cpu_attention_kernel_has_its_own_formula():
    entry = formulas.lookup(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)
    q = TensorSpec((1, 2, 8, 16))
    cost = entry.formula((q, q, q, 0.0, True), {}, None)
    assert cost.macs == 2 * 8 * 8 * 32 and cost.attrs["note"] == "causal mask counted dense"


# --------------------------------------------------------- element-wise and friends

def test_elementwise_add_reads_both_and_writes_one():
    r = only(cost_of(Fn(lambda a, b: a + b), (1, 8, 4, 4), (1, 8, 4, 4)))
    assert (r.op, r.category, r.flops, r.macs) == ("add", OpCategory.ELEMENTWISE, 128, 0)
    assert (r.bytes_read, r.bytes_written) == (2 * 128 * 4, 128 * 4)


@pytest.mark.parametrize("module,per_element", [
    (nn.ReLU(), 1), (nn.ReLU6(), 2), (nn.Sigmoid(), 4), (nn.Hardsigmoid(), 4), (nn.SiLU(), 5),
    (nn.Hardswish(), 5), (nn.GELU(), 5), (nn.GELU(approximate="tanh"), 9), (nn.Tanh(), 1),
    (nn.LeakyReLU(), 2), (nn.Softmax(dim=-1), 5),
])
def test_activation_costs(module, per_element):
    r = only(cost_of(module, (2, 3, 5)))
    assert r.flops == per_element * 30 and r.macs == 0


def test_inplace_relu_allocates_nothing_new():
    out_of_place = cost_of(nn.Sequential(nn.ReLU(), nn.ReLU()), (1, 1000))
    in_place = cost_of(nn.Sequential(nn.ReLU(inplace=True), nn.ReLU(inplace=True)), (1, 1000))
    assert in_place.total.flops == out_of_place.total.flops == 2000
    assert in_place.total.bytes_written == out_of_place.total.bytes_written == 8000
    assert out_of_place.total.peak_activation_bytes == 2 * 4000
    assert in_place.total.peak_activation_bytes == 4000


def test_batch_norm_eval_and_training():
    bn = nn.BatchNorm2d(8)
    r = only(cost_of(bn, (2, 8, 4, 4)))
    assert r.category == OpCategory.NORM and r.flops == 4 * 256  # normalize 2 + affine 2
    assert r.params == 16  # weight and bias; running stats are buffers
    assert r.bytes_written == 256 * 4
    assert cost_of(nn.BatchNorm2d(8, affine=False), (2, 8, 4, 4)).total.flops == 2 * 256
    # analyze() runs modules in eval mode; training batch norm is checked on the formula
    entry = formulas.lookup(torch.ops.aten.native_batch_norm)
    x = TensorSpec((2, 8, 4, 4))
    w = TensorSpec((8,))
    assert entry.formula((x, w, w, w, w, True, 0.1, 1e-5), {}, None).flops == 8 * 256


def test_layer_norm_and_group_norm():
    assert cost_of(nn.LayerNorm(16), (2, 5, 16)).total.flops == 8 * 160
    assert cost_of(nn.GroupNorm(2, 8, affine=False), (1, 8, 3, 3)).total.flops == 6 * 72


def test_pooling():
    r = only(cost_of(nn.MaxPool2d(3, 2, 1), (1, 8, 112, 112)))
    assert r.category == OpCategory.POOLING and r.flops == 8 * 56 * 56 * 8
    assert only(cost_of(nn.AvgPool2d(2), (1, 4, 8, 8))).flops == 4 * 16 * 4
    # global pooling is a mean over the map: one FLOP per input element
    assert only(cost_of(nn.AdaptiveAvgPool2d(1), (1, 4, 7, 7))).flops == 4 * 49
    r = only(cost_of(nn.AdaptiveAvgPool2d(3), (1, 2, 7, 7)))
    assert r.flops == 2 * adaptive_window_total((7, 7), (3, 3)) == 2 * 81
    r = only(cost_of(nn.AdaptiveMaxPool2d(3), (1, 2, 7, 7)))
    assert r.flops == 2 * (81 - 9)  # comparisons: window size - 1 per output


def test_adaptive_window_total_is_exact():
    assert adaptive_window_total((7,), (3,)) == 9  # windows [0,3) [2,5) [4,7)
    assert adaptive_window_total((10,), (4,)) == 3 + 3 + 3 + 3  # [0,3) [2,5) [5,8) [7,10)
    assert adaptive_window_total((6, 6), (2, 3)) == 6 * 6


def test_reductions():
    assert only(cost_of(Fn(lambda x: x.sum(dim=1)), (4, 10))).flops == 40 - 4
    assert only(cost_of(Fn(lambda x: x.mean(dim=1)), (4, 10))).flops == 40
    assert only(cost_of(Fn(lambda x: x.amax(dim=1)), (4, 10))).flops == 36
    r = only(cost_of(Fn(lambda a, b: torch.max(a, b)), (4, 10), (4, 10)))
    assert r.category == OpCategory.ELEMENTWISE and r.flops == 40


def test_data_movement_cat_and_channel_shuffle():
    r = only(cost_of(Fn(lambda a, b: torch.cat([a, b], 1)), (1, 4, 8, 8), (1, 12, 8, 8)))
    assert r.category == OpCategory.DATA_MOVEMENT and r.flops == 0
    assert (r.bytes_read, r.bytes_written) == (16 * 64 * 4, 16 * 64 * 4)
    shuffle = Fn(lambda x: x.view(1, 2, 4, 8, 8).transpose(1, 2).contiguous().view(1, 8, 8, 8))
    r = only(cost_of(shuffle, (1, 8, 8, 8)))
    assert r.op == "clone" and r.category == OpCategory.DATA_MOVEMENT
    assert r.bytes_written == 8 * 64 * 4


def test_views_are_free_and_not_listed():
    cost = cost_of(Fn(lambda x: x.view(4, 6).t().unsqueeze(0).permute(0, 2, 1)), (2, 12))
    assert cost.layers == [] and cost.total.memory_access_bytes == 0
    assert cost.known_zero_calls == 4


def test_embedding_reads_only_gathered_rows():
    emb = nn.Embedding(50_000, 64)
    idx = torch.randint(0, 50_000, (2, 10), device="meta")
    cost = costlab.analyze(emb.to("meta"), inputs=(idx,))
    r = only(cost)
    assert r.category == OpCategory.EMBEDDING
    assert r.bytes_read == 20 * 8 + 20 * 64 * 4  # int64 indices + the rows gathered
    assert r.params == 50_000 * 64


def test_known_zero_and_registry_overlap_is_empty():
    overlap = [p for p in formulas.KNOWN_ZERO if formulas.lookup(p) is not None]
    assert overlap == []


def test_every_category_is_named():
    categories = {formulas.lookup(p).formula((TensorSpec((1, 2, 3, 3)),) * 3, {}, TensorSpec(
        (1, 2, 3, 3))).category for p in (torch.ops.aten.add, torch.ops.aten.relu)}
    assert categories <= set(formulas.CATEGORIES)


ATTENTION_KERNELS = [
    ("_scaled_dot_product_flash_attention_for_cpu", False),
    ("_scaled_dot_product_flash_attention", False),
    ("_scaled_dot_product_efficient_attention", False),
    ("_scaled_dot_product_cudnn_attention", False),
    ("_scaled_dot_product_fused_attention_overrideable", False),
    ("_flash_attention_forward", True),
    ("_efficient_attention_forward", True),
]


@pytest.mark.parametrize("name,heads_last", ATTENTION_KERNELS)
def test_attention_kernels_read_their_real_schema(name, heads_last):
    """Build each CPU/CUDA kernel's arguments from torch's own schema, causal on, and check
    the formula finds the shapes and the causal flag where the schema puts them."""
    packet = getattr(torch.ops.aten, name, None)
    if packet is None:
        pytest.skip(f"{name} not in this torch build")
    schema = packet.default._schema
    q = TensorSpec((2, 16, 4, 32) if heads_last else (2, 4, 16, 32))
    args, kwargs = [], {}
    for arg in schema.arguments:
        if arg.name in ("query", "key", "value"):
            value = q
        elif arg.name == "is_causal":
            value = True
        elif arg.name == "custom_mask_type":
            value = 1  # causal from the top left
        elif arg.has_default_value():
            value = arg.default_value
        else:
            value = None
        if arg.kwarg_only:
            kwargs[arg.name] = value
        else:
            args.append(value)
    cost = formulas.lookup(packet).formula(tuple(args), kwargs, None)
    assert cost.category == OpCategory.ATTENTION
    assert cost.macs == 2 * 4 * 16 * 16 * (32 + 32)
    assert cost.attrs["note"] == "causal mask counted dense"
    assert cost.flops == 2 * cost.macs + 2 * 4 * 16 * 16 * 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH",
                                     "CUDNN_ATTENTION"])
def test_sdpa_same_count_on_every_cuda_backend(backend):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    sdpa = Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    inputs = tuple(torch.randn(2, 4, 64, 64, device="cuda", dtype=torch.float16)
                   for _ in range(3))
    try:
        with sdpa_kernel(getattr(SDPBackend, backend)):
            cost = costlab.analyze(sdpa, inputs=inputs)
    except costlab.core.errors.ForwardError as exc:
        pytest.skip(f"{backend} unavailable here: {exc}")
    r = only(cost)
    assert r.macs == 2 * 4 * 64 * 64 * 128 and r.attrs["note"] == "causal mask counted dense"


def test_composite_conv_ops_of_exported_graphs():
    x, w = TensorSpec((1, 8, 10, 10)), TensorSpec((4, 2, 3, 3))
    conv2d = formulas.lookup(torch.ops.aten.conv2d)
    cost = conv2d.formula((x, w, None, [1, 1], [1, 1], [1, 1], 4), {}, TensorSpec((1, 4, 10, 10)))
    assert cost.macs == 4 * 100 * 2 * 9 and cost.category == OpCategory.GROUPED
    up = formulas.lookup(torch.ops.aten.conv_transpose2d)
    wt = TensorSpec((8, 3, 2, 2))
    cost = up.formula((x, wt, TensorSpec((3,)), [2, 2], [0, 0], [0, 0], 1, [1, 1]), {},
                      TensorSpec((1, 3, 20, 20)))
    assert cost.macs == 8 * 100 * 3 * 4 and cost.flops == 2 * cost.macs + 3 * 400
    assert cost.attrs["transposed"] is True and cost.attrs["dilation"] == (1, 1)


def test_factories_and_fills_write_only_and_checks_are_known_zeros():
    """zeros_like, eye and fill_ write their output and read nothing (zeros_like reads only
    its argument's shape); empty_like writes nothing and _linalg_check_errors only checks:
    both known zeros."""
    import costlab
    from torch import nn

    class Factories(nn.Module):
        def forward(self, x):
            z = torch.zeros_like(x)
            e = torch.empty_like(x)
            i = torch.eye(4, device=x.device)
            y = x.clone().fill_(2.0)
            return z + e + y + i, torch.linalg.inv(x)

    cost = costlab.analyze(Factories(), inputs=(torch.eye(4),))
    rows = {r.op: (r.bytes_read, r.bytes_written, r.flops, r.counted) for r in cost.layers}
    for op in ("zeros_like", "eye", "fill_"):
        assert rows[op] == (0, 4 * 16, 0, True), op
    assert "empty_like" not in rows and "_linalg_check_errors" not in rows
    assert [u.op for u in cost.uncounted] == ["linalg_inv_ex"]  # inverses have no formula
    assert cost.known_zero_calls == 2
