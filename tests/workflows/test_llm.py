"""LLM phases: prefill, decode against a filled KV cache, generate; KV-cache bytes; tokens/s.

The zoo's decoders need nothing more than torch; the hf: checks build small configs written
here and skip when transformers is absent."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from costlab.core.errors import UsageError
from costlab.workflows.llm import (estimate_phase, generate_cost, kv_cache_formula,
                                   phase_cost)


def small_llama_config(transformers, **changes):
    fields = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, vocab_size=100,
                  max_position_embeddings=4096)
    return transformers.LlamaConfig(**{**fields, **changes})


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers", reason="transformers is not installed: the "
                               "hf: phase checks need it (pip install 'costlab[hf]')")


def flop_counter_macs(module, new: int, context: int) -> int:
    """torch's own FlopCounterMode on the same module and input, with transformers'
    DynamicCache filled to the same context."""
    from costlab.build.huggingface import cache_keyword, filled_cache

    cache = filled_cache(module, 1, context)
    ids = torch.zeros(1, new, dtype=torch.int64, device="meta")
    with FlopCounterMode(display=False) as counter:
        module(ids, **{cache_keyword(module): cache, "use_cache": True})
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("kv_heads", [4, 2])  # multi-head and grouped-query attention
@pytest.mark.parametrize("phase,new,context", [("prefill", 16, 0), ("decode", 1, 40),
                                               ("decode", 3, 40)])
def test_phase_macs_equal_flop_counter_mode(transformers, kv_heads, phase, new, context):
    from costlab.build.huggingface import build

    module = build(small_llama_config(transformers, num_key_value_heads=kv_heads), "meta")
    ours = phase_cost(module, phase, context=context if phase == "decode" else None,
                      input_shape=f"1,{new}:int64")
    assert ours.macs == flop_counter_macs(module, new, context)
    assert not ours.partial
    assert (ours.new_tokens, ours.context) == (new, context)


@pytest.mark.parametrize("kv_heads,dtype,size", [(4, "float32", 4), (2, "float16", 2),
                                                 (1, "bfloat16", 2)])
def test_kv_cache_bytes_follow_the_formula_gqa_too(transformers, kv_heads, dtype, size):
    from costlab.build.huggingface import build

    module = build(small_llama_config(transformers, num_key_value_heads=kv_heads), "meta")
    step = phase_cost(module, "decode", context=100, dtype=dtype)
    # the cache after the step: 100 cached + 1 new token; head_dim 64 / 4 heads = 16
    assert step.kv_cache_bytes == kv_cache_formula(layers=2, kv_heads=kv_heads, head_dim=16,
                                                   tokens=101, dtype_bytes=size) \
        == 2 * 2 * kv_heads * 16 * 101 * size


def test_llama_7b_kv_cache_at_544_tokens_is_llm_analysis_figure(transformers):
    """llm-analysis: 285.21 MB of fp16 KV cache for 544 tokens of a 7B Llama."""
    assert kv_cache_formula(layers=32, kv_heads=32, head_dim=128, tokens=544,
                            dtype_bytes=2) == 285_212_672
    cost = phase_cost("hf:llama", "decode", context=543, dtype="float16", model_kwargs={
        "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000})
    assert cost.kv_cache_bytes == 285_212_672
    assert cost.weight_bytes == 2 * cost.params == 2 * 6_738_415_616


def test_decode_reads_the_weights_and_the_cache_and_is_memory_bound(transformers):
    config = {"num_hidden_layers": 2}  # Llama-2-7B's widths, two of its layers
    result = estimate_phase("hf:llama", "decode", "nvidia_a100", "float16", context=512,
                            model_kwargs=config)
    step = result.phases[0]
    # every weight but the embedding table (a lookup reads one row), the cache, activations
    embedding = 32000 * 4096 * 2
    assert step.memory_access_bytes > step.weight_bytes - embedding + step.kv_cache_bytes
    assert step.intensity < 2  # a few FLOPs per byte, far below the A100's ridge (153)
    assert result.bound("decode") == "memory" and result.share("memory") > 0.5
    assert result.tokens_per_s() == pytest.approx(1 / result.time_s())
    prefill = estimate_phase("hf:llama", "prefill", "nvidia_a100", "float16", prompt=512,
                             model_kwargs=config)
    assert prefill.bound() == "compute"
    assert prefill.tokens_per_s() == pytest.approx(512 / prefill.time_s())


@pytest.mark.parametrize("name,kv_heads,head_dim,layers", [
    ("gpt2_small", 12, 64, 12), ("llama_70b", 8, 128, 80), ("sasrec", 1, 50, 2)])
def test_zoo_decoders_decode_against_their_kv_cache(name, kv_heads, head_dim, layers):
    step = phase_cost(name, "decode", context=40)
    assert (step.new_tokens, step.context, step.partial) == (1, 40, False)
    assert step.kv_cache_bytes == kv_cache_formula(layers=layers, kv_heads=kv_heads,
                                                   head_dim=head_dim, tokens=41, dtype_bytes=4)
    # the decode step is the prefill of 41 tokens' last row: same per-token weights, the
    # attention over 41 positions instead of the causal triangle (counted dense)
    attention = [r for r in step.cost.layers if r.op == "scaled_dot_product_attention"]
    assert len(attention) == layers
    assert all(r.attrs["seq_q"] == 1 and r.attrs["seq_k"] == 41 for r in attention)


def test_zoo_decode_with_several_new_tokens_uses_a_causal_mask():
    step = phase_cost("gpt2_small", "decode", context=10, input_shape="1,4:int64",
                      layers=1)
    attention = next(r for r in step.cost.layers if r.op == "scaled_dot_product_attention")
    # 4 queries over 14 keys with a mask: 12 heads x 4 x 14 scores x (64 + 64)
    assert attention.macs == 12 * 4 * 14 * 128
    assert attention.flops == 2 * attention.macs + 12 * 4 * 14 * 7


def test_zoo_prefill_matches_analyze_macs():
    import costlab

    assert phase_cost("gpt2_small", "prefill", prompt=64).macs == \
        costlab.analyze("gpt2_small", seq_len=64).total.macs


def test_generate_is_the_prefill_and_each_decode_step():
    run = generate_cost("sasrec", prompt=8, generate=3)
    assert [p.context for p in run.steps] == [8, 9, 10]
    assert [p.phase for p in run.phases] == ["prefill", "decode", "decode", "decode"]
    singles = [phase_cost("sasrec", "decode", context=c, seq_len=11).macs for c in (8, 9, 10)]
    assert [p.macs for p in run.steps] == singles
    assert run.total("macs") == run.prefill.macs + sum(singles)
    assert run.steps[-1].kv_cache_bytes == kv_cache_formula(layers=2, kv_heads=1, head_dim=50,
                                                            tokens=11, dtype_bytes=4)


@pytest.mark.parametrize("call,message", [
    (lambda: phase_cost("gpt2_small", "decode"), "needs context"),
    (lambda: phase_cost("gpt2_small", "prefill", context=3), "applies to phase decode"),
    (lambda: phase_cost("gpt2_small", "sample"), "unknown phase 'sample'"),
    (lambda: phase_cost("mobilenet_v2", "decode", context=3), "no KV cache"),
    (lambda: phase_cost("sasrec", "decode", context=50, seq_len=50), "holds 50 positions"),
    (lambda: phase_cost("gpt2_small", "decode", context=5, input_shape="1,3,4"),
     "token ids, batch x tokens"),
])
def test_phase_misuse_is_a_usage_error(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_cli_phases_and_their_misuse(tmp_path):
    import json

    from typer.testing import CliRunner

    from costlab.cli import app

    runner = CliRunner()
    out = tmp_path / "decode.json"
    result = runner.invoke(app, ["analyze", "gpt2_small", "--phase", "decode", "--context",
                                 "100", "--dtype", "float16", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    row = json.loads(out.read_text())["phases"][0]
    assert (row["phase"], row["context"], row["new_tokens"]) == ("decode", 100, 1)
    assert row["kv_cache_bytes"] == kv_cache_formula(layers=12, kv_heads=12, head_dim=64,
                                                     tokens=101, dtype_bytes=2)
    assert row["macs"] == phase_cost("gpt2_small", "decode", context=100).macs
    estimate = runner.invoke(app, ["estimate", "sasrec", "--phase", "generate", "--prompt", "8",
                                   "--generate", "2", "-H", "nvidia_a100", "-f", "csv"])
    assert estimate.exit_code == 0, estimate.stderr
    lines = estimate.stdout.strip().splitlines()
    assert lines[0].startswith("phase,") and "tokens_per_s" in lines[0]
    assert [line.split(",")[0] for line in lines[1:]] == ["prefill", "step 1", "step 2", "total"]
    for args, message in [
        (["analyze", "gpt2_small", "--context", "5"], "apply with --phase"),
        (["analyze", "gpt2_small", "--phase", "generate", "--prompt", "4"],
         "needs --prompt and --generate"),
        (["analyze", "gpt2_small", "--phase", "decode", "--context", "5", "--generate", "2"],
         "--generate applies to --phase generate"),
        (["estimate", "resnet18", "--phase", "decode", "--context", "5", "-H", "nvidia_a100"],
         "no KV cache"),
    ]:
        bad = runner.invoke(app, args)
        assert bad.exit_code != 0 and message in bad.stderr, (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1
