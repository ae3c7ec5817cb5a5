"""Outputs of common ops on meta, made from shape arithmetic alone.

On meta, torch runs many ops through Python decompositions and meta functions: a
BatchNorm takes about 1 ms, a hardswish 3 ms, and the first such call imports sympy and
torch._dynamo (0.5 to 2 s). The tracer needs only the outputs' metadata (shape, strides,
dtype), so for the ops and layouts below it makes the output tensors directly.

Each kernel returns the output(s) the meta kernel would, or ``None`` when the case is
outside what it knows (another device, a mixed dtype, an unusual layout, an invalid
argument), and then the real kernel runs. The rules follow torch's layout conventions:
- row-major inputs give row-major outputs (a conv, a pool, a matmul, a reduction, and
  any element-wise op whose inputs are all row-major);
- an element-wise op whose first input has the output's shape and an unambiguous
  dimension order (distinct nonzero strides, neither contiguous nor channels_last) lays
  its output out in that order, dense: a rotary embedding's heads-major views, say;
- an in-place op returns its first argument.
On meta, registered models are also built under ``meta_construction``: the same kernels,
and weight initializers as no-ops.
tests/analysis/test_meta_kernels.py checks every kernel against torch's own.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from costlab.build.gcpause import collector_paused
from costlab.build.opargs import op_arg

aten = torch.ops.aten
Tensor = torch.Tensor
MetaKernel = Callable[[Sequence[Any], dict], Any]

_HALF = (torch.float16, torch.bfloat16)


# --------------------------------------------------------------------- layouts

def row_major(shape: Sequence[int]) -> tuple[int, ...]:
    """Strides of a contiguous tensor of ``shape`` (size-0 dims count as 1, as torch's do)."""
    strides = [1] * len(shape)
    step = 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = step
        step *= shape[i] if shape[i] > 1 else 1
    return tuple(strides)


def is_row_major(t: Tensor) -> bool:
    """Exactly the contiguous strides, size-1 dims included (torch's ``is_contiguous``
    ignores those, and layout rules can tell the difference)."""
    return t.stride() == row_major(t.shape)


def channels_last_like(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether torch would suggest channels_last for a 4-d or 5-d tensor with these strides:
    walking channel, then the spatial dims innermost first, then batch, each stride is at
    least the extent of the dims before it."""
    ndim = len(shape)
    if ndim not in (4, 5) or strides[1] == 0:
        return False
    order = (1, 3, 2, 0) if ndim == 4 else (1, 4, 3, 2, 0)
    extent = 0
    for d in order:
        if shape[d] == 0 or strides[d] < extent:
            return False
        if d == 0 and extent == strides[1]:
            return False
        extent = strides[d] * shape[d]
    return True


def _dense_in_order(t: Tensor) -> tuple[int, ...] | None:
    """Dense strides in ``t``'s own dimension order, when that order is unambiguous.

    Unambiguous: distinct nonzero strides, and ``t`` neither contiguous nor channels_last
    in torch's lenient sense (which ignores size-1 dims and makes torch short-circuit to
    that layout whatever the strides of its size-1 dims say)."""
    shape, strides = t.shape, t.stride()
    if 0 in strides or 0 in shape or len(set(strides)) != len(strides) or t.is_contiguous():
        return None
    ndim = len(shape)
    if (ndim == 4 and t.is_contiguous(memory_format=torch.channels_last)) or \
            (ndim == 5 and t.is_contiguous(memory_format=torch.channels_last_3d)):
        return None
    out = [0] * ndim
    step = 1
    for d in sorted(range(ndim), key=strides.__getitem__):
        out[d] = step
        step *= shape[d]
    return tuple(out)


def _empty(shape: Sequence[int], like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    return torch.empty(shape, dtype=dtype or like.dtype, device=like.device)


def _is_meta_float(t: Any) -> bool:
    return isinstance(t, Tensor) and t.is_meta and t.dtype.is_floating_point


def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    if len(a) < len(b):
        a, b = b, a
    out = list(a)
    offset = len(a) - len(b)
    for i, size in enumerate(b):
        mine = out[offset + i]
        if size == mine or size == 1:
            continue
        if mine != 1:
            return None
        out[offset + i] = size
    return tuple(out)


# ---------------------------------------------------------------- element-wise

def _same_layout_as(x: Tensor) -> Tensor | None:
    """A fresh output of ``x``'s shape and dtype laid out as an element-wise op would."""
    if is_row_major(x):
        return _empty(x.shape, x)
    strides = _dense_in_order(x)
    if strides is None:
        return None
    return torch.empty_strided(x.shape, strides, dtype=x.dtype, device=x.device)


def _unary(args, kwargs) -> Tensor | None:
    x = args[0]
    return _same_layout_as(x) if _is_meta_float(x) else None


def _unary_inplace(args, kwargs) -> Tensor | None:
    x = args[0]
    return x if _is_meta_float(x) else None


def _softmax(args, kwargs) -> Tensor | None:
    """_softmax / _log_softmax (x, dim, half_to_float) and _safe_softmax (x, dim, dtype):
    the same layout unless the output changes dtype."""
    if (args[2] if len(args) > 2 else None) or kwargs.get("half_to_float") \
            or kwargs.get("dtype") is not None:
        return None
    return _unary(args, kwargs)


def _pow_scalar_base(args, kwargs) -> Tensor | None:
    """pow.Scalar (base number, exponent tensor): laid out like the exponent."""
    base, exponent = args[0], args[1]
    return _same_layout_as(exponent) if _is_meta_float(exponent) and \
        type(base) in (int, float) else None


def _is_plain_number(value: Any) -> bool:
    return type(value) in (int, float)


def _binary(args, kwargs) -> Tensor | None:
    a, b = args[0], args[1]
    if not _is_meta_float(a):
        return None
    if _is_plain_number(b):
        return _same_layout_as(a)
    if not isinstance(b, Tensor) or not b.is_meta or b.dtype != a.dtype:
        return None
    shape = _broadcast(a.shape, b.shape)
    if shape is None:
        return None
    if is_row_major(a) and is_row_major(b):
        return _empty(shape, a)
    strides = _dense_in_order(a) if tuple(a.shape) == shape else None
    if strides is None:
        return None
    # the first input has the output's shape and no ties: it decides the order of dims
    return torch.empty_strided(shape, strides, dtype=a.dtype, device=a.device)


def _binary_inplace(args, kwargs) -> Tensor | None:
    a, b = args[0], args[1]
    if not _is_meta_float(a):
        return None
    if _is_plain_number(b):
        return a
    if (isinstance(b, Tensor) and b.is_meta and b.dtype == a.dtype
            and _broadcast(a.shape, b.shape) == tuple(a.shape)):
        return a
    return None


# ------------------------------------------------------------------ normalization

def _stat_dtype(x: Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in _HALF else x.dtype


def _batch_norm_outputs(args, training: bool) -> tuple[Tensor, Tensor, Tensor] | None:
    """(input, weight, bias, running_mean, running_var, ...): output, saved mean, saved
    inverse std (per channel, also in eval on meta)."""
    x = args[0]
    if not _is_meta_float(x) or x.dim() < 2 or not is_row_major(x):
        return None
    channels = (x.shape[1],)
    for t in args[1:5]:
        if t is not None and tuple(t.shape) != channels:
            return None  # per-channel tensors of the wrong size: torch raises
    if not training and (args[3] is None or args[4] is None):
        return None  # eval needs running statistics: torch raises
    stat = _stat_dtype(x)
    return _empty(x.shape, x), _empty(channels, x, stat), _empty(channels, x, stat)


def _batch_norm(args, kwargs) -> tuple[Tensor, Tensor, Tensor] | None:
    """native_batch_norm / _native_batch_norm_legit (..., training, momentum, eps)."""
    return _batch_norm_outputs(args, bool(op_arg(args, kwargs, 5, "training", False)))


def _batch_norm_eval(args, kwargs) -> tuple[Tensor, Tensor, Tensor] | None:
    """_native_batch_norm_legit_no_training (..., momentum, eps)."""
    return _batch_norm_outputs(args, False)


def _layer_norm(args, kwargs) -> tuple[Tensor, Tensor, Tensor] | None:
    x, normalized = args[0], args[1]
    if not _is_meta_float(x) or not is_row_major(x):
        return None
    axis = x.dim() - len(normalized)
    if axis < 0 or tuple(x.shape[axis:]) != tuple(normalized):
        return None
    if any(t is not None and tuple(t.shape) != tuple(normalized) for t in args[2:4]):
        return None
    stats = tuple(x.shape[:axis]) + (1,) * len(normalized)
    stat = _stat_dtype(x)
    return _empty(x.shape, x), _empty(stats, x, stat), _empty(stats, x, stat)


# ----------------------------------------------------------------- convolution

def _conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _conv_transpose_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                         output_padding: int) -> int:
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _convolution(args, kwargs) -> Tensor | None:
    x, w, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    if not _is_meta_float(x) or not isinstance(w, Tensor) or w.dtype != x.dtype:
        return None
    spatial = x.dim() - 2
    if spatial < 1 or w.dim() != x.dim() or x.shape[1] == 0 or groups < 1:
        return None
    if len(stride) != spatial or len(padding) != spatial or len(dilation) != spatial or \
            min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        return None
    # channels must agree, or torch raises (a wrong input shape is the user's error to see)
    if transposed:
        out_channels = w.shape[1] * groups
        fits = x.shape[1] == w.shape[0] and w.shape[0] % groups == 0
    else:
        out_channels = w.shape[0]
        fits = x.shape[1] == w.shape[1] * groups and w.shape[0] % groups == 0
    if not fits or (bias is not None and tuple(bias.shape) != (out_channels,)):
        return None
    kernel = w.shape[2:]
    if transposed:
        if len(output_padding) != spatial:
            return None
        sizes = [_conv_transpose_size(x.shape[2 + i], kernel[i], stride[i], padding[i],
                                      dilation[i], output_padding[i]) for i in range(spatial)]
    else:
        sizes = [_conv_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i])
                 for i in range(spatial)]
    if min(sizes) < 1:
        return None  # torch raises; let it
    return _empty((x.shape[0], out_channels, *sizes), x)  # row-major, whatever the input's layout


