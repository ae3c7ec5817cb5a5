"""Formulas of the ops only a backward runs (and dropout's, which only training runs).

Conventions as in formulas.py: MACs are the multiply-accumulates of conv, matmul and
attention; FLOPs are 2 x MACs plus one FLOP per elementary step per element. Matmuls in a
backward are ``mm``/``bmm`` ops already counted there; these are the fused backward kernels.

Convolution: the input gradient and the weight gradient each take exactly the forward's
multiply-accumulates (each forward product of an input, a weight and an output element
appears once in each), for every stride, dilation, groups and transposed conv. torch's
FlopCounterMode counts the weight gradient of a grouped conv ``groups`` times (it leaves
the groups out of its shapes); costlab does not (the README names the difference).

Attention: the fused kernels (flash, memory-efficient, cuDNN and CPU flash) recompute the
score matrix from Q and K, so their backward is five matmuls the size of QK^T or AV:
``batch x heads x L x S x (3E + 2Ev)`` MACs, as torch's counter says. The math path
(what meta and ``sdpa_kernel(MATH)`` run) keeps the attention weights and runs four bmms,
counted by their own formulas.
"""

from __future__ import annotations

from typing import Sequence

from costlab.analysis.registry import (OpCost, conv_category, expand_kernel, first, numel,
                                       op_arg, register, register_pointwise)
from costlab.core.categories import OpCategory

# ----------------------------------------------------------------------- convolution


def _forward_conv_macs(grad_out: Sequence[int], x: Sequence[int], w: Sequence[int],
                       transposed: bool) -> int:
    """The forward's MACs: output (transposed: input) elements x prod(weight[1:])."""
    return numel(x if transposed else grad_out) * numel(w[1:])


@register("convolution_backward",
          "input gradient and weight gradient: the forward's MACs each (as their output mask "
          "asks); FLOPs = 2 x MACs + one add per output-gradient element for the bias gradient; "
          "reads only what the asked gradients need")
def _convolution_backward(args, kwargs, out) -> OpCost:
    grad_out, x, w = args[0], args[1], args[2]
    transposed = bool(args[7])
    groups = int(args[9])
    mask = args[10]
    forward = _forward_conv_macs(grad_out.shape, x.shape, w.shape, transposed)
    macs = forward * (int(bool(mask[0])) + int(bool(mask[1])))
    flops = 2 * macs + (numel(grad_out.shape) if mask[2] else 0)
    reads = [(numel(grad_out.shape), grad_out.dtype)]
    if mask[1]:
        reads.append((numel(x.shape), x.dtype))  # the weight gradient reads the input
    if mask[0]:
        reads.append((numel(w.shape), w.dtype))  # the input gradient reads the weight
    c_in = int(x.shape[1]) if len(x.shape) > 1 else 1
    attrs = {"kernel": tuple(map(int, w.shape[2:])), "groups": groups,
             "gradients": "+".join(name for name, asked in
                                   zip(("input", "weight", "bias"), mask) if asked)}
    return OpCost(macs=macs, flops=flops, category=conv_category(c_in, w.shape, groups),
                  attrs=attrs, reads=tuple(reads))


# ----------------------------------------------------------------------- normalization

BATCH_NORM_BACKWARD_DOC = (
    "per input element, training: x-hat 2 (recomputed), sum dy 1, sum dy*x-hat 2, "
    "dx = k*(dy - mean dy - x-hat*mean dy*x-hat) 4 (as the output mask asks); eval: dx = dy*k 1, "
    "weight gradient 2 + x-hat 2, bias gradient 1")


def batch_norm_backward_flops(elements: int, *, training: bool, mask: Sequence[bool]) -> int:
    grad_input, grad_weight, grad_bias = (bool(m) for m in mask)
    if not training:
        return elements * ((1 if grad_input else 0) + (4 if grad_weight else 0)
                           + (1 if grad_bias else 0))
    per = 0
    if grad_input or grad_weight:
        per += 2 + 2  # x-hat, and the sum of dy * x-hat
    if grad_input or grad_bias:
        per += 1  # the sum of dy
    if grad_input:
        per += 4
    return elements * per


@register("native_batch_norm_backward", BATCH_NORM_BACKWARD_DOC)
def _batch_norm_backward(args, kwargs, out) -> OpCost:
    x = args[1]
    training = bool(op_arg(args, kwargs, 7, "train", True))
    mask = op_arg(args, kwargs, 9, "output_mask", (True, True, True))
    return OpCost(macs=0, flops=batch_norm_backward_flops(numel(x.shape), training=training,
                                                          mask=mask),
                  category=OpCategory.NORM)


@register("native_group_norm_backward", BATCH_NORM_BACKWARD_DOC.split(";")[0]
          + " (per group instead of per channel)")
