"""`--mode train` on the command line: the step's phases, memory and per-module split in
every format, and the options that do not go with it as one-line errors."""

from __future__ import annotations

import csv
import io
import json

from tests.cli_helpers import fails, ok


def test_analyze_train_json_has_phases_memory_and_settings():
    data = json.loads(ok("analyze", "resnet18", "--mode", "train", "--optimizer", "adam",
                         "-b", "8", "-f", "json", "--no-layers"))
    totals = data["totals"]
    assert totals["mode"] == "train"
    phases = {p["phase"]: p for p in totals["phases"]}
    assert phases["forward"]["macs"] == 14_512_586_752
    assert phases["backward"]["macs"] == 28_081_061_888
    assert phases["optimizer"]["flops"] == 13 * 11_689_512
    assert totals["macs"] == sum(p["macs"] for p in phases.values())
    assert round(totals["backward_forward_macs"], 4) == 1.9349
    assert totals["training"]["optimizer"] == "adam"
    assert totals["training_memory"]["weights_bytes"] == 46_758_048
    assert totals["training_memory"]["optimizer_state_bytes"] == 93_516_344
    modules = {m["module"]: m for m in data["modules"]}
    assert modules["layer1"]["backward_macs"] == 2 * modules["layer1"]["forward_macs"]


def test_analyze_train_csv_rows_carry_their_phase():
    rows = list(csv.DictReader(io.StringIO(ok("analyze", "mobilenet_v1", "--mode", "train",
                                               "-f", "csv"))))
    layers = [r for r in rows if r["row"] == "layer"]
    assert {r["phase"] for r in layers} == {"forward", "backward", "optimizer"}
    assert [r["op"] for r in layers if r["phase"] == "optimizer"][:1] == ["sgd_step"]
    modules = [r for r in rows if r["row"] == "module"]
    assert "backward_macs" in modules[0]


def test_analyze_train_table_and_markdown_show_the_step():
    table = ok("analyze", "mobilenet_v2", "--mode", "train")
    assert "training step by phase (backward/forward MACs 1.964)" in table
    assert "training memory (sgd, fp32; peak in the backward)" in table
    assert "bwd MACs" in table
    markdown = ok("analyze", "mobilenet_v2", "--mode", "train", "-f", "md")
    assert "## Training step" in markdown and "Training step: the forward in train mode" \
        in markdown


def test_compare_train_adds_the_ratio_and_the_step_peak():
    rows = list(csv.DictReader(io.StringIO(ok("compare", "mobilenet_v2", "shufflenet_v2",
                                               "--mode", "train", "-f", "csv"))))
    assert [round(float(r["backward_forward_macs"]), 3) for r in rows] == [1.964, 1.944]
    # the published MACs are an inference forward's: compared with the step's forward
    assert abs(float(rows[0]["macs_vs_published_pct"])) < 1


def test_training_options_that_do_not_fit_are_one_line_errors():
    assert fails("analyze", "resnet18", "--optimizer", "adam", code=2) == \
        "error: --optimizer and --precision are for --mode train"
    assert "takes --precision" in fails("analyze", "resnet18", "--mode", "train", "--dtype",
                                        "float16", code=2)
    assert fails("analyze", "resnet18", "--mode", "trian", code=2) == \
        "error: unknown mode 'trian'; choose from inference, train"
    assert "unknown optimizer 'lion'" in fails("analyze", "resnet18", "--mode", "train",
                                                "--optimizer", "lion", code=2)
    assert "drop --mode train" in fails("compare", "resnet18", "mobilenet_v2", "--mode",
                                        "train", "--latency", code=2)
    assert "drop --mode train" in fails("analyze", "resnet18", "--mode", "train", "--check",
                                        "fvcore", code=2)