# ------------------------------------------------------------------- pooling

def _pool_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
               ceil_mode: bool) -> int:
    """Output length of a pooling window sweep; with ceil_mode the last window may hang
    over the end but must start inside the input or its left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pair(value: Sequence[int], default: Sequence[int] | None = None) -> tuple[int, int] | None:
    value = list(value)
    if not value and default is not None:
        return tuple(default)  # type: ignore[return-value]
    if len(value) == 1:
        return value[0], value[0]
    return (value[0], value[1]) if len(value) == 2 else None


def _pooled_shape(x: Tensor, kernel, stride, padding, dilation, ceil_mode):
    """(N, C, H', W') of a 2-d pooling of a 4-d input, or None. The output is row-major
    unless the input's layout suggests channels_last."""
    if not _is_meta_float(x) or x.dim() != 4 or channels_last_like(x.shape, x.stride()):
        return None
    kernel = _pair(kernel)
    stride = _pair(stride, kernel) if kernel else None
    padding, dilation = _pair(padding), _pair(dilation)
    if None in (kernel, stride, padding, dilation):
        return None
    sizes = []
    for i in range(2):
        if stride[i] <= 0 or padding[i] < 0 or \
                padding[i] > ((kernel[i] - 1) * dilation[i] + 1) // 2:
            return None  # torch raises; let it
        sizes.append(_pool_size(x.shape[2 + i], kernel[i], stride[i], padding[i],
                                dilation[i], bool(ceil_mode)))
    if min(sizes) < 1:
        return None
    return (x.shape[0], x.shape[1], *sizes)


