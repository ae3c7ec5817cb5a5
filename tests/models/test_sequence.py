"""Sequence models against closed-form counts written out here, layer by layer.

No row of published.csv covers these models, so each test pins costlab's exact MACs and
params to a hand-derived formula, and to the published figure where one exists
(torchvision's vit_b_16 table, GPT-2's and Llama 2's parameter counts).

Per layer of L tokens and width d: the q/k/v/output projections cost 4 L d^2 MACs (GQA: k
and v project to kv_heads x head_dim only), an MLP of hidden f costs 2 L d f (SwiGLU 3 L d f),
attention costs 2 L^2 d (QK^T and AV, causal masks counted dense).
"""

from __future__ import annotations

import time

import pytest
import torch

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.errors import UsageError
from costlab.models import get_model_spec


def encoder_layer_macs(tokens: int, d: int, mlp: int) -> int:
    return 4 * tokens * d * d + 2 * tokens * d * mlp + 2 * tokens * tokens * d


def layer_norm_params(d: int) -> int:
    return 2 * d


def attention_params(d: int, bias: bool = True) -> int:
    return 4 * d * d + (4 * d if bias else 0)


def mlp_params(d: int, hidden: int) -> int:
    return d * hidden + hidden + hidden * d + d


# ------------------------------------------------------------ transformer encoder

@pytest.mark.parametrize("knobs", [{}, {"d_model": 256, "heads": 4, "layers": 3, "seq_len": 64,
                                        "ffn": 1024}])
def test_transformer_encoder_macs_and_params(knobs):
    k = {"d_model": 512, "heads": 8, "layers": 6, "seq_len": 128, "ffn": 2048, **knobs}
    d, length, layers, ffn = k["d_model"], k["seq_len"], k["layers"], k["ffn"]
    cost = costlab.analyze("transformer_encoder", **knobs)
    assert cost.total.macs == layers * encoder_layer_macs(length, d, ffn)
    block = 2 * layer_norm_params(d) + attention_params(d) + mlp_params(d, ffn)
    assert cost.total.params == layers * block + layer_norm_params(d)
    assert cost.info.input_shapes == ((1, length, d),)
    assert cost.total.partial is False and cost.uncounted == []


def test_transformer_encoder_defaults_and_attention_records():
    cost = costlab.analyze("transformer_encoder")
    assert cost.total.macs == 2_516_582_400  # 6 x 128 x 512 x (4 x 512 + 2 x 2048 + 2 x 128)
    assert cost.total.params == 18_915_328
    attention = [r for r in cost.layers if r.category == OpCategory.ATTENTION]
    assert len(attention) == 6
    assert all(r.attrs["heads"] == 8 and r.attrs["seq_q"] == 128 for r in attention)
    assert all("note" not in r.attrs for r in attention)  # an encoder attends both ways
    assert all(r.macs == 2 * 128 * 128 * 512 for r in attention)
    gelu = [r for r in cost.layers if r.op == "gelu"]
    assert [r.flops for r in gelu] == [5 * 128 * 2048] * 6  # exact erf GELU


def test_transformer_encoder_heads_must_divide_width():
    with pytest.raises(UsageError, match="allowed: 1, 2, 4, 8, 16, 32, 64, 128, 256, 512"):
        costlab.analyze("transformer_encoder", heads=7)
    with pytest.raises(UsageError, match="seq_len must be > 0"):
        costlab.analyze("transformer_encoder", seq_len=0)


# ------------------------------------------------------------------------ ViT-B/16

