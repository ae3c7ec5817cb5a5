"""Every command and format through typer's CliRunner, and bad input end to end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.cli_helpers import fails, invoke, ok

# ------------------------------------------------------------------------- list

def test_list_table_and_csv():
    out = ok("list")
    assert "mobilenet_v1" in out and "width=1.0" in out and "1x3x224x224" in out
    frame = pd.read_csv(io.StringIO(ok("list", "--format", "csv")))
    assert {"mobilenet_v1", "mobilenet_v2"} <= set(frame["model"])


# ---------------------------------------------------------------------- analyze

def test_analyze_table_has_modules_layers_footer():
    out = ok("analyze", "mobilenet_v2", "--layers")
    assert "features.2" in out and "InvertedResidual" in out  # module rows
    assert "depthwise conv" in out and "3x3" in out  # layer rows with kernel
    assert "MACs 300,774,272" in out and "params 3,504,872" in out  # footer totals
    assert "Uncounted ops: none" in out
    assert "multiply-accumulates of conv, linear, matmul and attention" in out  # conventions


def test_analyze_shows_the_module_tree_to_depth_2_and_per_op_rows_on_request():
    out = ok("analyze", "mobilenet_v2")
    assert "modules to depth 2" in out and "features.2" in out
    assert "layers (one row per op" not in out and "depthwise conv" not in out
    assert "layers (one row per op" in ok("analyze", "mobilenet_v2", "--layers")
    assert "## Layers" not in ok("analyze", "mobilenet_v2", "-f", "md")
    assert "## Layers" in ok("analyze", "mobilenet_v2", "-f", "md", "--layers")


def test_long_input_lists_are_abbreviated_on_screen_only():
    from costlab.report.export import abbreviated_shapes

    shapes = " ".join(["4x8"] * 64)
    assert abbreviated_shapes(shapes) == "4x8 4x8 4x8 … (64 tensors)"
    assert abbreviated_shapes("1x3 1x3 1x3 1x3") == "1x3 1x3 1x3 1x3"


def test_analyze_csv_parses_back_to_the_same_numbers():
    frame = pd.read_csv(io.StringIO(ok("analyze", "mobilenet_v1", "-f", "csv", "-d", "2")))
    layers = frame[frame["row"] == "layer"]
    modules = frame[(frame["row"] == "module") & (frame["depth"] == 1)]
    assert layers["macs"].sum() == 568_740_352
    assert modules["macs"].sum() == 568_740_352
    assert layers["params"].sum() == 4_231_976
    first = layers.iloc[0]
    assert (first["op"], first["kernel"], first["stride"], first["output_shape"]) == (
        "convolution", "3x3", "2x2", "1x32x112x112")


def test_analyze_json_schema_and_totals():
    payload = json.loads(ok("analyze", "mobilenet_v1", "--format", "json"))
    assert payload["schema_version"] == 1 and payload["kind"] == "analysis"
    assert payload["totals"]["macs"] == 568_740_352
    assert payload["totals"]["partial"] is False
    assert sum(row["macs"] for row in payload["layers"]) == 568_740_352
    assert payload["model"]["input_shapes"] == [[1, 3, 224, 224]]
    assert payload["uncounted"] == []


def test_analyze_markdown_is_a_github_table():
    md = ok("analyze", "mobilenet_v1", "--format", "md", "--no-layers")
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| module"))
    separator = lines[header + 1]
    assert set(separator.replace("|", "").replace(":", "")) == {"-"}
    assert separator.count("|") == lines[header].count("|")
    assert "| MACs | 568,740,352 |" in md
    assert "## Layers" not in md


def test_analyze_knobs_resolution_batch_dtype():
    payload = json.loads(ok("analyze", "mobilenet_v1", "-w", "0.5", "-r", "160", "-b", "2",
                            "--dtype", "float16", "-f", "json", "--no-layers"))
    assert payload["model"]["knobs"]["width"] == 0.5
    assert payload["model"]["input_shapes"] == [[2, 3, 160, 160]]
    assert payload["model"]["dtype"] == "float16"
    full = json.loads(ok("analyze", "mobilenet_v1", "-w", "0.5", "-r", "160", "-b", "2",
                         "-f", "json", "--no-layers"))
    single = json.loads(ok("analyze", "mobilenet_v1", "-w", "0.5", "-r", "160", "-f", "json",
                           "--no-layers"))
    assert payload["totals"]["macs"] == full["totals"]["macs"] == 2 * single["totals"]["macs"]
    assert abs(single["totals"]["macs"] / 1e6 - 76) < 1  # MobileNet V1 Table 7: 0.50 @ 160
    assert payload["totals"]["memory_access_bytes"] * 2 == full["totals"]["memory_access_bytes"]


def test_analyze_device_cpu_equals_meta():
    meta = json.loads(ok("analyze", "mobilenet_v2", "-f", "json", "--no-layers"))
    cpu = json.loads(ok("analyze", "mobilenet_v2", "-f", "json", "--no-layers", "--device",
                        "cpu"))
    assert meta["totals"] == cpu["totals"]


def test_analyze_check_fvcore():
    out = ok("analyze", "mobilenet_v1", "--check", "fvcore", "-f", "json")
    payload = json.loads(out)
    rows = {r["module"]: r for r in payload["rows"]}
    total = rows["(total)"]
    assert total["costlab_macs"] == 568_740_352
    # fvcore = MACs + 2 per BatchNorm element (affine) + 1 per pooled input element
    from costlab import analyze

    cost = analyze("mobilenet_v1")
    bn_elements = sum(r.flops // 4 for r in cost.layers if r.category == "norm")
    assert total["fvcore"] == 568_740_352 + 2 * bn_elements + 1024 * 7 * 7
    assert rows["classifier"]["difference"] == 0
    assert "BatchNorm" in rows["features"]["why"]


# ---------------------------------------------------------------------- compare

def test_compare_table_with_published_and_ratios():
    out = ok("compare", "mobilenet_v1", "mobilenet_v2")
    assert "mobilenet_v2: 0.53x MACs, 0.83x params" in out
    assert "568.74" in out and "300.77" in out and "569" in out and "70.6" in out
    assert "Howard et al. 2017" in out


@pytest.mark.parametrize("fmt", ["csv", "md", "json"])
def test_compare_exports(fmt, tmp_path):
    target = tmp_path / f"cmp.{fmt}"
    ok("compare", "mobilenet_v1", "mobilenet_v2", "-o", str(target))  # format from suffix
    text = target.read_text()
    if fmt == "csv":
        frame = pd.read_csv(target)
        assert list(frame["model"]) == ["mobilenet_v1", "mobilenet_v2"]
        assert frame["macs_m"].iloc[0] == pytest.approx(568.740352)
        assert frame["published_macs_m"].tolist() == [569, 300]
        assert frame["macs_ratio"].iloc[1] == pytest.approx(300_774_272 / 568_740_352)
    elif fmt == "json":
        payload = json.loads(text)
        assert payload["schema_version"] == 1 and payload["kind"] == "comparison"
        assert payload["totals"][1]["macs"] == 300_774_272
        assert payload["models"][0]["published_top1"] == 70.6
    else:
        assert "| model " in text and "mobilenet_v2: 0.53x MACs, 0.83x params" in text


def test_compare_width_applies_to_all():
    frame = pd.read_csv(io.StringIO(ok("compare", "mobilenet_v1", "mobilenet_v2", "-w", "0.75",
                                       "-f", "csv")))
    assert list(frame["variant"]) == ["width=0.75", "width=0.75"]
    assert round(frame["macs_m"].iloc[0]) == 325
    assert frame["published_macs_m"].isna().all()  # no published row for width 0.75


def test_table_written_to_file(tmp_path):
    target = tmp_path / "table.txt"
    ok("compare", "mobilenet_v1", "mobilenet_v2", "-o", str(target))
    assert "0.53x MACs" in target.read_text()


def test_formulas_command():
    frame = pd.read_csv(io.StringIO(ok("formulas", "-f", "csv")))
    text = " ".join(frame["ops"])
    assert "convolution" in text and "addmm" in text and "view" in text


# ---------------------------------------------------------------------- bad input

def test_unknown_model_suggests_and_exits_2():
    line = fails("analyze", "mobilenetv2", code=2)
    assert "unknown model 'mobilenetv2'" in line and "mobilenet_v2" in line
    fails("compare", "mobilenet_v1", "resnet9000", code=2)


@pytest.mark.parametrize("args", [
    ["--input", "1,3,x,224"], ["--input", "1,3,0,224"], ["--input", ""], ["--resolution", "0"],
    ["--width", "0"], ["--width", "-0.5"], ["--batch", "0"], ["--dtype", "float64"],
    ["--device", "tpu"], ["--format", "xlsx"], ["--knob", "width"], ["--knob", "groups=3"],
    ["--depth", "0"], ["--check", "thop"],
])
def test_malformed_options_get_one_line(args):
    fails("analyze", "mobilenet_v1", *args, code=2)


def test_bad_resolution_type_is_rejected_without_traceback():
    result = invoke("analyze", "mobilenet_v1", "--resolution", "big")
    assert result.exit_code == 2 and "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("where", ["missing_dir/out.csv", "."])
def test_unwritable_output(where, tmp_path):
    target = tmp_path / where
    fails("compare", "mobilenet_v1", "mobilenet_v2", "-o", str(target), code=2)
    assert not (tmp_path / "missing_dir").exists()


def test_failing_forward_leaves_no_file(tmp_path):
    target = tmp_path / "out.csv"
    line = fails("analyze", "mobilenet_v1", "--input", "1,5,224,224", "-o", str(target), code=1)
    assert "features.0.conv" in line and "(1, 5, 224, 224)" in line
    assert list(tmp_path.iterdir()) == []


def test_read_only_target_is_not_clobbered(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write read-only files")
    target = tmp_path / "keep.csv"
    target.write_text("old")
    target.chmod(0o444)
    fails("analyze", "mobilenet_v1", "-o", str(target), code=2)
    assert target.read_text() == "old"


def test_help_does_not_import_torch():
    code = ("import sys\nfrom costlab.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'pandas' not in sys.modules, 'pandas imported'\nprint('clean')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "clean" in result.stdout and "compare" in result.stdout


# ------------------------------------------------------------------------ sweep

def test_sweep_grid_is_mobilenet_tables_6_and_7():
    frame = pd.read_csv(io.StringIO(ok("sweep", "mobilenet_v1", "-w", "1,0.75,0.5,0.25",
                                       "-r", "224,192,160,128", "-f", "csv")))
    assert len(frame) == 16 and list(frame.columns[:4]) == ["point", "width", "resolution",
                                                           "input"]
    assert frame["point"].tolist() == list(range(16))  # the grid's order, width first
    cell = frame[(frame["width"] == 0.5) & (frame["resolution"] == 160)].iloc[0]
    assert cell["macs"] == 76_524_800 and cell["input"] == "1x3x160x160"
    first = frame.iloc[0]
    assert first["published_macs_m"] == 569 and first["macs_vs_published_pct"] == pytest.approx(
        100 * (568.740352 - 569) / 569)
    assert frame["published_macs_m"].isna().sum() == 15
    # params depend on width only
    assert frame.groupby("width")["params"].nunique().max() == 1


def test_sweep_markdown_and_table_show_grids():
    md = ok("sweep", "mobilenet_v2", "-w", "1,0.5", "-r", "224,160", "-f", "md")
    assert "MACs (M):" in md and "params (M):" in md and "resolution=160" in md
    table = ok("sweep", "mobilenet_v2", "--knob", "width=1,0.5")
    assert "300.77" in table and "97.13" in table


@pytest.mark.parametrize("args", [[], ["-w", "1,,0.5"], ["-r", "224,abc"], ["-r", "0"],
                                  ["-k", "depth=1,2"], ["-w", "0"], ["-w", "1", "--resume"],
                                  ["-w", "1:0.5:0.1"], ["-w", "1,0.5", "--pareto", "macs"],
                                  ["-w", "1,0.5", "--pareto", "macs,nope"],
                                  ["-w", "1,0.5", "--sample", "3"],
                                  ["-w", "1", "--input", "1,3,32,32"],
                                  ["-w", "1", "-o", "r.csv", "-f", "json"]])
def test_sweep_bad_input(args):
    fails("sweep", "mobilenet_v1", *args, code=2)


def test_compare_shows_difference_from_published():
    frame = pd.read_csv(io.StringIO(ok("compare", "mobilenet_v1", "mobilenet_v2", "-f", "csv")))
    assert frame["macs_vs_published_pct"].tolist() == pytest.approx(
        [100 * (568.740352 - 569) / 569, 100 * (300.774272 - 300) / 300])
    assert frame["params_vs_published_pct"].iloc[0] == pytest.approx(
        100 * (4.231976 - 4.2) / 4.2)


def test_analyze_shows_published_numbers_with_difference():
    payload = json.loads(ok("analyze", "mobilenet_v2", "-f", "json", "--no-layers"))
    pub = payload["published"]
    assert pub["macs_m"] == 300 and pub["top1_percent"] == 72.0
    assert pub["macs_vs_published_pct"] == pytest.approx(100 * (300.774272 - 300) / 300)
    table = ok("analyze", "mobilenet_v1", "--no-layers")
    assert "MACs 569M (computed -0.0%), params 4.2M (computed +0.8%), top-1 70.6%" in table
    none = json.loads(ok("analyze", "mobilenet_v2", "-w", "0.75", "-f", "json", "--no-layers"))
    assert none["published"] is None
    md = ok("analyze", "resnet50", "--knob", "layout=v1", "-f", "md", "--no-layers")
    assert "Published (He et al. 2016" in md and "MACs 3800M (computed +1.5%)" in md


# ------------------------------------------------------------------- guidelines

@pytest.mark.parametrize("model,verdicts", [
    ("shufflenet_v2", ["pass", "pass", "pass", "pass"]),
    ("shufflenet_v1", ["fail", "fail", "pass", "fail"]),
])
def test_guidelines_json(model, verdicts):
    payload = json.loads(ok("guidelines", model, "-f", "json", "--top", "3"))
    assert payload["kind"] == "guidelines" and payload["model"] == model
    assert [r["verdict"] for r in payload["results"]] == verdicts
    assert [r["guideline"] for r in payload["results"]] == ["G1", "G2", "G3", "G4"]
    assert all(len(r["offenders"]) <= 3 for r in payload["results"])
    assert payload["thresholds"]["max_branches"] == 2


def test_guidelines_table_and_detail_csv():
    out = ok("guidelines", "mobilenet_v2", "--top", "2")
    assert "G1 offenders, worst first (top 2 of" in out and "16->96" in out
    frame = pd.read_csv(io.StringIO(ok("guidelines", "shufflenet_v1", "-f", "csv", "--detail")))
    g2 = frame[frame["guideline"] == "G2"]
    assert (g2["groups"] == 3).all() and g2["rank"].iloc[0] == 1
    summary = pd.read_csv(io.StringIO(ok("guidelines", "shufflenet_v1", "-f", "csv")))
    assert list(summary["verdict"]) == ["fail", "fail", "pass", "fail"]


def test_guidelines_bad_input():
    fails("guidelines", "nope_net", code=2)
    fails("guidelines", "mobilenet_v2", "--top", "-1", code=2)