def _max_pool2d(args, kwargs) -> tuple[Tensor, Tensor] | None:
    x = args[0]
    shape = _pooled_shape(x, args[1], op_arg(args, kwargs, 2, "stride", ()),
                          op_arg(args, kwargs, 3, "padding", (0,)),
                          op_arg(args, kwargs, 4, "dilation", (1,)),
                          op_arg(args, kwargs, 5, "ceil_mode", False))
    if shape is None:
        return None
    return _empty(shape, x), _empty(shape, x, torch.int64)


def _avg_pool2d(args, kwargs) -> Tensor | None:
    x = args[0]
    if op_arg(args, kwargs, 6, "divisor_override", None) == 0:
        return None
    shape = _pooled_shape(x, args[1], op_arg(args, kwargs, 2, "stride", ()),
                          op_arg(args, kwargs, 3, "padding", (0,)), (1,),
                          op_arg(args, kwargs, 4, "ceil_mode", False))
    return None if shape is None else _empty(shape, x)


def _adaptive_avg_pool2d(args, kwargs) -> Tensor | None:
    x, size = args[0], args[1]
    if (not _is_meta_float(x) or x.dim() != 4 or len(size) != 2
            or channels_last_like(x.shape, x.stride())):
        return None
    return _empty((*x.shape[:2], *size), x)


