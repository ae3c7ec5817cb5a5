"""The built-in op formulas, registered into analysis/registry.py by op packet.

Every formula follows the contract in registry.py: it gets the op's positional args,
kwargs and output, where every tensor may be anything with ``.shape`` (a real or meta
tensor, or a ``TensorSpec``), and returns an ``OpCost``. Formulas read shapes and flags
only; they never touch data.

Conventions (the README's table is generated from the ``doc`` of each entry):
- MACs: multiply-accumulates of conv, linear, matmul and attention only.
- FLOPs: 2 x MACs, plus one FLOP for every elementary arithmetic or comparison step
  each other op performs per element (exp, erf, tanh, sqrt each count one).
- Bytes are measured by the tracer, not here, except where a formula knows better
  (an embedding lookup reads only the rows it gathers).

This module is the one place that imports every formula module (formulas_recurrent.py and
formulas_backward.py at its end, so the docs table keeps its order): importing it fills the registry.
"""

from __future__ import annotations

from typing import Any, Sequence

from costlab.analysis.registry import (
    KNOWN_ZERO,
    KNOWN_ZERO_NAMES,
    Formula,
    FormulaEntry,
    OpCost,
    TensorSpec,
    first,
    lookup,
    numel,
    op_arg,
    out_numel,
    packets,
    conv_category,
    expand_kernel as _expand_kernel,
    register,
    register_pointwise,
    registered_docs,
)
from costlab.core.categories import CATEGORIES, OpCategory



# --------------------------------------------------------------------- convolutions

def conv_cost(x_shape, w_shape, out_shape, *, bias: bool, transposed: bool, groups: int,
              stride=None, padding=None, dilation=None) -> OpCost:
    """MACs of an N-d convolution from shapes.

    Forward: every output element takes (c_in / g) * prod(kernel) multiply-accumulates.
    Transposed: every input element is scattered into (c_out / g) * prod(kernel) outputs
    (the weight is laid out (c_in, c_out / g, *kernel)).
    """
    per_element = numel(w_shape[1:])
    macs = (numel(x_shape) if transposed else numel(out_shape)) * per_element
    flops = 2 * macs + (numel(out_shape) if bias else 0)
    c_in = int(x_shape[1]) if len(x_shape) > 1 else 1
    attrs = {
        "kernel": tuple(map(int, w_shape[2:])),
        "stride": tuple(stride) if stride is not None else None,
        "padding": tuple(padding) if padding is not None else None,
        "dilation": tuple(dilation) if dilation is not None else None,
        "groups": int(groups),
    }
    if transposed:
        attrs["transposed"] = True
    return OpCost(macs=macs, flops=flops, category=conv_category(c_in, w_shape, groups),
                  attrs=attrs)


@register(["convolution", "_convolution"],
          "MACs = output elements x (c_in/groups) x kernel area (transposed: input elements x "
          "(c_out/groups) x kernel area); FLOPs = 2 x MACs + one add per output for the bias")
def _convolution(args, kwargs, out) -> OpCost:
    x, w, bias, stride, padding, dilation, transposed, _output_padding, groups = args[:9]
    return conv_cost(x.shape, w.shape, first(out).shape, bias=bias is not None,
                     transposed=bool(transposed), groups=int(groups), stride=stride,
                     padding=padding, dilation=dilation)


def _conv_op(transposed: bool, dilation_at: int) -> Formula:
    """The composite conv ops (seen in exported graphs): convNd(input, weight, bias, stride,
    padding, dilation, groups) and conv_transposeNd(..., output_padding, groups, dilation)."""

    def formula(args, kwargs, out) -> OpCost:
        x, w = args[0], args[1]
        bias = op_arg(args, kwargs, 2, "bias")
        return conv_cost(x.shape, w.shape, first(out).shape, bias=bias is not None,
                         transposed=transposed, groups=int(op_arg(args, kwargs, 6, "groups", 1)),
                         stride=op_arg(args, kwargs, 3, "stride"),
                         padding=op_arg(args, kwargs, 4, "padding"),
                         dilation=op_arg(args, kwargs, dilation_at, "dilation"))

    return formula


register(["conv1d", "conv2d", "conv3d"], "as convolution")(_conv_op(False, 5))
register(["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"], "as convolution")(
    _conv_op(True, 7))


# ------------------------------------------------------------------ linear / matmul

