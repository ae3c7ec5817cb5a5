"""The recurrent formulas against hand-derived counts, directly on shapes and through the
tracer (meta and CPU decompose nn.GRU/nn.RNN into per-step ops; CPU runs nn.LSTM as the
fused oneDNN kernel): every path must give the same MACs and FLOPs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.analysis.formulas import TensorSpec as T
from costlab.analysis.formulas_recurrent import cells_from_sizes, recurrent_cost

aten = torch.ops.aten

# input 8, hidden 5, 7 steps of a batch of 3: 21 tokens
I, H, STEPS, BATCH = 8, 5, 7, 3
TOKENS = STEPS * BATCH


def formula(name: str):
    return formulas.lookup(getattr(aten, name)).formula


def stack_params(gates: int, layers: int, directions: int, bias: bool = True,
                 proj: int = 0) -> list[T]:
    """The flat weight list nn.LSTM/GRU/RNN hand to aten, as shapes."""
    params = []
    out = proj or H
    for layer in range(layers):
        in_size = I if layer == 0 else directions * out
        for _ in range(directions):
            params += [T((gates * H, in_size)), T((gates * H, out))]
            if bias:
                params += [T((gates * H,)), T((gates * H,))]
            if proj:
                params.append(T((proj, H)))
    return params


# ------------------------------------------------------------- hand-derived numbers

def test_gru_one_layer_by_hand():
    # per token: 3 gates x 5 x (8 + 5) = 195 MACs; 16 gate FLOPs + 6 bias adds per unit
    args = (T((BATCH, STEPS, I)), T((1, BATCH, H)), stack_params(3, 1, 1), True, 1, 0.0,
            False, False, True)
    cost = formula("gru")(args, {}, None)
    assert cost.macs == 21 * 195 == 4095
    assert cost.flops == 2 * 4095 + 21 * 5 * (16 + 6) == 10500
    assert cost.category == OpCategory.MATMUL
    assert cost.attrs == {"mode": "gru", "layers": 1, "directions": 1, "hidden": 5,
                          "tokens": 21}


def test_lstm_two_layers_bidirectional_by_hand():
    # layer 0: 4 x 5 x (8 + 5) = 260 per direction; layer 1 reads both directions (10):
    # 4 x 5 x (10 + 5) = 300 per direction
    args = (T((STEPS, BATCH, I)), [T((4, BATCH, H)), T((4, BATCH, H))],
            stack_params(4, 2, 2), True, 2, 0.0, False, True, False)
    cost = formula("lstm")(args, {}, None)
    assert cost.macs == 21 * (2 * 260 + 2 * 300) == 23520
    # 4 cells x 5 units x (22 gate FLOPs + 8 bias adds)
    assert cost.flops == 2 * 23520 + 21 * 4 * 5 * 30 == 59640


def test_lstm_projection_and_no_bias_by_hand():
    # proj 3: w_ih 4x5x8, w_hh 4x5x3, w_hr 3x5 = 160 + 60 + 15 = 235 MACs per token
    args = (T((STEPS, BATCH, I)), [T((1, BATCH, 3)), T((1, BATCH, H))],
            stack_params(4, 1, 1, bias=False, proj=3), False, 1, 0.0, False, False, False)
    cost = formula("lstm")(args, {}, None)
    assert cost.macs == 21 * 235
    assert cost.flops == 2 * 21 * 235 + 21 * 5 * 22


@pytest.mark.parametrize("name", ["rnn_tanh", "rnn_relu"])
def test_plain_rnn_by_hand(name):
    # 1 gate: 5 x (8 + 5) = 65 MACs per token; add + activation + 2 bias adds per unit
    args = (T((STEPS, BATCH, I)), T((1, BATCH, H)), stack_params(1, 1, 1), True, 1, 0.0,
            False, False, False)
    cost = formula(name)(args, {}, None)
    assert (cost.macs, cost.flops) == (21 * 65, 2 * 21 * 65 + 21 * 5 * 4)


def test_packed_sequences_count_their_tokens():
    # .data overload: (data, batch_sizes, hx, params, ...): 12 real tokens of a padded 21
    args = (T((12, I)), T((STEPS,)), T((1, BATCH, H)), stack_params(3, 1, 1), True, 1, 0.0,
            False, False)
    assert formula("gru")(args, {}, None).macs == 12 * 195


def test_fused_kernels_agree_with_the_composite():
    composite = formula("lstm")(
        (T((STEPS, BATCH, I)), [T((4, BATCH, H))] * 2, stack_params(4, 2, 2), True, 2, 0.0,
         False, True, False), {}, None)
    # cuDNN: (input, weight[], weight_stride0, weight_buf, hx, cx, mode 2 = LSTM, hidden,
    # proj, layers, batch_first, dropout, train, bidirectional, batch_sizes, dropout_state)
    cudnn = formula("_cudnn_rnn")(
        (T((STEPS, BATCH, I)), [], 4, None, T((4, BATCH, H)), T((4, BATCH, H)), 2, H, 0, 2,
         False, 0.0, False, True, [], None), {}, None)
    # MIOpen: (input, weight[], stride, hx, cx, mode, hidden, layers, batch_first, dropout,
    # train, bidirectional, batch_sizes, dropout_state)
    miopen = formula("miopen_rnn")(
        (T((STEPS, BATCH, I)), [], 4, T((4, BATCH, H)), T((4, BATCH, H)), 2, H, 2, False, 0.0,
         False, True, [], None), {}, None)
    assert (cudnn.macs, cudnn.flops) == (miopen.macs, miopen.flops) == \
           (composite.macs, composite.flops) == (23520, 59640)
    assert cudnn.outputs == 3  # the reserve and weight buffers are not activations
    # oneDNN runs one layer and direction per call: layer 0's 260 MACs per token
    layer0 = formula("mkldnn_rnn_layer")(
        (T((STEPS, BATCH, I)), T((20, I)), T((20, H)), T((20,)), T((20,)), T((BATCH, H)),
         T((BATCH, H)), False, [], 2, H, 2, True, True, False, False), {}, None)
    assert (layer0.macs, layer0.flops) == (21 * 260, 2 * 21 * 260 + 21 * 5 * 30)


def test_cells_and_fused_cell_kernels():
    gru_step = formula("gru_cell")(
        (T((BATCH, I)), T((BATCH, H)), T((15, I)), T((15, H)), T((15,)), T((15,))), {}, None)
    assert (gru_step.macs, gru_step.flops) == (3 * 195, 2 * 3 * 195 + 3 * 5 * 22)
    # CUDA's fused cell does the gate arithmetic after two plain mm
    gates = formula("_thnn_fused_gru_cell")(
        (T((BATCH, 15)), T((BATCH, 15)), T((BATCH, H)), T((15,)), T((15,))), {}, None)
    assert gates.macs == 0 and gates.flops == 3 * 5 * 22
    lstm_gates = formula("_thnn_fused_lstm_cell")(
        (T((BATCH, 20)), T((BATCH, 20)), T((BATCH, H))), {}, None)
    assert lstm_gates.flops == 3 * 5 * 22  # no biases: 22 per unit
    unbatched = formula("rnn_relu_cell")((T((I,)), T((H,)), T((H, I)), T((H, H))), {}, None)
    assert (unbatched.macs, unbatched.flops) == (65, 2 * 65 + 5 * 2)


def test_cells_from_sizes():
    assert cells_from_sizes("gru", 8, 5, 2, 2) == [(195, 5), (195, 5), (225, 5), (225, 5)]
    assert cells_from_sizes("lstm", 8, 5, 1, 1, proj=3) == [(235, 5)]
    assert recurrent_cost("gru", 2, [(195, 5)], bias_vectors=0).flops == 2 * 2 * 195 + 2 * 5 * 16


# ------------------------------------------------------------ through the tracer

MODULES = [
    (nn.GRU, "gru", {}), (nn.GRU, "gru", {"num_layers": 2, "bidirectional": True}),
    (nn.LSTM, "lstm", {}), (nn.LSTM, "lstm", {"num_layers": 2, "bidirectional": True}),
    (nn.LSTM, "lstm", {"bias": False, "num_layers": 3}),
    (nn.RNN, "rnn_tanh", {}), (nn.RNN, "rnn_relu", {"nonlinearity": "relu", "num_layers": 2}),
]


@pytest.mark.parametrize("cls,mode,kw", MODULES)
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_traced_modules_match_the_formula(cls, mode, kw, device):
    module = cls(I, H, batch_first=True, **kw).to(device)
    cost = costlab.analyze(module, inputs=(torch.zeros(BATCH, STEPS, I, device=device),))
    layers, directions = kw.get("num_layers", 1), 2 if kw.get("bidirectional") else 1
    expected = recurrent_cost(mode, TOKENS, cells_from_sizes(mode, I, H, layers, directions),
                              bias_vectors=2 if kw.get("bias", True) else 0)
    assert (cost.total.macs, cost.total.flops) == (expected.macs, expected.flops)
    assert cost.uncounted == []


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_lstm_projection_traced():
    module = nn.LSTM(I, H, proj_size=3)  # oneDNN has no projections: decomposed on CPU too
    cost = costlab.analyze(module, inputs=(torch.zeros(STEPS, BATCH, I),))
    assert (cost.total.macs, cost.total.flops) == (21 * 235, 2 * 21 * 235 + 21 * 5 * 30)


def _real_trace(module, x):
    from costlab.analysis import build_cost

    return build_cost(module, (x,), name="m", knobs={}, device=x.device.type,
                      stand_ins=False)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_recurrent_call_is_one_op_on_cpu_and_meta(cls):
    """The fused CPU kernel (oneDNN's LSTM) and meta's decomposition (an addmm per gate
    matrix and step) are counted as one op above the split: same records on both."""
    torch.manual_seed(0)
    module = cls(I, H, num_layers=2, bidirectional=True).eval()
    x = torch.zeros(STEPS, BATCH, I)
    cpu = _real_trace(module, x)  # the real forward, not meta stand-ins
    meta = _real_trace(module.to("meta"), x.to("meta"))
    rows = [[(r.module, r.op, r.macs, r.flops, r.bytes_read, r.bytes_written, r.params)
             for r in cost.layers] for cost in (cpu, meta)]
    assert rows[0] == rows[1]
    (recurrent,) = [r for r in cpu.layers if r.op in ("lstm", "gru", "rnn_tanh")]
    states = 2 if cls is nn.LSTM else 1  # h (and c) per layer and direction
    # writes the output and the final states; reads the input, the initial states, weights
    assert recurrent.bytes_written == 4 * (TOKENS * 2 * H + states * 4 * BATCH * H)
    weights = sum(p.numel() for p in cls(I, H, num_layers=2, bidirectional=True).parameters())
    assert recurrent.bytes_read == 4 * (TOKENS * I + states * 4 * BATCH * H + weights)
    assert recurrent.params == weights
    assert cpu.total.peak_activation_bytes == meta.total.peak_activation_bytes


def test_recurrent_decomposition_is_not_recorded():
    module = nn.GRU(I, H).to("meta")
    cost = costlab.analyze(module, inputs=(torch.zeros(STEPS, BATCH, I, device="meta"),))
    # h0 is made by the module (zeros), then one gru op: no gate splits or per-step addmm
    assert [r.op for r in cost.layers] == ["zeros", "gru"]
    assert cost.uncounted == []


def test_gru_cell_module_one_step():
    module = nn.GRUCell(I, H)
    cost = costlab.analyze(module, inputs=(torch.zeros(BATCH, I),))
    assert (cost.total.macs, cost.total.flops) == (3 * 195, 2 * 3 * 195 + 3 * 5 * 22)