# --------------------------------------------------------------- reductions

def _reduce_dims(args, kwargs) -> Tensor | None:
    """mean.dim / sum.dim_IntList (x, dim, keepdim=False, dtype=None)."""
    x, dims = args[0], args[1]
    keepdim = op_arg(args, kwargs, 2, "keepdim", False)
    if (not _is_meta_float(x) or not is_row_major(x) or not dims
            or op_arg(args, kwargs, 3, "dtype", None) is not None):
        return None
    ndim = x.dim()
    reduced = {d % ndim for d in dims if -ndim <= d < ndim}
    if len(reduced) != len(dims):
        return None  # out of range or repeated: torch raises
    if keepdim:
        shape = [1 if i in reduced else size for i, size in enumerate(x.shape)]
    else:
        shape = [size for i, size in enumerate(x.shape) if i not in reduced]
    return _empty(shape, x)


# ---------------------------------------------------------------- matmul, cat

def _matmul_operands(a: Any, b: Any, ndim: int) -> bool:
    return (_is_meta_float(a) and isinstance(b, Tensor) and b.is_meta and b.dtype == a.dtype
            and a.dim() == ndim and b.dim() == ndim)


def _mm(args, kwargs) -> Tensor | None:
    a, b = args[0], args[1]
    if not _matmul_operands(a, b, 2) or a.shape[1] != b.shape[0]:
        return None
    return _empty((a.shape[0], b.shape[1]), a)


def _addmm(args, kwargs) -> Tensor | None:
    bias, a, b = args[0], args[1], args[2]
    if not _matmul_operands(a, b, 2) or a.shape[1] != b.shape[0]:
        return None
    shape = (a.shape[0], b.shape[1])
    if (not isinstance(bias, Tensor) or not bias.is_meta or bias.dtype != a.dtype
            or _broadcast(bias.shape, shape) != shape):
        return None
    return _empty(shape, a)


def _bmm(args, kwargs) -> Tensor | None:
    a, b = args[0], args[1]
    if not _matmul_operands(a, b, 3) or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        return None
    return _empty((a.shape[0], a.shape[1], b.shape[2]), a)