def matmul_cost(batch: int, m: int, k: int, n: int, *, bias: bool) -> OpCost:
    macs = batch * m * k * n
    return OpCost(macs=macs, flops=2 * macs + (batch * m * n if bias else 0),
                  category=OpCategory.MATMUL)


@register("mm", "MACs = m x k x n; FLOPs = 2 x MACs")
def _mm(args, kwargs, out) -> OpCost:
    a, b = args[0].shape, args[1].shape
    return matmul_cost(1, a[0], a[1], b[1], bias=False)


@register("addmm", "MACs = m x k x n; FLOPs = 2 x MACs + m x n bias adds")
def _addmm(args, kwargs, out) -> OpCost:
    a, b = args[1].shape, args[2].shape
    return matmul_cost(1, a[0], a[1], b[1], bias=True)


@register("bmm", "MACs = batch x m x k x n; FLOPs = 2 x MACs")
def _bmm(args, kwargs, out) -> OpCost:
    a, b = args[0].shape, args[1].shape
    return matmul_cost(a[0], a[1], a[2], b[2], bias=False)


@register("baddbmm", "MACs = batch x m x k x n; FLOPs = 2 x MACs + batch x m x n adds")
def _baddbmm(args, kwargs, out) -> OpCost:
    a, b = args[1].shape, args[2].shape
    return matmul_cost(a[0], a[1], a[2], b[2], bias=True)


@register("addbmm", "MACs = batch x m x k x n; FLOPs = 2 x MACs + batch x m x n adds")
def _addbmm(args, kwargs, out) -> OpCost:
    a, b = args[1].shape, args[2].shape
    macs = a[0] * a[1] * a[2] * b[2]
    return OpCost(macs=macs, flops=2 * macs + a[0] * a[1] * b[2], category=OpCategory.MATMUL)


@register("mv", "MACs = m x n")
def _mv(args, kwargs, out) -> OpCost:
    a = args[0].shape
    return matmul_cost(1, a[0], a[1], 1, bias=False)


@register("addmv", "MACs = m x n; FLOPs = 2 x MACs + m adds")
def _addmv(args, kwargs, out) -> OpCost:
    a = args[1].shape
    return matmul_cost(1, a[0], a[1], 1, bias=True)


@register(["dot", "vdot"], "MACs = n")
def _dot(args, kwargs, out) -> OpCost:
    return matmul_cost(1, 1, args[0].shape[0], 1, bias=False)


@register("linear", "MACs = input elements x out_features; FLOPs = 2 x MACs + bias adds")
def _linear(args, kwargs, out) -> OpCost:
    x, w = args[0].shape, args[1].shape
    bias = op_arg(args, kwargs, 2, "bias")
    macs = numel(x) * (w[0] if len(w) == 2 else 1)
    return OpCost(macs=macs, flops=2 * macs + (out_numel(out) if bias is not None else 0),
                  category=OpCategory.MATMUL)


@register("matmul", "MACs = output elements x contracted dimension")
def _matmul(args, kwargs, out) -> OpCost:
    k = args[0].shape[-1]
    macs = out_numel(out) * k
    return OpCost(macs=macs, flops=2 * macs, category=OpCategory.MATMUL)


# ----------------------------------------------------------------------- attention

SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide: per element


def attention_cost(q_shape, k_shape, v_shape, *, causal: bool, has_mask: bool,
                   heads_last: bool = False) -> OpCost:
    """Scaled dot-product attention, dense.

    Shapes are (..., heads, L, E) for q and (..., heads_kv, S, E) for k and v, or with
    ``heads_last`` the (batch, L, heads, E) layout of the flash/efficient kernels.
    MACs = QK^T + AV = batch*heads*L*S*(E + Ev). FLOPs add the 1/sqrt(E) scaling of the
    scores, the softmax and, if given, the mask. A causal mask is counted dense (the full
    L x S score matrix), as kernels that skip masked blocks still report; the record says so.
    """
    if heads_last:
        b, seq_q, heads, e = q_shape[0], q_shape[1], q_shape[2], q_shape[3]
        seq_k, ev = k_shape[1], v_shape[-1]
        batch_heads = b * heads
    else:
        batch_heads = numel(q_shape[:-2])
        seq_q, e = q_shape[-2], q_shape[-1]
        seq_k, ev = k_shape[-2], v_shape[-1]
    scores = batch_heads * seq_q * seq_k
    macs = scores * (e + ev)
    flops = 2 * macs + scores * (1 + SOFTMAX_FLOPS + (1 if has_mask else 0))
    attrs = {"heads": int(q_shape[2] if heads_last else (q_shape[-3] if len(q_shape) > 2 else 1)),
             "seq_q": int(seq_q), "seq_k": int(seq_k)}
    if causal:
        attrs["note"] = "causal mask counted dense"
    return OpCost(macs=macs, flops=flops, category=OpCategory.ATTENTION, attrs=attrs)