def _group_norm_backward(args, kwargs, out) -> OpCost:
    x = args[1]
    mask = op_arg(args, kwargs, 9, "output_mask", (True, True, True))
    return OpCost(macs=0, flops=batch_norm_backward_flops(numel(x.shape), training=True,
                                                          mask=mask),
                  category=OpCategory.NORM)


@register("native_layer_norm_backward",
          "per input element: x-hat 2 (recomputed), g = dy*w 1, weight gradient sum dy*x-hat 2, "
          "bias gradient sum dy 1, sum g 1, sum g*x-hat 2, dx = rstd*(g - mean g - "
          "x-hat*mean g*x-hat) 4 (as the output mask asks)")
def _layer_norm_backward(args, kwargs, out) -> OpCost:
    x = args[1]
    weight = op_arg(args, kwargs, 5, "weight")
    mask = op_arg(args, kwargs, 7, "output_mask", (True, True, True))
    grad_input, grad_weight, grad_bias = (bool(m) for m in mask)
    per = 2 if grad_input or grad_weight else 0
    if grad_weight:
        per += 2
    if grad_bias:
        per += 1
    if grad_input:
        per += (1 if weight is not None else 0) + 1 + 2 + 4
    return OpCost(macs=0, flops=numel(x.shape) * per, category=OpCategory.NORM)


# ----------------------------------------------------------------------- activations

register_pointwise(["threshold_backward"], 1, OpCategory.ACTIVATION,
                   "1 FLOP per element (pass the gradient where the input was above the "
                   "threshold)")
register_pointwise(["hardtanh_backward", "leaky_relu_backward"], 2, OpCategory.ACTIVATION,
                   "2 FLOPs per element (two comparisons, or a comparison and a scale)")
register_pointwise(["sigmoid_backward", "tanh_backward", "hardsigmoid_backward",
                    "elu_backward"], 3, OpCategory.ACTIVATION,
                   "3 FLOPs per element (sigmoid: g*y*(1-y); tanh: g*(1-y^2); hard-sigmoid: "
                   "two comparisons and a scale; ELU: a comparison and g*(y+alpha))")
register_pointwise(["hardswish_backward"], 5, OpCategory.ACTIVATION,
                   "5 FLOPs per element (two comparisons, g*(2x+3)/6)")
register_pointwise(["softplus_backward"], 6, OpCategory.ACTIVATION,
                   "6 FLOPs per element (a comparison, g*sigmoid(beta*x))")
register_pointwise(["silu_backward"], 9, OpCategory.ACTIVATION,
                   "9 FLOPs per element (sigmoid 4, g*s*(1 + x*(1-s)) 5)")
register_pointwise(["mish_backward"], 14, OpCategory.ACTIVATION,
                   "14 FLOPs per element (softplus, tanh, sigmoid and the product rule)")


@register("gelu_backward", "11 FLOPs per element with erf (cdf 4, pdf 4, g*(cdf + x*pdf) 3); "
                           "17 with the tanh approximation")
def _gelu_backward(args, kwargs, out) -> OpCost:
    approximate = op_arg(args, kwargs, 2, "approximate", "none")
    per = 17 if approximate == "tanh" else 11
    return OpCost(macs=0, flops=per * numel(args[1].shape), category=OpCategory.ACTIVATION)


@register(["_softmax_backward_data"],
          "4 FLOPs per element: dx = y*(g - sum(g*y)) (multiply, sum, subtract, multiply)")
def _softmax_backward(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=4 * numel(args[0].shape), category=OpCategory.ACTIVATION)


@register(["_log_softmax_backward_data"],
          "4 FLOPs per element: dx = g - exp(y)*sum(g) (sum, exp, multiply, subtract)")
def _log_softmax_backward(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=4 * numel(args[0].shape), category=OpCategory.ACTIVATION)


# ----------------------------------------------------------------------- pooling


@register(["max_pool2d_with_indices_backward", "max_pool3d_with_indices_backward"],
          "one add per output-gradient element, scattered to its argmax; writes the "
          "input-sized gradient; reads the output gradient and the indices")
def _max_pool_backward(args, kwargs, out) -> OpCost:
    grad_out, indices = args[0], args[-1]
    return OpCost(macs=0, flops=numel(grad_out.shape), category=OpCategory.POOLING,
                  reads=((numel(grad_out.shape), grad_out.dtype),
                         (numel(indices.shape), indices.dtype)))


@register(["avg_pool2d_backward", "avg_pool3d_backward"],
          "per output-gradient element: 1 divide and kernel area adds into the input gradient; "
          "reads the output gradient")
def _avg_pool_backward(args, kwargs, out) -> OpCost:
    grad_out, x = args[0], args[1]
    area = numel(expand_kernel(args[2], len(x.shape) - 2))
    return OpCost(macs=0, flops=(area + 1) * numel(grad_out.shape),
                  category=OpCategory.POOLING, reads=((numel(grad_out.shape), grad_out.dtype),))


@register(["_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward"],
          "one divide-and-add per input-gradient element (each takes its windows' share); "
          "reads the output gradient")