def _grouped_mm(args, kwargs) -> Tensor | None:
    """A grouped matmul, any float dtype: torch's meta function accepts only bf16 (the CUDA
    kernel's), so an fp32 MoE model could not run on meta. (M, K) x (G, K, N) with offsets
    gives (M, N); (G, M, K) x (G, K, N) gives (G, M, N)."""
    a, b = args[0], args[1]
    offs = op_arg(args, kwargs, 2, "offs")
    bias = op_arg(args, kwargs, 3, "bias")
    out_dtype = op_arg(args, kwargs, 4, "out_dtype")
    if (not _is_meta_float(a) or not isinstance(b, Tensor) or not b.is_meta
            or b.dtype != a.dtype or bias is not None or b.dim() != 3
            or a.shape[-1] != b.shape[1]):
        return None
    if a.dim() == 2 and isinstance(offs, Tensor) and offs.shape == (b.shape[0],):
        shape = (a.shape[0], b.shape[2])
    elif a.dim() == 3 and offs is None and a.shape[0] == b.shape[0]:
        shape = (a.shape[0], a.shape[1], b.shape[2])
    else:
        return None
    return _empty(shape, a, out_dtype or a.dtype)


def _cat(args, kwargs) -> Tensor | None:
    tensors = args[0]
    dim = op_arg(args, kwargs, 1, "dim", 0)
    if not tensors or not all(_is_meta_float(t) for t in tensors):
        return None
    first = tensors[0]
    ndim, dtype = first.dim(), first.dtype
    if ndim == 0 or not -ndim <= dim < ndim:
        return None
    dim %= ndim
    shape = list(first.shape)
    total = 0
    # the output is row-major unless every input's layout suggests channels_last
    row_major_out = False
    for t in tensors:
        if t.dim() != ndim or t.dtype != dtype:
            return None
        for i in range(ndim):
            if i != dim and t.shape[i] != shape[i]:
                return None
        total += t.shape[dim]
        if not row_major_out and not channels_last_like(t.shape, t.stride()):
            row_major_out = True
    if not row_major_out:
        return None
    shape[dim] = total
    return _empty(shape, first)


def _embedding(args, kwargs) -> Tensor | None:
    weight, indices = args[0], args[1]
    if (not _is_meta_float(weight) or weight.dim() != 2 or not isinstance(indices, Tensor)
            or not indices.is_meta or indices.dtype not in (torch.int64, torch.int32)):
        return None
    return _empty((*indices.shape, weight.shape[1]), weight)


def _arange(args, kwargs) -> Tensor | None:
    """arange(end), arange(start, end), arange(start, end, step) with device=meta."""
    device = kwargs.get("device")
    if device is None or torch.device(device).type != "meta" or len(args) > 3 \
            or not all(_is_plain_number(a) for a in args) or not args:
        return None
    start, end, step = (0, args[0], 1) if len(args) == 1 else (*args[:2], args[2] if
                                                                len(args) > 2 else 1)
    if step == 0:
        return None
    dtype = kwargs.get("dtype") or (
        torch.get_default_dtype() if any(type(a) is float for a in args) else torch.int64)
    length = max(0, math.ceil((end - start) / step))
    return torch.empty((length,), dtype=dtype, device=device)


# ------------------------------------------------------------------ attention

def attention_output(q: Any, k: Any, v: Any, enable_gqa: bool,
                     mask: Any = None) -> Tensor | None:
    """F.scaled_dot_product_attention's output on meta: q's shape with v's last dim,
    row-major, as torch's math path gives it. ``mask`` must broadcast to the scores."""
    if not (_is_meta_float(q) and isinstance(k, Tensor) and isinstance(v, Tensor)
            and k.is_meta and v.is_meta and k.dtype == q.dtype == v.dtype):
        return None
    if not q.dim() == k.dim() == v.dim() == 4:
        return None
    if q.shape[0] != k.shape[0] or k.shape[0] != v.shape[0] or q.shape[3] != k.shape[3] \
            or k.shape[1] != v.shape[1] or k.shape[2] != v.shape[2]:
        return None
    heads, kv_heads = q.shape[1], k.shape[1]
    if heads != kv_heads and not (enable_gqa and kv_heads and heads % kv_heads == 0):
        return None
    scores = (q.shape[0], heads, q.shape[2], k.shape[2])
    if mask is not None and (not isinstance(mask, Tensor) or mask.dim() > 4
                             or _broadcast(mask.shape, scores) != scores):
        return None
    return _empty((*q.shape[:3], v.shape[3]), q)