_SDPA_DOC = ("MACs = batch x heads x L x S x (E + Ev) (QK^T and AV, causal masks counted dense); "
             "FLOPs = 2 x MACs + scores x (1 scale + 5 softmax [+ 1 mask])")


def _attention_kernel(causal_at: int, mask_at: int | None = None, mask_name: str = "attn_bias",
                      *, causal_name: str = "is_causal", heads_last: bool = False) -> Formula:
    """An attention formula reading the causal flag and mask where the op's schema has them
    (positional index, or keyword name for keyword-only arguments)."""

    def formula(args, kwargs, out) -> OpCost:
        mask = op_arg(args, kwargs, mask_at, mask_name) if mask_at is not None else None
        causal = bool(op_arg(args, kwargs, causal_at, causal_name, False))
        return attention_cost(args[0].shape, args[1].shape, args[2].shape, causal=causal,
                              has_mask=mask is not None, heads_last=heads_last)

    return formula


# The composite op (seen at function level and in exported graphs), then the kernels it
# dispatches to on CPU, CUDA and other backends.
register("scaled_dot_product_attention", _SDPA_DOC)(_attention_kernel(5, 3, "attn_mask"))
register("_scaled_dot_product_flash_attention_for_cpu", _SDPA_DOC)(
    _attention_kernel(4, 5, "attn_mask"))
register("_scaled_dot_product_flash_attention", _SDPA_DOC)(_attention_kernel(4))
register(["_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention"],
         _SDPA_DOC)(_attention_kernel(6, 3))
register("_scaled_dot_product_fused_attention_overrideable", _SDPA_DOC)(_attention_kernel(5, 3))
_KERNEL_DOC = _SDPA_DOC + "; (batch, L, heads, E) layout"
register("_flash_attention_forward", _KERNEL_DOC)(_attention_kernel(8, heads_last=True))
register("_efficient_attention_forward", _KERNEL_DOC)(
    _attention_kernel(9, 3, "bias", causal_name="custom_mask_type", heads_last=True))


# ------------------------------------------------------------------- normalization

def norm_flops(elements: int, *, statistics: bool, affine: bool) -> int:
    """Per element: statistics 4 (mean 1; variance: subtract, square, accumulate 3),
    normalize 2 (subtract mean, multiply by 1/std), affine 2 (scale, shift)."""
    return elements * ((4 if statistics else 0) + 2 + (2 if affine else 0))


_NORM_DOC = ("per element: 2 to normalize, +2 with affine scale and shift, +4 when statistics "
             "are computed (training batch norm, layer/group/instance norm)")


@register(["native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
           "cudnn_batch_norm", "miopen_batch_norm", "batch_norm"], _NORM_DOC)
def _batch_norm(args, kwargs, out) -> OpCost:
    training = bool(op_arg(args, kwargs, 5, "training", False))
    affine = op_arg(args, kwargs, 1, "weight") is not None
    flops = norm_flops(numel(args[0].shape), statistics=training, affine=affine)
    # in eval the saved-statistics outputs are empty on CPU but sized on meta: not written
    return OpCost(macs=0, flops=flops, category=OpCategory.NORM, attrs=None, reads=None,
                  outputs=None if training else 1)


@register("_native_batch_norm_legit_no_training", _NORM_DOC)
def _batch_norm_eval(args, kwargs, out) -> OpCost:
    affine = op_arg(args, kwargs, 1, "weight") is not None
    flops = norm_flops(numel(args[0].shape), statistics=False, affine=affine)
    return OpCost(macs=0, flops=flops, category=OpCategory.NORM, attrs=None, reads=None, outputs=1)


@register(["native_layer_norm", "layer_norm"], _NORM_DOC)
def _layer_norm(args, kwargs, out) -> OpCost:
    affine = op_arg(args, kwargs, 2, "weight") is not None
    return OpCost(macs=0, flops=norm_flops(numel(args[0].shape), statistics=True, affine=affine),
                  category=OpCategory.NORM)


