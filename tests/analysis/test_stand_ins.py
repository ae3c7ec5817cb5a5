"""A real-weight module is analyzed on meta stand-ins of its weights and inputs; a forward
that cannot run on meta is traced for real, with a note; both give the numbers of meta."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import costlab
from costlab.analysis import build_cost


def _row(cost):
    t = cost.total
    return (t.macs, t.flops, t.memory_access_bytes, t.peak_activation_bytes, t.params,
            t.buffers, t.ops)


def _records(cost):
    return [(r.module, r.op, r.macs, r.flops, r.bytes_read, r.bytes_written, r.params)
            for r in cost.layers]


class Devices(nn.Module):
    """Notes the device its forward ran on."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.seen: list[str] = []

    def forward(self, x):
        self.seen.append(x.device.type)
        return self.bn(self.conv(x))


def test_a_cpu_module_runs_on_meta_and_keeps_its_weights():
    model = Devices().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cost = costlab.analyze(model, input_shape=(1, 3, 8, 8))
    assert model.seen == ["meta"]  # no kernel ran
    assert cost.info.device == "cpu" and cost.info.notes == []
    # the module is left as it was: its real tensors, on the CPU, unchanged
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    real = build_cost(model, (torch.zeros(1, 3, 8, 8),), name="m", knobs={}, device="cpu",
                      stand_ins=False)
    assert model.seen[-1] == "cpu"
    assert _records(cost) == _records(real) and _row(cost) == _row(real)


class Shared(nn.Module):
    """Frozen params, buffers, a tied weight and a module called twice."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.block = nn.Linear(8, 8)
        self.frozen = nn.Linear(8, 8)
        self.frozen.requires_grad_(False)
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 20, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        x = self.embed(ids).mean(1)
        x = self.block(self.block(x))
        return self.head(self.norm(self.frozen(x)))


def test_stand_ins_count_like_the_real_weights():
    model = Shared().eval()
    ids = torch.zeros(2, 5, dtype=torch.long)
    meta = costlab.analyze(model, inputs=(ids,))
    real = build_cost(model, (ids,), name="Shared", knobs={}, device="cpu", stand_ins=False)
    assert _records(meta) == _records(real) and _row(meta) == _row(real)
    assert meta.total.params == 20 * 8 + 2 * (8 * 8 + 8) + 2 * 8  # the tied weight once
    assert meta.total.buffers == 8 + 8 + 1
    assert meta.info.notes == real.info.notes and len(meta.info.notes) == 1  # tied


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:  # reads a value: meta has none
            return self.fc(x)
        return x


def test_a_data_dependent_forward_is_traced_for_real_with_a_note():
    model = DataDependent()
    cost = costlab.analyze(model, inputs=(torch.ones(2, 4),))
    assert cost.total.macs == 2 * 4 * 4
    (note,) = cost.info.notes
    assert note.startswith("traced with the real forward on cpu: on meta stand-ins of its "
                           "weights it failed (")


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18", "shufflenet_v2",
                                  "transformer_encoder", "sasrec", "gru4rec"])
def test_device_cpu_and_meta_give_the_same_numbers(name):
    meta = costlab.analyze(name, device="meta")
    cpu = costlab.analyze(name, device="cpu")
    assert _row(cpu) == _row(meta) and _records(cpu) == _records(meta)
    assert cpu.info.device == "cpu" and cpu.info.notes == meta.info.notes


class AttentionThenLSTM(nn.Module):
    """The issue's model: Linear, self-attention (nn.MultiheadAttention), LSTM, Linear."""

    def __init__(self, embed=64, heads=4, need_weights=True):
        super().__init__()
        self.need_weights = need_weights
        self.inp = nn.Linear(embed, embed)
        self.attn = nn.MultiheadAttention(embed, heads, batch_first=True)
        self.lstm = nn.LSTM(embed, embed, num_layers=2, batch_first=True)
        self.out = nn.Linear(embed, 10)

    def forward(self, x):
        x = self.inp(x)
        x, _ = self.attn(x, x, x, need_weights=self.need_weights)
        x, _ = self.lstm(x)
        return self.out(x)


@pytest.mark.parametrize("need_weights", [True, False])
def test_attention_and_lstm_count_alike_on_cpu_and_meta(need_weights):
    torch.manual_seed(0)
    model = AttentionThenLSTM(need_weights=need_weights).eval()
    x = torch.randn(2, 16, 64)
    on_meta = costlab.analyze(copy.deepcopy(model).to("meta"), inputs=(x.to("meta"),))
    stand_ins = costlab.analyze(model, inputs=(x,))
    # the real CPU forward (the fallback's path): oneDNN's LSTM and CPU attention kernels
    real = build_cost(model, (x,), name="m", knobs={}, device="cpu", stand_ins=False)
    assert _row(on_meta) == _row(stand_ins) == _row(real)
    assert _records(on_meta) == _records(real)
    assert [r.op for r in real.layers if r.module == "lstm"] == ["zeros", "zeros", "lstm"]
