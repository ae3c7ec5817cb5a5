"""Formulas for the recurrent ops (aten LSTM/GRU/RNN): per token, layer and direction.

Imported at the end of formulas.py, so these register into the one registry after the
others (the docs table keeps its order).

What the tracer sees of ``nn.GRU``/``nn.LSTM``/``nn.RNN`` (torch 2.13): ``aten.gru.input``,
``lstm.input``, ``rnn_tanh.input`` and ``rnn_relu.input`` are CompositeImplicitAutograd, so
below autograd (where the dispatch mode records) they are already decomposed into one
``addmm`` per gate matrix and step plus the gates' element-wise ops, on meta and on CPU alike
(CPU projects the inputs of all steps in one ``mm``; the MACs and FLOPs are the same). Only
the fused kernels reach the tracer as one op: ``mkldnn_rnn_layer`` (LSTM on CPU, one call per
layer and direction), ``_cudnn_rnn``, ``miopen_rnn`` and the ``_thnn_fused_*_cell`` kernels of
CUDA. The composite ops are registered too, for function-level tracing and exported graphs.

Every formula here counts what the decomposition counts with formulas.py's per-op FLOPs
(sigmoid 4, tanh 1, relu 1, add/sub/mul 1), so fused and decomposed runs agree exactly.
Per token (one time step of one sequence), layer and direction, with H hidden units:

- MACs: the elements of w_ih and w_hh (gates x H x (input + H)), plus w_hr with an LSTM
  projection. FLOPs: 2 x MACs, plus per hidden unit:
- LSTM: 4 gate adds joining the two products, 3 sigmoids (12), tanh of g (1), c' = f*c + i*g
  (3), h' = o * tanh(c') (2): 22; with biases +8 (b_ih and b_hh, 4 gate rows each).
- GRU: r and z each add and sigmoid (10), n = tanh(i_n + r * h_n) (3), h' = n + z * (h - n)
  (3): 16; with biases +6.
- RNN (tanh or relu): add, activation: 2; with biases +2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from costlab.analysis.registry import OpCost, numel, register
from costlab.core.categories import OpCategory

ELEMENTWISE, MATMUL = OpCategory.ELEMENTWISE, OpCategory.MATMUL

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
# element-wise FLOPs per hidden unit and token, biases aside (see the module docstring)
GATE_FLOPS = {"lstm": 22, "gru": 16, "rnn_tanh": 2, "rnn_relu": 2}
# the mode codes of cuDNN, MIOpen and oneDNN (mkldnn) kernels
MODE_CODES = {0: "rnn_relu", 1: "rnn_tanh", 2: "lstm", 3: "gru"}

_DOC = ("per token (time step x batch), layer and direction: MACs = elements of w_ih + w_hh "
        "(+ w_hr) = gates x hidden x (input + hidden); FLOPs = 2 x MACs + per hidden unit "
        "LSTM 22, GRU 16, RNN 2 gate FLOPs, + gates per bias vector")


def recurrent_cost(mode: str, tokens: int, cells: Sequence[tuple[int, int]], *,
                   bias_vectors: int, attrs: dict | None = None) -> OpCost:
    """Cost of running ``cells`` over ``tokens`` tokens.

    ``cells`` holds (weight elements, hidden units) per layer and direction, the weights
    being w_ih + w_hh (+ w_hr); ``bias_vectors`` is 2 with b_ih and b_hh, 0 without.
    """
    macs = tokens * sum(weights for weights, _ in cells)
    per_hidden = GATE_FLOPS[mode] + GATES[mode] * bias_vectors
    flops = 2 * macs + tokens * per_hidden * sum(hidden for _, hidden in cells)
    return OpCost(macs=macs, flops=flops, category=MATMUL, attrs=attrs)


def _tokens(x: Any) -> int:
    """Time steps x batch: every dimension but the features (packed data is 2-D)."""
    return numel(x.shape[:-1])


def cells_from_sizes(mode: str, input_size: int, hidden: int, layers: int, directions: int,
                     proj: int = 0) -> list[tuple[int, int]]:
    """(weight elements, hidden) per layer and direction of a stack, from its sizes.

    Layer 0 reads the input; later layers read the previous layer's outputs of every
    direction (the projected size with an LSTM projection).
    """
    gates, out = GATES[mode], proj or hidden
    cells = []
    for layer in range(layers):
        in_size = input_size if layer == 0 else directions * out
        weights = gates * hidden * (in_size + out) + (proj * hidden if proj else 0)
        cells.extend([(weights, hidden)] * directions)
    return cells


def _attrs(mode: str, layers: int, directions: int, hidden: int, tokens: int) -> dict:
    return {"mode": mode, "layers": layers, "directions": directions, "hidden": hidden,
            "tokens": tokens}


def _composite(mode: str):
    """gru/lstm/rnn_tanh/rnn_relu, overloads .input (input, hx, params, has_biases,
    num_layers, dropout, train, bidirectional, batch_first) and .data (data, batch_sizes,
    hx, params, has_biases, num_layers, dropout, train, bidirectional)."""

    def formula(args, kwargs, out) -> OpCost:
        second = args[1]
        # .data passes a 1-D batch_sizes second; .input an hx of (layers x dirs, batch, H)
        # (LSTM: a list [h, c])
        packed = hasattr(second, "shape") and len(second.shape) == 1
        at = 1 if packed else 0
        params = list(args[2 + at])
        has_biases, layers = bool(args[3 + at]), int(args[4 + at])
        directions = 2 if bool(args[7 + at]) else 1
        stride = len(params) // (layers * directions)
        projected = stride == (5 if has_biases else 3)  # LSTM w_hr follows the biases
        cells = []
        for i in range(layers * directions):
            group = params[i * stride:(i + 1) * stride]
            w_ih, w_hh = group[0], group[1]
            weights = numel(w_ih.shape) + numel(w_hh.shape)
            if projected:
                weights += numel(group[-1].shape)
            cells.append((weights, int(w_hh.shape[0]) // GATES[mode]))
        tokens = _tokens(args[0])
        return recurrent_cost(mode, tokens, cells, bias_vectors=2 if has_biases else 0,
                              attrs=_attrs(mode, layers, directions, cells[0][1], tokens))

    return formula


for _mode in GATES:
    register(_mode, _DOC)(_composite(_mode))


@register("mkldnn_rnn_layer", _DOC + "; one call per layer and direction (oneDNN, CPU)")
def _mkldnn_rnn_layer(args, kwargs, out) -> OpCost:
    # (input, weight0 = w_ih, weight1 = w_hh, weight2, weight3 = biases, hx_, cx_, reverse,
    #  batch_sizes, mode, hidden_size, num_layers, has_biases, bidirectional, batch_first, train)
    mode, hidden, has_biases = MODE_CODES[int(args[9])], int(args[10]), bool(args[12])
    tokens = _tokens(args[0])
    cells = [(numel(args[1].shape) + numel(args[2].shape), hidden)]
    cost = recurrent_cost(mode, tokens, cells, bias_vectors=2 if has_biases else 0,
                          attrs=_attrs(mode, 1, 1, hidden, tokens))
    return replace(cost, outputs=3)  # output, hy, cy; the workspace is scratch


def _fused_stack(args, *, mode_at: int, hidden_at: int, layers_at: int,
                 bidirectional_at: int, proj_at: int | None) -> OpCost:
    """cuDNN and MIOpen: one call for the whole stack; sizes from the arguments (the weights
    may come as one flat buffer)."""
    x, stride = args[0], int(args[2])
    mode, hidden = MODE_CODES[int(args[mode_at])], int(args[hidden_at])
    layers = int(args[layers_at])
    directions = 2 if bool(args[bidirectional_at]) else 1
    proj = int(args[proj_at]) if proj_at is not None else 0
    has_biases = stride >= 4  # w_ih, w_hh, b_ih, b_hh (, w_hr) per layer and direction
    tokens = _tokens(x)
    cells = cells_from_sizes(mode, int(x.shape[-1]), hidden, layers, directions, proj)
    cost = recurrent_cost(mode, tokens, cells, bias_vectors=2 if has_biases else 0,
                          attrs=_attrs(mode, layers, directions, hidden, tokens))
    return replace(cost, outputs=3)  # output, hy, cy; reserve and weight buffers are scratch


@register("_cudnn_rnn", _DOC + "; whole stack in one call (cuDNN)")
def _cudnn_rnn(args, kwargs, out) -> OpCost:
    # (input, weight[], weight_stride0, weight_buf, hx, cx, mode, hidden_size, proj_size,
    #  num_layers, batch_first, dropout, train, bidirectional, batch_sizes, dropout_state)
    return _fused_stack(args, mode_at=6, hidden_at=7, layers_at=9, bidirectional_at=13,
                        proj_at=8)


@register("miopen_rnn", _DOC + "; whole stack in one call (MIOpen)")
def _miopen_rnn(args, kwargs, out) -> OpCost:
    # (input, weight[], weight_stride0, hx, cx, mode, hidden_size, num_layers, batch_first,
    #  dropout, train, bidirectional, batch_sizes, dropout_state)
    return _fused_stack(args, mode_at=5, hidden_at=6, layers_at=7, bidirectional_at=11,
                        proj_at=None)


def _cell(mode: str):
    """gru_cell/lstm_cell/rnn_*_cell (input, hx, w_ih, w_hh, b_ih=None, b_hh=None): one step."""

    def formula(args, kwargs, out) -> OpCost:
        w_ih, w_hh = args[2], args[3]
        b_ih = args[4] if len(args) > 4 else kwargs.get("b_ih")
        b_hh = args[5] if len(args) > 5 else kwargs.get("b_hh")
        hidden = int(w_hh.shape[0]) // GATES[mode]
        tokens = _tokens(args[0]) if len(args[0].shape) > 1 else 1
        cells = [(numel(w_ih.shape) + numel(w_hh.shape), hidden)]
        bias_vectors = (b_ih is not None) + (b_hh is not None)
        return recurrent_cost(mode, tokens, cells, bias_vectors=bias_vectors,
                              attrs=_attrs(mode, 1, 1, hidden, tokens))

    return formula


for _mode in GATES:
    register(f"{_mode}_cell", _DOC + "; one time step")(_cell(_mode))


def _fused_gates(mode: str):
    """_thnn_fused_{lstm,gru}_cell (input_gates, hidden_gates, state, input_bias=None,
    hidden_bias=None): the gate arithmetic after both products, which ran as mm before."""

    def formula(args, kwargs, out) -> OpCost:
        state = args[2]
        input_bias = args[3] if len(args) > 3 else kwargs.get("input_bias")
        hidden_bias = args[4] if len(args) > 4 else kwargs.get("hidden_bias")
        bias_vectors = (input_bias is not None) + (hidden_bias is not None)
        flops = numel(state.shape) * (GATE_FLOPS[mode] + GATES[mode] * bias_vectors)
        return OpCost(macs=0, flops=flops, category=ELEMENTWISE)

    return formula


register("_thnn_fused_lstm_cell", "LSTM gate FLOPs per hidden unit: 22, +4 per bias vector")(
    _fused_gates("lstm"))
register("_thnn_fused_gru_cell", "GRU gate FLOPs per hidden unit: 16, +3 per bias vector")(
    _fused_gates("gru"))


__all__ = ["GATES", "GATE_FLOPS", "MODE_CODES", "cells_from_sizes", "recurrent_cost"]