def _adaptive_avg_backward(args, kwargs, out) -> OpCost:
    grad_out = args[0]
    return OpCost(macs=0, flops=numel(first(out).shape), category=OpCategory.POOLING,
                  reads=((numel(grad_out.shape), grad_out.dtype),))


# ----------------------------------------------------------------- embedding, data movement


@register(["embedding_dense_backward"],
          "no MACs; one add per output-gradient element into its row; writes the whole "
          "(num_weights x dim) gradient; reads the output gradient and the indices")
def _embedding_backward(args, kwargs, out) -> OpCost:
    grad_out = args[0]
    return OpCost(macs=0, flops=numel(grad_out.shape), category=OpCategory.EMBEDDING)


@register(["slice_backward", "select_backward", "diagonal_backward", "unfold_backward",
           "diagonal_scatter"],
          "no FLOPs: the input-sized gradient is written (zeros and the slice's values)")
def _scatter_back(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=0, category=OpCategory.DATA_MOVEMENT)


# ----------------------------------------------------------------------- dropout

register_pointwise(["bernoulli"], 1, OpCategory.ELEMENTWISE,
                   "1 FLOP per element (a uniform draw compared with p; dropout's mask)")


register_pointwise(["native_dropout_backward"], 2, OpCategory.ELEMENTWISE,
                   "2 FLOPs per element (g * mask * scale)")


# ----------------------------------------------------------------------- losses


@register(["nll_loss_forward", "nll_loss2d_forward"],
          "2 FLOPs per target (the weighted pick of its class's log-probability, the sum); "
          "reads the targets and the picked values")
def _nll_loss(args, kwargs, out) -> OpCost:
    target = args[1]
    n = numel(target.shape)
    return OpCost(macs=0, flops=2 * n, category=OpCategory.REDUCTION,
                  reads=((n, args[0].dtype), (n, target.dtype)))


@register(["nll_loss_backward", "nll_loss2d_backward"], "one write per target (the gradient is -w/n at the target class, "
                               "zero elsewhere); writes the input-sized gradient")
def _nll_loss_backward(args, kwargs, out) -> OpCost:
    target = args[2]
    return OpCost(macs=0, flops=numel(target.shape), category=OpCategory.ELEMENTWISE)


register_pointwise(["mse_loss_backward"], 3, OpCategory.ELEMENTWISE,
                   "3 FLOPs per element (2*(x - y)*g/n)")


@register("mse_loss", "3 FLOPs per input element (subtract, square, sum)")
def _mse_loss(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=3 * numel(args[0].shape), category=OpCategory.REDUCTION)


# ----------------------------------------------------------------------- attention

SDPA_BACKWARD_DOC = (
    "fused kernels recompute the scores: MACs = batch x heads x L x S x (3E + 2Ev) (QK^T again, "
    "dP = dO V^T, dV = P^T dO, dQ = dS K, dK = dS^T Q; causal counted dense); FLOPs = 2 x MACs "
    "+ scores x (1 scale + 2 exp of the saved log-sum-exp + 2 dS) + 2 per output element "
    "(D = rowsum(dO * O))")


def attention_backward_cost(q_shape, k_shape, v_shape, *, heads_last: bool = False) -> OpCost:
    """The fused attention backward (flash, memory-efficient, cuDNN, CPU flash kernels)."""
    if heads_last:  # (batch, L, heads, E)
        batch_heads = int(q_shape[0]) * int(q_shape[2])
        seq_q, e, seq_k, ev = q_shape[1], q_shape[3], k_shape[1], v_shape[-1]
    else:
        batch_heads = numel(q_shape[:-2])
        seq_q, e, seq_k, ev = q_shape[-2], q_shape[-1], k_shape[-2], v_shape[-1]
    scores = batch_heads * seq_q * seq_k
    macs = scores * (3 * e + 2 * ev)
    flops = 2 * macs + scores * 5 + 2 * batch_heads * seq_q * ev
    return OpCost(macs=macs, flops=flops, category=OpCategory.ATTENTION,
                  attrs={"note": "fused backward: scores recomputed"})


def _attention_backward(heads_last: bool = False):
    def formula(args, kwargs, out) -> OpCost:
        return attention_backward_cost(args[1].shape, args[2].shape, args[3].shape,
                                       heads_last=heads_last)

    return formula


register(["_scaled_dot_product_flash_attention_backward",
          "_scaled_dot_product_efficient_attention_backward",
          "_scaled_dot_product_cudnn_attention_backward",
          "_scaled_dot_product_flash_attention_for_cpu_backward",
          "_scaled_dot_product_fused_attention_overrideable_backward"],
         SDPA_BACKWARD_DOC)(_attention_backward())
register(["_flash_attention_backward", "_efficient_attention_backward"],
         SDPA_BACKWARD_DOC + "; (batch, L, heads, E) layout")(_attention_backward(True))

__all__ = ["attention_backward_cost", "batch_norm_backward_flops"]