def vit_b16_macs(image: int, num_classes: int = 1000) -> int:
    patches = (image // 16) ** 2
    tokens = patches + 1
    patch_embed = patches * 768 * (3 * 16 * 16)
    return patch_embed + 12 * encoder_layer_macs(tokens, 768, 3072) + 768 * num_classes


def test_vit_b16_matches_torchvision():
    cost = costlab.analyze("vit_b16")
    assert cost.total.macs == vit_b16_macs(224) == 17_563_828_224
    assert abs(cost.total.macs / 17.56e9 - 1) < 0.015  # torchvision: 17.56 "GFLOPS" (MACs)
    assert cost.total.params == 86_567_656  # torchvision's vit_b_16, exactly
    assert cost.total.partial is False


def test_vit_b16_structure():
    with torch.device("meta"):
        model = get_model_spec("vit_b16").build()
    assert tuple(model.pos_embedding.shape) == (1, 197, 768)
    assert model.patch_embed.kernel_size == (16, 16) and model.patch_embed.stride == (16, 16)
    assert len(model.blocks) == 12
    assert model.blocks[0].attention.heads == 12 and model.blocks[0].ffn.fc1.out_features == 3072
    cost = costlab.analyze("vit_b16")
    attention = [r for r in cost.layers if r.category == OpCategory.ATTENTION]
    assert [r.attrs["seq_q"] for r in attention] == [197] * 12
    head = [r for r in cost.layers if r.module == "head"]
    assert [r.macs for r in head] == [768 * 1000]  # the class token only


def test_vit_b16_at_384_grows_its_position_embedding():
    cost = costlab.analyze("vit_b16", resolution=384)
    assert cost.total.macs == vit_b16_macs(384) == 55_484_350_464  # torchvision: 55.48 at 384
    assert cost.total.params == 86_567_656 + (577 - 197) * 768
    with pytest.raises(UsageError, match="multiples of 16"):
        costlab.analyze("vit_b16", resolution=200)


# ------------------------------------------------------------------------- GPT-2

def gpt2_macs(length: int, layers: int = 12) -> int:
    d, vocab = 768, 50257
    return layers * encoder_layer_macs(length, d, 4 * d) + length * d * vocab


def test_gpt2_small_macs_and_params():
    cost = costlab.analyze("gpt2_small")
    assert cost.total.macs == gpt2_macs(1024) == 145_824_153_600
    # tied LM head: token embedding 50257 x 768 + positions 1024 x 768 + 12 blocks + ln_f
    block = 2 * layer_norm_params(768) + attention_params(768) + mlp_params(768, 3072)
    assert cost.total.params == 50257 * 768 + 1024 * 768 + 12 * block + 1536 == 124_439_808
    assert cost.total.partial is False


def test_gpt2_small_short_sequence_and_head():
    cost = costlab.analyze("gpt2_small", seq_len=64, layers=2, batch=2)
    assert cost.total.macs == 2 * gpt2_macs(64, layers=2)
    attention = [r for r in cost.layers if r.category == OpCategory.ATTENTION]
    assert len(attention) == 2 and all(r.attrs["note"] == "causal mask counted dense"
                                       for r in attention)
    assert cost.layers[-1].macs == 2 * 64 * 768 * 50257  # the tied head, every position
    assert cost.layers[-1].params == 0  # its weight was already counted at the embedding
    gelu = [r for r in cost.layers if r.op == "gelu"]
    assert [r.flops for r in gelu] == [9 * 2 * 64 * 3072] * 2  # tanh approximation


def test_gpt2_small_context_limit():
    with pytest.raises(UsageError, match="allowed: 1 to 1024"):
        costlab.analyze("gpt2_small", seq_len=2048)


# ------------------------------------------------------------------- Llama 70B

LLAMA_D, LLAMA_FFN, LLAMA_VOCAB, LLAMA_HEAD_DIM = 8192, 28672, 32000, 128


def llama_macs(length: int, layers: int, kv_heads: int = 8) -> int:
    d, kv = LLAMA_D, kv_heads * LLAMA_HEAD_DIM
    per_layer = (2 * length * d * d            # q and o
                 + 2 * length * d * kv          # k and v (grouped-query attention)
                 + 3 * length * d * LLAMA_FFN   # SwiGLU: gate, up, down
                 + 2 * length * length * d)     # attention, per query head
    return layers * per_layer + length * d * LLAMA_VOCAB  # untied LM head


def llama_params(layers: int, kv_heads: int = 8) -> int:
    d, kv = LLAMA_D, kv_heads * LLAMA_HEAD_DIM
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * LLAMA_FFN + 2 * d  # two RMSNorm weights
    return layers * per_layer + d + 2 * LLAMA_VOCAB * d  # final norm, embedding, head


def test_llama_70b_two_layers():
    cost = costlab.analyze("llama_70b", layers=2, seq_len=256)
    assert cost.total.macs == llama_macs(256, 2)
    assert cost.total.params == llama_params(2)
    assert cost.total.partial is False
    attention = [r for r in cost.layers if r.category == OpCategory.ATTENTION]
    assert [r.attrs["heads"] for r in attention] == [64, 64]
    k_proj = [r for r in cost.layers if r.module == "blocks.0.attention.k"]
    assert [r.output_shapes for r in k_proj] == [((256, 1024),)]  # 8 KV heads x 128


def test_llama_70b_rotary_is_element_wise():
    length = 32
    cost = costlab.analyze("llama_70b", layers=2, seq_len=length)
    rotary = [r for r in cost.layers if r.module.endswith("rotary")]
    assert all(r.macs == 0 for r in rotary)
    # 3.5 FLOPs per rotated element of q (64 heads) and k (8 heads), per layer
    assert sum(r.flops for r in rotary) == 2 * 7 * length * (8192 + 1024) // 2


def test_llama_70b_grouped_query_attention_knob():
    gqa = costlab.analyze("llama_70b", layers=1, seq_len=64)
    mha = costlab.analyze("llama_70b", layers=1, seq_len=64, kv_heads=64)
    assert mha.total.macs - gqa.total.macs == 2 * 64 * LLAMA_D * (8192 - 1024)
    assert mha.total.params == llama_params(1, kv_heads=64)
    with pytest.raises(UsageError, match="allowed: 1, 2, 4, 8, 16, 32, 64"):
        costlab.analyze("llama_70b", layers=1, kv_heads=3)


def test_llama_70b_full_size_on_meta():
    start = time.perf_counter()
    cost = costlab.analyze("llama_70b")
    elapsed = time.perf_counter() - start
    assert cost.total.params == llama_params(80) == 68_976_648_192  # about 68.98e9
    assert cost.total.macs == llama_macs(2048, 80) == 146_222_161_592_320
    assert cost.info.device == "meta" and cost.total.partial is False
    assert elapsed < 10, f"80-layer analysis took {elapsed:.1f}s"


# -------------------------------------------------------------------- GRU4Rec

def gru4rec_macs(items: int, embedding: int, hidden: int, steps: int, layers: int = 1) -> int:
    gru = 3 * hidden * (embedding + hidden) + (layers - 1) * 3 * hidden * (hidden + hidden)
    return steps * gru + steps * hidden * items  # scores for every item at every step


def test_gru4rec_defaults():
    cost = costlab.analyze("gru4rec")
    assert cost.total.macs == gru4rec_macs(37483, 100, 100, 10) == 38_083_000
    # embedding + GRU (3 gates x (w_ih + w_hh + b_ih + b_hh)) + scores Linear
    gru = 3 * (100 * 100 + 100 * 100 + 2 * 100)
    assert cost.total.params == 37483 * 100 + gru + 100 * 37483 + 37483 == 7_594_683
    # FLOPs: 2 x MACs, 22 gate FLOPs per hidden unit and step (16 + 6 bias adds), the
    # scores' bias adds
    assert cost.total.flops == 2 * 38_083_000 + 10 * 100 * 22 + 10 * 37483
    assert cost.info.input_shapes == ((1, 10),) and cost.total.partial is False


def test_gru4rec_layers_and_devices_agree():
    meta = costlab.analyze("gru4rec", layers=2, steps=5, items=1000, batch=3)
    cpu = costlab.analyze("gru4rec", layers=2, steps=5, items=1000, batch=3, device="cpu")
    assert meta.total.macs == 3 * gru4rec_macs(1000, 100, 100, 5, layers=2)
    # CPU projects all steps' inputs in one mm, meta step by step: same MACs and FLOPs
    assert (cpu.total.macs, cpu.total.flops) == (meta.total.macs, meta.total.flops)
    scores = [r for r in meta.layers if r.module == "scores" and r.macs]
    assert [(r.op, r.output_shapes) for r in scores] == [("mm", ((15, 1000),))]


# --------------------------------------------------------------------- SASRec

def sasrec_macs(items: int, d: int, blocks: int, length: int) -> int:
    per_block = (3 * length * d * d           # W^Q, W^K, W^V; no output projection
                 + 2 * length * d * d         # point-wise FFN, two d x d
                 + 2 * length * length * d)   # attention
    return blocks * per_block + length * d * items  # tied scores over the catalogue


def test_sasrec_defaults():
    cost = costlab.analyze("sasrec")
    assert cost.total.macs == sasrec_macs(57289, 50, 2, 50) == 144_972_500
    block = 2 * layer_norm_params(50) + 3 * 50 * 50 + 2 * (50 * 50 + 50)
    # items + positions + blocks + final LayerNorm; the output reuses the item embedding
    assert cost.total.params == 57289 * 50 + 50 * 50 + 2 * block + 100 == 2_892_650
    assert cost.total.partial is False


def test_sasrec_structure_and_knobs():
    with torch.device("meta"):
        model = get_model_spec("sasrec").build(heads=5, blocks=3)
    assert len(model.blocks) == 3
    attention = model.blocks[0].attention
    assert attention.out is None and attention.q.bias is None and attention.heads == 5
    cost = costlab.analyze("sasrec", items=1000, d=64, blocks=3, heads=2, seq_len=20)
    assert cost.total.macs == sasrec_macs(1000, 64, 3, 20)
    records = [r for r in cost.layers if r.category == OpCategory.ATTENTION]
    assert [r.attrs["heads"] for r in records] == [2, 2, 2]
    assert all(r.attrs["note"] == "causal mask counted dense" for r in records)
    with pytest.raises(UsageError, match="allowed: 1, 2, 5, 10, 25, 50"):
        costlab.analyze("sasrec", heads=3)


def test_same_counts_on_meta_and_cpu():
    for name, knobs in (("sasrec", {}), ("transformer_encoder", {"layers": 2, "seq_len": 16}),
                        ("gpt2_small", {"layers": 1, "seq_len": 16})):
        meta = costlab.analyze(name, **knobs)
        cpu = costlab.analyze(name, device="cpu", **knobs)
        assert (meta.total.macs, meta.total.flops, meta.total.params) == \
               (cpu.total.macs, cpu.total.flops, cpu.total.params)
