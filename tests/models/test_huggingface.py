"""hf: models: Hugging Face configs built offline on meta (configs written by the tests)."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

import costlab
from costlab.cli import app
from costlab.core.errors import UsageError

transformers = pytest.importorskip("transformers", reason="transformers is not installed "
                                   "(pip install 'costlab[hf]'); hf: tests skipped")

# Llama-2-7B's released shape (the numbers calflops publishes are for this config)
LLAMA_2_7B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
              "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
              "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
              "torch_dtype": "float16", "tie_word_embeddings": False, "hidden_act": "silu"}
TINY_LLAMA = {**LLAMA_2_7B, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 100, "torch_dtype": "float32"}


def write_config(directory, config) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return str(directory)


def test_llama_2_7b_config_counts_the_published_calflops_figures(tmp_path):
    path = write_config(tmp_path / "llama-2-7b", LLAMA_2_7B)
    cost = costlab.analyze(f"hf:{path}", "1,128:int64")
    # calflops' README: Llama-2-7B at (1, 128): 850,000,871,424 MACs, 6,738,415,616 params
    assert cost.total.macs == 850_000_871_424
    assert cost.total.params == 6_738_415_616
    assert not cost.total.partial
    assert any("config.json at" in n and "LlamaConfig" in n and "float16" in n
               for n in cost.info.notes)


def test_a_config_file_and_its_directory_name_the_same_model(tmp_path):
    path = write_config(tmp_path / "tiny", TINY_LLAMA)
    by_dir = costlab.analyze(f"hf:{path}", "1,16:int64")
    by_file = costlab.analyze(f"hf:{path}/config.json", "1,16:int64")
    assert by_dir.total.macs == by_file.total.macs > 0


def test_the_default_input_is_2048_tokens_or_the_configs_limit(tmp_path):
    cost = costlab.analyze(f"hf:{write_config(tmp_path / 'a', TINY_LLAMA)}")
    assert cost.info.input_shapes == ((1, 2048),)
    short = {**TINY_LLAMA, "max_position_embeddings": 512}
    assert costlab.analyze(f"hf:{write_config(tmp_path / 'b', short)}").info.input_shapes \
        == ((1, 512),)
    # GPT-2's n_positions (1024) through the config class's defaults
    gpt2 = costlab.analyze("hf:gpt2", model_kwargs={"n_layer": 1, "n_embd": 64, "n_head": 2})
    assert gpt2.info.input_shapes == ((1, 1024),)


def test_kwargs_override_config_fields(tmp_path):
    path = write_config(tmp_path / "tiny", TINY_LLAMA)
    two = costlab.analyze(f"hf:{path}", "1,8:int64")
    four = costlab.analyze(f"hf:{path}", "1,8:int64", model_kwargs={"num_hidden_layers": 4})
    # two more layers: q and o (64 x 64), k and v (2 of 4 heads: 64 x 32), the MLP's three
    # 64 x 128 matrices and two norms
    assert four.total.params - two.total.params == 2 * (
        2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64)
    with pytest.raises(UsageError, match="no config field 'num_hiden_layers'.*num_hidden_layers"):
        costlab.analyze(f"hf:{path}", model_kwargs={"num_hiden_layers": 4})


def test_the_hugging_face_cache_layout_is_read_offline(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    model_dir = cache / "models--someone--tiny-llama"
    write_config(model_dir / "snapshots" / "abc123", TINY_LLAMA)
    (model_dir / "refs").mkdir()
    (model_dir / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    by_id = costlab.analyze("hf:someone/tiny-llama", "1,8:int64")
    by_dir = costlab.analyze(f"hf:{model_dir}", "1,8:int64")
    assert by_id.total.macs == by_dir.total.macs > 0
    assert by_id.name == "hf:someone/tiny-llama"


def test_mixtral_reports_active_params_per_token():
    cost = costlab.analyze("hf:mixtral", "1,16:int64", model_kwargs={
        "num_hidden_layers": 2, "hidden_size": 1024, "intermediate_size": 2048})
    experts = 2 * 8 * (2 * 2048 * 1024 + 1024 * 2048)  # gate_up and down, 8 experts, 2 layers
    active = cost.total.params - experts * 6 // 8
    assert f"active params per token: {active:,} of {cost.total.params:,} (top-2 of 8 " \
           "experts)" in cost.info.notes


def test_a_hub_id_without_a_local_config_is_one_line_saying_costlab_never_downloads(
        tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    result = CliRunner().invoke(app, ["analyze", "hf:meta-llama/Llama-2-7b-hf"])
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: hf:meta-llama/Llama-2-7b-hf")
    assert "never downloads" in lines[0]
    assert "hf download meta-llama/Llama-2-7b-hf config.json --local-dir DIR" in lines[0]


@pytest.mark.parametrize("spec,message", [
    ("hf:lama", "no model type 'lama' (did you mean llama"),
    ("hf:missing/config.json", "no such file"),
    ("hf:", "hf: needs a config"),
])
def test_bad_hf_specifiers_are_one_line_errors(spec, message):
    result = CliRunner().invoke(app, ["analyze", spec])
    assert result.exit_code != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_transformers_the_error_is_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if absent
    with pytest.raises(UsageError, match=r"pip install 'costlab\[hf\]'"):
        costlab.analyze("hf:llama")
