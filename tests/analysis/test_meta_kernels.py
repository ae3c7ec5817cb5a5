"""The shape-arithmetic meta kernels give exactly what torch's own meta kernels give.

Every kernel is compared with the real op on the same arguments: shape, strides, dtype,
device and storage offset of each output, and identity for in-place ops. The zoo runs
under a checking mode that does this for every op it calls, so the layouts the models
really produce are covered, not only the hand-picked cases.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from costlab.build import meta_kernels
from costlab.build.meta_kernels import (
    META_KERNELS,
    attention_output,
    channels_last_like,
    meta_construction,
)
from costlab.models import registry

aten = torch.ops.aten
META = torch.device("meta")


def metadata(out):
    if isinstance(out, torch.Tensor):
        return (tuple(out.shape), out.stride(), out.dtype, out.device, out.storage_offset())
    return tuple(metadata(o) for o in out)


def check(func, *args, **kwargs):
    """Run the kernel and the real op; assert they agree. Returns whether the kernel ran."""
    kernel = META_KERNELS[func]
    fast = kernel(args, kwargs)
    if fast is None:
        return False
    real = func(*args, **kwargs)
    assert metadata(fast) == metadata(real), (func, [getattr(a, "shape", a) for a in args])
    if real is args[0]:
        assert fast is args[0]
    return True


def meta(*shape, dtype=torch.float32):
    return torch.empty(shape, device=META, dtype=dtype)


class CheckingMode(TorchDispatchMode):
    """Runs every op for real and, where a kernel exists, compares it with the kernel.

    Declines inside F.scaled_dot_product_attention are not tallied: on meta the tracer
    makes the attention output directly and never runs its math path."""

    def __init__(self):
        super().__init__()
        self.checked: dict[str, int] = {}
        self.declined: dict[str, int] = {}
        self.in_attention = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kernel = META_KERNELS.get(func)
        fast = kernel(args, kwargs) if kernel is not None else None
        real = func(*args, **kwargs)
        if kernel is not None and not (fast is None and self.in_attention):
            tally = self.declined if fast is None else self.checked
            tally[str(func)] = tally.get(str(func), 0) + 1
        if fast is not None:
            assert metadata(fast) == metadata(real), (
                func, [(tuple(a.shape), a.stride()) if isinstance(a, torch.Tensor) else a
                       for a in args])
            if real is args[0]:
                assert fast is args[0], func
        return real


class AttentionFlag(TorchFunctionMode):
    def __init__(self, checking: CheckingMode):
        super().__init__()
        self.checking = checking

    def __torch_function__(self, func, types, args=(), kwargs=None):
        inside = func is F.scaled_dot_product_attention or \
            func is torch._C._nn.scaled_dot_product_attention
        self.checking.in_attention += inside
        try:
            return func(*args, **(kwargs or {}))
        finally:
            self.checking.in_attention -= inside


ZOO = [("mobilenet_v1", {}), ("mobilenet_v2", {}), ("mobilenet_v3_large", {}),
       ("mobilenet_v3_small", {}), ("shufflenet_v1", {}), ("shufflenet_v2", {}),
       ("efficientnet_b0", {}), ("resnet50", {}), ("inception_v3", {}), ("densenet121", {}),
       ("nasnet_a_mobile", {}), ("squeezenet", {}), ("xception", {}), ("alexnet", {}),
       ("vit_b16", {}), ("gpt2_small", {"layers": 1, "seq_len": 64}),
       ("llama_70b", {"layers": 1, "seq_len": 64}), ("transformer_encoder", {"layers": 1}),
       ("sasrec", {})]


@pytest.mark.parametrize("name,knobs", ZOO, ids=[n for n, _ in ZOO])
def test_every_kernel_call_in_the_zoo_matches_torch(name, knobs):
    spec = registry().get(name)
    resolved = spec.resolve_knobs(knobs)
    shape = spec.input_for(1, None, resolved)
    with torch.device("meta"):
        model = spec.build(input_shape=shape, **resolved).eval()
    x = torch.zeros(shape, device=META, dtype=getattr(torch, spec.input_dtype))
    mode = CheckingMode()
    with torch.no_grad(), AttentionFlag(mode), mode:
        model(x)
    assert mode.checked, "no kernel ran"
    # the zoo's layouts are all within what the kernels know (else torch's slow path runs)
    assert not mode.declined, mode.declined


TRAIN_ZOO = [("resnet18", {}), ("mobilenet_v2", {}), ("mobilenet_v3_small", {}),
             ("efficientnet_b0", {}), ("gpt2_small", {"layers": 1, "seq_len": 64}),
             ("vit_b16", {})]


@pytest.mark.parametrize("name,knobs", TRAIN_ZOO, ids=[n for n, _ in TRAIN_ZOO])
def test_every_kernel_call_of_a_training_step_matches_torch(name, knobs):
    """The backward's kernels (batch and layer norm, activations, softmax) too."""
    spec = registry().get(name)
    resolved = spec.resolve_knobs(knobs)
    shape = spec.input_for(2, None, resolved)
    with torch.device("meta"):
        model = spec.build(input_shape=shape, **resolved).train()
    x = torch.zeros(shape, device=META, dtype=getattr(torch, spec.input_dtype))
    mode = CheckingMode()
    with AttentionFlag(mode), mode:
        out = model(x)
        torch.autograd.grad(out.float().sum(), [p for p in model.parameters()],
                            allow_unused=True)
    backward = [op for op in mode.checked if "backward" in op]
    assert backward, "no backward kernel ran"
    # the backward kernels know every layout these steps give them (an in-place counter
    # update of an int buffer is the forward kernels' to decline, as it always was)
    assert not [op for op in mode.declined if "backward" in op], mode.declined