# ------------------------------------------------------------------- registry

def _overloads(names: Sequence[str]) -> list[Any]:
    """``"add.Tensor"`` -> aten.add.Tensor, skipping ops this torch build lacks."""
    found = []
    for name in names:
        packet_name, overload = name.split(".")
        packet = getattr(aten, packet_name, None)
        op = getattr(packet, overload, None) if packet is not None else None
        if op is not None:
            found.append(op)
    return found


# ------------------------------------------------------------------ backward

def _dense_pair(grad: Any, other: Any) -> bool:
    """Two meta tensors of one float dtype and shape, both row-major: what an element-wise
    backward reads in the common case."""
    return (_is_meta_float(grad) and isinstance(other, Tensor) and other.is_meta
            and other.dtype == grad.dtype and tuple(other.shape) == tuple(grad.shape)
            and is_row_major(grad) and is_row_major(other))


def _activation_backward(args, kwargs) -> Tensor | None:
    """``*_backward(grad_output, self or result, ...)``: a row-major gradient of its shape."""
    grad = args[0]
    return _empty(grad.shape, grad) if _dense_pair(grad, args[1]) else None


def _softmax_backward(args, kwargs) -> Tensor | None:
    """_softmax_backward_data / _log_softmax_backward_data (grad, output, dim, input_dtype)."""
    grad = args[0]
    if args[3] != grad.dtype:
        return None
    return _activation_backward(args, kwargs)


def _batch_norm_backward(args, kwargs) -> tuple | None:
    """native_batch_norm_backward (grad_out, input, weight, running_mean, running_var,
    save_mean, save_invstd, train, eps, output_mask): on meta the input gradient is always
    made; the weight's and bias's as the mask asks."""
    grad, x, weight = args[0], args[1], args[2]
    mask = op_arg(args, kwargs, 9, "output_mask", None)
    if weight is None or mask is None or not _dense_pair(grad, x) or x.dim() < 2 \
            or tuple(weight.shape) != (x.shape[1],):
        return None
    channels = (x.shape[1],)
    return (_empty(x.shape, x), _empty(channels, weight) if mask[1] else None,
            _empty(channels, weight) if mask[2] else None)


def _layer_norm_backward(args, kwargs) -> tuple | None:
    """native_layer_norm_backward (grad_out, input, normalized_shape, mean, rstd, weight,
    bias, output_mask): each gradient as the mask asks."""
    grad, x, shape = args[0], args[1], tuple(args[2])
    weight, bias = args[5], args[6]
    mask = args[7]
    if not mask[0] or not _dense_pair(grad, x) or tuple(x.shape[-len(shape):]) != shape:
        return None
    for t, asked in ((weight, mask[1]), (bias, mask[2])):
        if asked and (t is None or tuple(t.shape) != shape):
            return None
    return (_empty(x.shape, x), _empty(shape, weight) if mask[1] else None,
            _empty(shape, bias) if mask[2] else None)


_UNARY = ("relu", "hardtanh", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu", "tanh",
          "elu", "leaky_relu", "mish", "neg", "rsqrt", "sqrt", "exp", "abs", "reciprocal",
          "cos", "sin")
_BINARY = ("add", "sub", "mul", "div")
_ACTIVATION_BACKWARD = ("threshold_backward", "hardtanh_backward", "sigmoid_backward",
                        "tanh_backward", "silu_backward", "gelu_backward",
                        "hardswish_backward", "hardsigmoid_backward", "leaky_relu_backward",
                        "elu_backward", "mish_backward", "softplus_backward")