@register("native_group_norm", _NORM_DOC)
def _group_norm(args, kwargs, out) -> OpCost:
    affine = op_arg(args, kwargs, 1, "weight") is not None
    return OpCost(macs=0, flops=norm_flops(numel(args[0].shape), statistics=True, affine=affine),
                  category=OpCategory.NORM)


@register("group_norm", _NORM_DOC)
def _group_norm_composite(args, kwargs, out) -> OpCost:
    affine = op_arg(args, kwargs, 2, "weight") is not None
    return OpCost(macs=0, flops=norm_flops(numel(args[0].shape), statistics=True, affine=affine),
                  category=OpCategory.NORM)


@register(["rms_norm", "_fused_rms_norm"],
          "per element: square, mean, multiply by 1/rms (3), +1 with a weight")
def _rms_norm(args, kwargs, out) -> OpCost:
    weight = op_arg(args, kwargs, 2, "weight")
    return OpCost(macs=0, flops=numel(args[0].shape) * (3 + (1 if weight is not None else 0)),
                  category=OpCategory.NORM)


# --------------------------------------------------------------- activations etc.

register_pointwise(["relu", "threshold", "clamp_min", "clamp_max"], 1, OpCategory.ACTIVATION)
register_pointwise(["hardtanh", "clamp", "leaky_relu", "prelu", "_prelu_kernel", "relu6"],
                   2, OpCategory.ACTIVATION)
register_pointwise(["sigmoid", "hardsigmoid", "elu", "celu"], 4, OpCategory.ACTIVATION,
                   "4 FLOPs per element (sigmoid: negate, exp, add, divide; hardsigmoid: add, "
                   "clamp 2, divide)")
register_pointwise(["silu", "hardswish", "mish", "selu"], 5, OpCategory.ACTIVATION,
                   "5 FLOPs per element (the 4 of sigmoid/hardsigmoid, then a multiply)")
register_pointwise(["tanh"], 1, OpCategory.ACTIVATION, "1 FLOP per element (a transcendental)")
register_pointwise(["softplus"], 3, OpCategory.ACTIVATION, "3 FLOPs per element (exp, add, log)")
register_pointwise(["log_sigmoid_forward"], 4, OpCategory.ACTIVATION)


@register(["gelu", "gelu_"], "5 FLOPs per element with erf; 9 with the tanh approximation")
def _gelu(args, kwargs, out) -> OpCost:
    approximate = op_arg(args, kwargs, 1, "approximate", "none")
    return OpCost(macs=0, flops=(9 if approximate == "tanh" else 5) * out_numel(out),
                  category=OpCategory.ACTIVATION)


@register(["glu"], "5 FLOPs per output element (sigmoid of one half, times the other)")
def _glu(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=5 * out_numel(out), category=OpCategory.ACTIVATION)


@register(["_softmax", "_safe_softmax", "_log_softmax", "softmax", "log_softmax"],
          "5 FLOPs per element (max, subtract, exp, sum, divide)")
def _softmax(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=SOFTMAX_FLOPS * numel(args[0].shape),
                  category=OpCategory.ACTIVATION)


register_pointwise(
    ["add", "sub", "rsub", "mul", "div", "neg", "abs", "pow", "maximum", "minimum", "fmod",
     "remainder", "eq", "ne", "lt", "le", "gt", "ge", "where", "masked_fill", "exp", "exp2",
     "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos",
     "tan", "erf", "erfc", "floor", "ceil", "round", "trunc", "frac", "sign", "sgn",
     "logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not", "bitwise_and",
     "bitwise_or", "bitwise_xor", "isnan", "isinf", "square", "atan", "atan2", "floor_divide",
     "nan_to_num", "heaviside", "copysign", "hypot"],
    1, OpCategory.ELEMENTWISE, "1 FLOP per output element")
register_pointwise(["addcmul", "addcdiv", "lerp", "xlogy"], 2, OpCategory.ELEMENTWISE)


@register(["native_dropout"], "2 FLOPs per element (mask, scale)")
def _dropout(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=2 * numel(args[0].shape), category=OpCategory.ELEMENTWISE)


# ---------------------------------------------------------------------- pooling

