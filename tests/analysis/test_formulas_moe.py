"""MoE formulas: grouped expert matmuls cost the routed rows; routing ops move data."""

from __future__ import annotations

import pytest
import torch

from costlab.analysis.formulas import lookup
from costlab.analysis.registry import TensorSpec
from costlab.core.categories import OpCategory

aten = torch.ops.aten
F32, I32 = torch.float32, torch.int32


def cost(op, args, out, kwargs=None):
    return lookup(op).formula(args, kwargs or {}, out)


def test_grouped_mm_costs_the_routed_rows_not_every_expert():
    rows, k, n, experts = 256, 1024, 4096, 8  # 128 tokens x top-2
    c = cost(aten._grouped_mm, (TensorSpec((rows, k), F32), TensorSpec((experts, k, n), F32),
                                TensorSpec((experts,), I32)), TensorSpec((rows, n), F32))
    assert c.macs == rows * k * n == 1_073_741_824
    assert c.flops == 2 * c.macs
    assert c.category == OpCategory.MATMUL
    assert c.attrs == {"experts": 8, "rows": 256}
    # the rows, every expert's weight (256 rows >= 8 experts) and the offsets
    assert c.reads == ((rows * k, F32), (experts * k * n, F32), (experts, I32))


def test_grouped_mm_with_fewer_rows_than_experts_reads_only_those_experts():
    c = cost(aten._grouped_mm, (TensorSpec((2, 64), F32), TensorSpec((8, 64, 32), F32),
                                TensorSpec((8,), I32)), TensorSpec((2, 32), F32))
    assert c.macs == 2 * 64 * 32
    assert c.reads[1] == (2 * 64 * 32, F32)  # one token, top-2: two experts' weights


def test_grouped_mm_batched_form():
    c = cost(aten._grouped_mm, (TensorSpec((4, 5, 16), F32), TensorSpec((4, 16, 8), F32)),
             TensorSpec((4, 5, 8), F32))
    assert c.macs == 4 * 5 * 16 * 8 and c.reads is None


@pytest.mark.parametrize("op", ["topk", "sort", "argsort", "histc", "bincount", "index_copy"])
def test_routing_ops_move_data_without_flops(op):
    entry = lookup(getattr(aten, op))
    assert entry is not None
    c = entry.formula((TensorSpec((256,), F32),), {}, TensorSpec((256,), F32))
    assert (c.macs, c.flops, c.category) == (0, 0, OpCategory.DATA_MOVEMENT)


def test_index_add_adds_once_per_source_element():
    c = cost(aten.index_add, (TensorSpec((128, 64), F32), 0, TensorSpec((256,), torch.int64),
                              TensorSpec((256, 64), F32)), TensorSpec((128, 64), F32))
    assert (c.macs, c.flops) == (0, 256 * 64)


def test_mixtral_shaped_config_is_complete_and_exact():
    """The issue's case: 2 layers, hidden 1024, 8 experts, top-2, at (1, 128). Before, the
    experts and the routing were uncounted (4,934,598,656 of the MACs)."""
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    import costlab

    config = transformers.MixtralConfig(num_hidden_layers=2, hidden_size=1024,
                                        intermediate_size=2048, num_local_experts=8,
                                        num_experts_per_tok=2)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    result = costlab.analyze(model, inputs=(torch.zeros(1, 128, dtype=torch.int64,
                                                        device="meta"),))
    assert not result.total.partial and result.uncounted == []
    # dense part (attention, router, LM head) + experts: 2 layers x 256 rows x 3 x 1024 x 2048
    experts = 2 * 256 * 3 * 1024 * 2048
    assert experts == 3_221_225_472
    assert result.total.macs == 4_934_598_656 + experts == 8_155_824_128