def _table() -> dict[Any, MetaKernel]:
    table: dict[Any, MetaKernel] = {}

    def put(names: Sequence[str], kernel: MetaKernel) -> None:
        for op in _overloads(names):
            table[op] = kernel

    put([f"{n}.default" for n in _UNARY] + ["pow.Tensor_Scalar"], _unary)
    put(["pow.Scalar"], _pow_scalar_base)
    put([f"{n}_.default" for n in _UNARY] + ["pow_.Scalar"], _unary_inplace)
    put(["_softmax.default", "_log_softmax.default", "_safe_softmax.default"], _softmax)
    put([f"{n}.Tensor" for n in _BINARY] + [f"{n}.Scalar" for n in _BINARY], _binary)
    put([f"{n}_.Tensor" for n in _BINARY] + [f"{n}_.Scalar" for n in _BINARY],
        _binary_inplace)
    put(["native_batch_norm.default", "_native_batch_norm_legit.default"], _batch_norm)
    put(["_native_batch_norm_legit_no_training.default"], _batch_norm_eval)
    put(["native_layer_norm.default"], _layer_norm)
    put(["convolution.default"], _convolution)
    put(["max_pool2d_with_indices.default"], _max_pool2d)
    put(["avg_pool2d.default"], _avg_pool2d)
    put(["_adaptive_avg_pool2d.default"], _adaptive_avg_pool2d)
    put(["mean.dim", "sum.dim_IntList"], _reduce_dims)
    put(["mm.default"], _mm)
    put(["addmm.default"], _addmm)
    put(["bmm.default"], _bmm)
    put(["_grouped_mm.default"], _grouped_mm)
    put(["cat.default"], _cat)
    put(["embedding.default"], _embedding)
    put(["arange.default", "arange.start", "arange.start_step"], _arange)
    put([f"{n}.default" for n in _ACTIVATION_BACKWARD], _activation_backward)
    put(["_softmax_backward_data.default", "_log_softmax_backward_data.default"],
        _softmax_backward)
    put(["native_batch_norm_backward.default"], _batch_norm_backward)
    put(["native_layer_norm_backward.default"], _layer_norm_backward)
    return table


META_KERNELS: dict[Any, MetaKernel] = _table()


def meta_kernel(func: Any) -> MetaKernel | None:
    """The shape-arithmetic kernel for an op overload, if there is one."""
    return META_KERNELS.get(func)


# ------------------------------------------------------------- construction

def _fill_inplace(args, kwargs) -> Tensor | None:
    """An initializer writing values into a meta tensor: there are none to write."""
    x = args[0]
    return x if isinstance(x, Tensor) and x.is_meta else None


def _copy_inplace(args, kwargs) -> Tensor | None:
    x, src = args[0], args[1]
    if (isinstance(x, Tensor) and x.is_meta and isinstance(src, Tensor)
            and _broadcast(x.shape, src.shape) == tuple(x.shape)):
        return x
    return None


def _initializers() -> dict[Any, MetaKernel]:
    table = {op: _fill_inplace for op in _overloads([
        "normal_.default", "uniform_.default", "zero_.default", "fill_.Scalar",
        "bernoulli_.float", "exponential_.default", "random_.default", "random_.from",
        "random_.to", "log_normal_.default", "cauchy_.default", "geometric_.default",
        "erfinv_.default", "clamp_.default", "clamp_min_.default", "clamp_max_.default"])}
    table.update({op: _copy_inplace for op in _overloads(["copy_.default"])})
    return table


class _ConstructionMode(TorchDispatchMode):
    """Meta kernels for the ops a model's constructor runs, initializers as no-ops."""

    def __init__(self) -> None:
        super().__init__()
        self.kernels = {**META_KERNELS, **_initializers()}

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # as the tracer's mode: nothing is compiled here, and the guard is slow

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        kernel = self.kernels.get(func)
        out = kernel(args, kwargs) if kernel is not None else None
        return func(*args, **kwargs) if out is None else out


@contextmanager
def meta_construction() -> Iterator[None]:
    """Build a model on meta with the shape-arithmetic kernels and without initializing
    its weights (meta tensors hold no values): torch's meta initializers and buffer math
    (a Rotary table, say) otherwise run as Python decompositions."""
    with torch.device("meta"), _ConstructionMode(), collector_paused():
        yield


__all__ = ["META_KERNELS", "attention_output", "channels_last_like", "is_row_major",
           "meta_construction", "meta_kernel", "row_major"]