@register(["max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "max_pool1d_with_indices"],
          "(kernel area - 1) comparisons per output element")
def _max_pool(args, kwargs, out) -> OpCost:
    x = args[0].shape
    area = numel(_expand_kernel(args[1], len(x) - 2))
    attrs = {"kernel": tuple(_expand_kernel(args[1], len(x) - 2))}
    return OpCost(macs=0, flops=(area - 1) * out_numel(out),
                  category=OpCategory.POOLING, attrs=attrs)


@register(["avg_pool1d", "avg_pool2d", "avg_pool3d"],
          "kernel area FLOPs per output element (area - 1 adds, 1 divide)")
def _avg_pool(args, kwargs, out) -> OpCost:
    x = args[0].shape
    kernel = _expand_kernel(args[1], len(x) - 2)
    return OpCost(macs=0, flops=numel(kernel) * out_numel(out), category=OpCategory.POOLING,
                  attrs={"kernel": tuple(kernel)})


def adaptive_window_total(in_sizes: Sequence[int], out_sizes: Sequence[int]) -> int:
    """Sum over output positions of the adaptive pooling window size (exact, separable)."""
    total = 1
    for n_in, n_out in zip(in_sizes, out_sizes):
        per_dim = 0
        for i in range(n_out):
            start = (i * n_in) // n_out
            end = -((-(i + 1) * n_in) // n_out)  # ceil
            per_dim += end - start
        total *= per_dim
    return total


def _adaptive_windows(args, out) -> int:
    """Total window elements over all outputs of an adaptive pooling op."""
    x, o = args[0].shape, first(out).shape
    dims = len(o) - 2 if len(o) > 2 else 1
    return numel(x[:-dims]) * adaptive_window_total(x[-dims:], o[-dims:])


@register(["_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d"],
          "window size FLOPs per output element (adds and a divide), windows exact")
def _adaptive_avg(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=_adaptive_windows(args, out), category=OpCategory.POOLING)


@register(["adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"],
          "window size - 1 comparisons per output element, windows exact")
def _adaptive_max(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=_adaptive_windows(args, out) - out_numel(out),
                  category=OpCategory.POOLING)


# -------------------------------------------------------------------- reductions

def _reduction(per_input: int, minus_output: bool, plus_output: int = 0) -> Formula:
    def formula(args, kwargs, out) -> OpCost:
        n_in, n_out = numel(args[0].shape), out_numel(out)
        if len(args) > 1 and hasattr(args[1], "shape"):  # max.other, min.other: element-wise
            return OpCost(macs=0, flops=n_out, category=OpCategory.ELEMENTWISE)
        flops = per_input * n_in - (n_out if minus_output else 0) + plus_output * n_out
        return OpCost(macs=0, flops=max(flops, 0), category=OpCategory.REDUCTION)

    return formula


register(["sum", "nansum", "amax", "amin", "max", "min", "argmax", "argmin", "prod", "any",
          "all", "aminmax"],
         "input - output elements (one add or comparison per reduced element)")(
    _reduction(1, True))
register(["mean", "nanmean"], "input elements (adds and one divide per output)")(
    _reduction(1, False))
register(["var", "var_mean"], "4 x input elements (mean, subtract, square, accumulate)")(
    _reduction(4, False))
register(["std", "std_mean"], "4 x input elements + 1 square root per output")(
    _reduction(4, False, 1))
register(["linalg_vector_norm", "norm"], "2 x input elements (square, accumulate)")(
    _reduction(2, False))
register(["logsumexp"], "4 x input elements (max, subtract, exp, sum)")(_reduction(4, False))
register(["cumsum", "cumprod"], "1 FLOP per element")(_reduction(1, False))


# ------------------------------------------------------------- data movement, embedding

def _movement(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=0, category=OpCategory.DATA_MOVEMENT)


register(["cat", "stack", "clone", "copy", "_to_copy", "to", "constant_pad_nd",
          "reflection_pad1d", "reflection_pad2d", "reflection_pad3d", "replication_pad1d",
          "replication_pad2d", "replication_pad3d", "index_select", "gather", "scatter",
          "scatter_add", "index", "_unsafe_index", "index_put", "index_put_", "roll", "flip",
          "repeat", "channel_shuffle", "native_channel_shuffle", "pixel_shuffle",
          "pixel_unshuffle", "tril", "triu", "lift_fresh_copy", "slice_scatter",
          "select_scatter", "as_strided_scatter", "masked_scatter", "upsample_nearest1d",
          "upsample_nearest2d", "upsample_nearest3d", "_upsample_nearest_exact2d", "one_hot",
          "expand_copy", "view_copy",
          "permute_copy", "split_copy", "unbind_copy", "t_copy", "transpose_copy",
          "unsqueeze_copy", "squeeze_copy", "_reshape_copy", "im2col", "col2im"],
         "no FLOPs; bytes read and written only")(_movement)


# Factories and fills write their output and read no tensor data: ``zeros_like(x)`` and
# ``x.fill_(0)`` use only x's shape, so counting x as read would double their bytes.
@register(["fill", "fill_", "zero_", "zeros", "zeros_like", "ones", "ones_like", "full",
           "full_like", "new_zeros", "new_ones", "new_full", "scalar_tensor", "arange",
           "linspace", "eye"],
          "write-only: no FLOPs; writes the output, reads no tensor (a fill value given as a "
          "tensor aside)")
def _write_only(args, kwargs, out) -> OpCost:
    # fill.Tensor / fill_.Tensor read their one-element value
    value = args[1] if len(args) > 1 and hasattr(args[1], "shape") else None
    reads = ((numel(value.shape), value.dtype),) if value is not None else ()
    return OpCost(macs=0, flops=0, category=OpCategory.DATA_MOVEMENT, reads=reads)


@register(["copy_"], "no FLOPs; reads the source, writes the destination")
def _copy_inplace(args, kwargs, out) -> OpCost:
    src = args[1]
    return OpCost(macs=0, flops=0, category=OpCategory.DATA_MOVEMENT, attrs=None,
                  reads=((numel(src.shape), src.dtype),))


@register(["upsample_bilinear2d", "_upsample_bilinear2d_aa", "upsample_linear1d",
           "upsample_trilinear3d", "upsample_bicubic2d"],
          "per output element: 3 per linear interpolation (sub, mul, add), 2^d - 1 "
          "interpolations for d spatial dims (bicubic counted as bilinear)")
def _upsample_linear(args, kwargs, out) -> OpCost:
    o = first(out).shape
    dims = len(o) - 2
    return OpCost(macs=0, flops=3 * (2 ** dims - 1) * out_numel(out),
                  category=OpCategory.ELEMENTWISE)


@register(["embedding"], "no FLOPs; reads the indices and only the gathered rows")
def _embedding(args, kwargs, out) -> OpCost:
    weight, indices = args[0], args[1]
    # the gathered rows are as large as the output
    reads = ((numel(indices.shape), indices.dtype), (out_numel(out), weight.dtype))
    return OpCost(macs=0, flops=0,
                  category=OpCategory.EMBEDDING, attrs={"rows": int(weight.shape[0])},
                  reads=reads)


@register(["_embedding_bag", "embedding_bag", "_embedding_bag_forward_only"],
          "1 add per gathered element; reads the indices and the gathered rows")
def _embedding_bag(args, kwargs, out) -> OpCost:
    weight, indices = args[0], args[1]
    gathered = numel(indices.shape) * int(weight.shape[-1])
    reads = ((numel(indices.shape), indices.dtype), (gathered, weight.dtype))
    return OpCost(macs=0, flops=gathered, category=OpCategory.EMBEDDING,
                  attrs={"rows": int(weight.shape[0])}, reads=reads, outputs=1)


def overview() -> list[tuple[str, str]]:
    """(op names, what is counted) rows, grouped by identical descriptions, for the docs."""
    groups: dict[str, list[str]] = {}
    for name, doc in registered_docs().items():
        groups.setdefault(doc, []).append(name)
    rows = [(", ".join(sorted(names)), doc) for doc, names in groups.items()]
    zero = sorted(name for name in KNOWN_ZERO_NAMES if packets([name]))
    rows.append((", ".join(zero), "known zero: views, aliases, metadata, "
                 "bare allocations (no arithmetic, no data traffic)"))
    return rows


def formula_frame():
    """``overview`` as a DataFrame: columns ops, counted_as."""
    import pandas as pd

    return pd.DataFrame(overview(), columns=["ops", "counted_as"])


__all__ = [
    "CATEGORIES", "KNOWN_ZERO", "KNOWN_ZERO_NAMES", "Formula", "FormulaEntry", "OpCost",
    "TensorSpec", "attention_cost", "conv_cost", "first", "formula_frame", "lookup",
    "matmul_cost", "norm_flops", "numel", "op_arg", "out_numel", "overview", "register",
    "registered_docs",
]


# Families of formulas kept in their own files register into the same registry, after the
# ones above (registry.py imports neither, so there is no cycle).
from costlab.analysis import formulas_recurrent  # noqa: E402,F401
from costlab.analysis import formulas_backward  # noqa: E402,F401
from costlab.analysis import formulas_moe  # noqa: E402,F401