def test_construction_builds_the_same_parameters_and_buffers():
    for name, knobs in [("llama_70b", {"layers": 2, "seq_len": 64}), ("gpt2_small", {}),
                        ("efficientnet_b0", {}), ("inception_v3", {})]:
        spec = registry().get(name)
        with torch.device("meta"):
            plain = spec.build(**knobs)
        with meta_construction():
            fast = spec.build(**knobs)
        for (na, a), (nb, b) in zip(plain.state_dict(keep_vars=True).items(),
                                    fast.state_dict(keep_vars=True).items(), strict=True):
            assert na == nb and metadata(a) == metadata(b), (name, na)


# ---------------------------------------------------------------- hand-picked cases

def test_unary_and_inplace():
    x = meta(2, 8, 5, 5)
    for op in (aten.relu.default, aten.sigmoid.default, aten.hardswish.default,
               aten.neg.default, aten.cos.default):
        assert check(op, x)
    assert check(aten.hardtanh.default, x, 0.0, 6.0)
    assert check(aten.gelu.default, x, approximate="tanh")
    assert check(aten.pow.Tensor_Scalar, x, 2)
    assert check(aten.pow.Scalar, 10000.0, meta(64))
    assert check(aten.relu_.default, x)
    assert check(aten._softmax.default, meta(2, 4, 7), -1, False)
    # ambiguous layouts are left to torch
    assert META_KERNELS[aten.relu.default]((meta(1, 8, 1, 1).as_strided((1, 8, 1, 1),
                                                                          (8, 1, 8, 8)),), {}) \
        is None
    assert META_KERNELS[aten.relu.default]((torch.zeros(3),), {}) is None  # not meta
    assert META_KERNELS[aten.relu.default]((meta(3, dtype=torch.int64),), {}) is None


def test_binary_broadcasting_and_layouts():
    a, se = meta(1, 32, 14, 14), meta(1, 32, 1, 1)
    assert check(aten.mul.Tensor, a, se)
    assert check(aten.mul.Tensor, se, a)
    assert check(aten.add.Tensor, a, a, alpha=2)
    assert check(aten.mul.Scalar, a, 0.5)
    assert check(aten.add_.Tensor, a, se)
    assert check(aten.div.Tensor, meta(4, 1), meta(1, 5))
    q = meta(1, 2048, 8, 128).transpose(1, 2)  # rotary: heads-major view of (B, L, H, E)
    assert check(aten.mul.Tensor, q, meta(2048, 128))
    assert check(aten.neg.default, q[..., 64:])
    assert check(aten.add.Tensor, q, meta(1, 8, 2048, 128))
    assert META_KERNELS[aten.add.Tensor]((a, meta(3, 3)), {}) is None  # not broadcastable
    assert META_KERNELS[aten.add.Tensor]((a, meta(1, 32, 14, 14, dtype=torch.float16)), {}) \
        is None


def test_normalization():
    x = meta(2, 8, 5, 5)
    w = meta(8)
    assert check(aten.native_batch_norm.default, x, w, w, w, w, False, 0.1, 1e-5)
    assert check(aten.native_batch_norm.default, x, None, None, None, None, True, 0.1, 1e-5)
    assert check(aten._native_batch_norm_legit_no_training.default, x, w, w, w, w, 0.1, 1e-5)
    assert check(aten.native_batch_norm.default, meta(2, 8, 5, 5, dtype=torch.float16), w, w,
                 w, w, False, 0.1, 1e-5)
    assert check(aten.native_layer_norm.default, meta(2, 7, 16), [16], meta(16), meta(16), 1e-5)
    assert check(aten.native_layer_norm.default, meta(2, 7, 16), [7, 16], None, None, 1e-5)


@pytest.mark.parametrize("transposed", [False, True])
def test_convolution_shapes(transposed):
    x = meta(2, 12, 17, 23)
    for kernel, stride, padding, dilation, groups, output_padding in [
            ((3, 3), (1, 1), (1, 1), (1, 1), 1, (0, 0)),
            ((5, 3), (2, 3), (2, 0), (1, 2), 3, (1, 2)),
            ((1, 1), (2, 2), (0, 0), (1, 1), 12, (1, 0)),
            ((7, 7), (2, 2), (3, 3), (1, 1), 4, (0, 0))]:
        if transposed:
            w = meta(12, 6 // groups if groups < 12 else 1, *kernel)
        else:
            w = meta(24, 12 // groups, *kernel)
        assert check(aten.convolution.default, x, w, None, list(stride), list(padding),
                     list(dilation), transposed, list(output_padding), groups)
    assert check(aten.convolution.default, meta(1, 4, 9), meta(8, 4, 3), None, [2], [1], [1],
                 False, [0], 1)
    assert check(aten.convolution.default, x.transpose(2, 3), meta(24, 12, 3, 3), None, [1, 1],
                 [1, 1], [1, 1], False, [0, 0], 1)


def test_invalid_arguments_are_left_to_torch_to_reject():
    """A kernel never accepts what torch rejects: the user must see torch's error."""
    x = meta(1, 5, 32, 32)
    rejected = [
        (aten.convolution.default, (x, meta(8, 3, 3, 3), None, [1, 1], [1, 1], [1, 1], False,
                                    [0, 0], 1)),
        (aten.convolution.default, (x, meta(8, 5, 40, 3), None, [1, 1], [0, 0], [1, 1], False,
                                    [0, 0], 1)),
        (aten.native_batch_norm.default, (x, meta(4), meta(4), None, None, True, 0.1, 1e-5)),
        (aten.native_batch_norm.default, (x, None, None, None, None, False, 0.1, 1e-5)),
        (aten.mean.dim, (x, [1, -3])),
        (aten.cat.default, ([x, x], 4)),
        (aten.native_layer_norm.default, (meta(2, 8), [8], meta(7), None, 1e-5)),
        (aten.mm.default, (meta(2, 3), meta(4, 5))),
        (aten.cat.default, ([meta(1, 2, 3), meta(1, 2, 4)], 1)),
    ]
    for func, args in rejected:
        assert META_KERNELS[func](args, {}) is None, func
        with pytest.raises(Exception):
            func(*args)


def test_pooling_shapes():
    for size in (7, 8, 111, 112):
        x = meta(1, 16, size, size + 3)
        for kernel, stride, padding, ceil in [([3, 3], [2, 2], [1, 1], False),
                                              ([3, 3], [2, 2], [0, 0], True),
                                              ([2], [], [0], False),
                                              ([3, 2], [1, 2], [1, 0], True)]:
            assert check(aten.max_pool2d_with_indices.default, x, kernel, stride, padding,
                         [1, 1], ceil)
            assert check(aten.avg_pool2d.default, x, kernel, stride, padding, ceil, False)
        assert check(aten.max_pool2d_with_indices.default, x, [3, 3], [2, 2], [1, 1], [2, 2],
                     True)
        assert check(aten._adaptive_avg_pool2d.default, x, [6, 6])
    padded = meta(1, 32, 112, 112)[:, :, 1:, 1:]  # NASNet pools a cropped, padded map
    assert check(aten.avg_pool2d.default, padded, [1, 1], [2, 2], [0, 0], False, False)
    # torch rejects padding over half the kernel: the kernel leaves it to torch
    assert META_KERNELS[aten.avg_pool2d.default]((meta(1, 2, 8, 8), [2, 2], [2, 2], [2, 2]),
                                                 {}) is None


def test_reductions_matmuls_cat_embedding():
    x = meta(2, 16, 7, 7)
    assert check(aten.mean.dim, x, [-1, -2], True)
    assert check(aten.mean.dim, x, [2, 3])
    assert check(aten.sum.dim_IntList, x, [1], False)
    assert check(aten.mm.default, meta(5, 7), meta(9, 7).t())
    assert check(aten.addmm.default, meta(9), meta(5, 7), meta(9, 7).t())
    assert check(aten.addmm.default, meta(9), meta(1, 7), meta(9, 7).t())
    assert check(aten.bmm.default, meta(3, 5, 7), meta(3, 7, 2))
    assert check(aten.cat.default, [x, meta(2, 4, 7, 7)], 1)
    assert check(aten.cat.default, [meta(1, 3, 8), meta(8, 5).t().unsqueeze(0)], 1)
    half = meta(1, 8, 64, 128).transpose(1, 2)
    assert check(aten.cat.default, [-half[..., 64:], half[..., :64]], -1)
    assert check(aten.embedding.default, meta(100, 16), meta(2, 9, dtype=torch.int64))
    assert check(aten.arange.default, 10, dtype=None, device=META)
    assert check(aten.arange.start_step, 0, 128, 2, device=META)
    assert check(aten.arange.start_step, 0.0, 1.0, 0.3, device=META)


def test_channels_last_like_agrees_with_torch():
    from torch._prims_common import suggest_memory_format

    for shape in [(2, 8, 5, 5), (1, 8, 1, 1), (1, 1, 5, 5), (2, 3, 4, 5, 6)]:
        for fmt in ([torch.contiguous_format, torch.channels_last] if len(shape) == 4
                    else [torch.contiguous_format, torch.channels_last_3d]):
            t = meta(*shape).contiguous(memory_format=fmt)
            assert channels_last_like(t.shape, t.stride()) == \
                (suggest_memory_format(t) != torch.contiguous_format), (shape, fmt)


@pytest.mark.parametrize("gqa", [False, True])
def test_attention_output_matches_the_math_path(gqa):
    q = meta(1, 2048, 8, 64).transpose(1, 2)
    kv_heads = 2 if gqa else 8
    k = meta(1, 2048, kv_heads, 64).transpose(1, 2)
    v = meta(1, 2048, kv_heads, 32).transpose(1, 2)
    fast = attention_output(q, k, v, gqa)
    real = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
    assert metadata(fast) == metadata(real)
    if gqa:  # fewer key/value heads without enable_gqa: torch raises, the kernel declines
        assert attention_output(q, k, v, False) is None
    mask = meta(2048, 2048, dtype=torch.bool)
    assert metadata(attention_output(q, k, v, gqa, mask)) == metadata(real)
    assert attention_output(q, k, v, gqa, meta(2048, 2047, dtype=torch.bool)) is None


# ------------------------------------------------------ element-wise layouts, at random

@st.composite
def strided_pairs(draw):
    """Two meta tensors of broadcastable shapes, each maybe permuted or sliced."""
    ndim = draw(st.integers(1, 4))
    shape = draw(st.lists(st.sampled_from([1, 1, 2, 3, 5]), min_size=ndim, max_size=ndim))
    other = [draw(st.sampled_from([d, 1])) for d in shape][draw(st.integers(0, ndim)):]

    def make(dims):
        t = torch.empty(dims, device=META)
        if len(dims) > 1 and draw(st.booleans()):
            perm = draw(st.permutations(range(len(dims))))
            t = torch.empty([dims[p] for p in perm], device=META).permute(
                [perm.index(i) for i in range(len(dims))])
        if dims and dims[-1] > 1 and draw(st.booleans()):
            t = torch.empty([*dims[:-1], dims[-1] * 2], device=META)[..., : dims[-1]]
        return t

    return make(shape), make(other)


@settings(max_examples=300, deadline=None)
@given(strided_pairs(), st.sampled_from([aten.add.Tensor, aten.mul.Tensor]))
def test_elementwise_layouts_match_torch_at_random(pair, op):
    a, b = pair
    check(op, a, b)
    check(op, b, a)
    check(aten.relu.default, a)
    check(aten.neg.default, b)


def test_elementwise_kernels_run_on_dense_tensors():
    # check() returns False when a kernel declines; the random layouts above may be declined
    # (then torch runs the op), but the everyday dense case must be made by the kernel
    a, b = meta(2, 3, 4), meta(1, 3, 1)
    for args in ((aten.add.Tensor, a, b), (aten.mul.Tensor, b, a), (aten.relu.default, a),
                 (aten.neg.default, a)):
        assert check(*args), args[0]


def test_meta_analysis_imports_no_compiler_stack():
    """The first analysis in a process costs seconds if a decomposition runs: torch then
    imports sympy and torch._dynamo. The zoo's ops all have kernels, so neither loads."""
    code = ("import sys, costlab\n"
            "costlab.analyze('mobilenet_v2'); costlab.analyze('efficientnet_b0')\n"
            "costlab.analyze('llama_70b', layers=2, seq_len=128)\n"
            "print(sorted(m for m in ('sympy', 'torch._dynamo') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_tracer_uses_kernels_only_on_meta():
    from costlab.analysis.tracer import TraceState

    model = torch.nn.ReLU()
    assert TraceState(model, None, on_meta=True).op_info(aten.relu.default)[3] is not None
    assert TraceState(model, None, on_meta=False).op_info(aten.relu.default)[3] is None
    assert meta_kernels.meta_kernel(aten.view.default) is None


def test_grouped_mm_matches_torch_in_bf16_and_runs_in_fp32():
    bf16 = torch.bfloat16
    offs = meta(4, dtype=torch.int32)
    assert check(aten._grouped_mm.default, meta(10, 16, dtype=bf16), meta(4, 16, 8, dtype=bf16),
                 offs)
    assert check(aten._grouped_mm.default, meta(4, 5, 16, dtype=bf16),
                 meta(4, 16, 8, dtype=bf16))
    # torch's meta function takes bf16 only (the CUDA kernel's); an fp32 MoE runs on meta too
    out = META_KERNELS[aten._grouped_mm.default]((meta(10, 16), meta(4, 16, 8), offs), {})
    assert out.shape == (10, 8) and out.dtype == torch.float32
    # a mismatched contraction is left to torch to reject
    assert META_KERNELS[aten._grouped_mm.default]((meta(10, 15), meta(4, 16, 8), offs), {}) \
        is None
