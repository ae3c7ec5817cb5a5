"""costlab estimate, costlab calibrate and --plot through the CLI."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from tests.cli_helpers import fails, ok

def test_estimate_table_says_it_is_an_estimate():
    out = ok("estimate", "mobilenet_v2", "--hardware", "raspberry_pi_4", "--top", "3")
    assert "roofline estimate on raspberry_pi_4 (float32), not a measurement" in out
    assert "top 3 of 151 ops by estimated time" in out
    assert "Roofline estimate, not a measurement" in out
    assert "derived: 4 cores x 1.5 GHz" in out  # the profile's source


def test_estimate_csv_and_json_agree():
    frame = pd.read_csv(io.StringIO(ok("estimate", "mobilenet_v1", "-H", "nvidia_a100",
                                       "--dtype", "tf32", "--top", "0", "-f", "csv")))
    assert len(frame) == 83 and list(frame["index"]) == sorted(frame["index"])  # all, in order
    payload = json.loads(ok("estimate", "mobilenet_v1", "-H", "nvidia_a100", "--dtype", "tf32",
                            "--top", "0", "-f", "json"))
    assert payload["kind"] == "roofline_estimate" and payload["estimate"] is True
    assert payload["profile"]["peak_gflops"] == 156_000.0
    assert payload["bytes_dtype"] == "float32"  # TF32 multiplies float32 tensors
    assert payload["totals"]["time_ms"] == pytest.approx(frame["time_us"].sum() / 1e3)
    assert payload["totals"]["flops"] == 1_162_745_320
    # on an A100 every op of MobileNet V1 at batch 1 is shorter than the 8 us launch
    (only,) = payload["by_bound"]
    assert (only["bound"], only["ops"], only["share_time"]) == ("overhead", 83, 1.0)
    busy_us = sum(max(row["compute_us"], row["memory_us"]) for row in payload["layers"])
    assert only["time_ms"] == pytest.approx(83 * 0.008 + busy_us / 1e3)
    assert payload["totals"]["overhead_ms"] == pytest.approx(83 * 0.008)

def test_estimate_md_file(tmp_path):
    path = tmp_path / "est.md"
    ok("estimate", "shufflenet_v2", "-H", "apple_m1_pcore", "-o", str(path))
    text = path.read_text()
    assert text.startswith("# shufflenet_v2: roofline estimate on apple_m1_pcore (float32)")
    assert "_Roofline estimate, not a measurement" in text


@pytest.mark.parametrize("args, message, code", [
    (["-H", "pi9"], "unknown hardware profile 'pi9'; known: apple_m1_pcore", 2),
    (["-H", "raspberry_pi_4", "--dtype", "float16"],
     "profile 'raspberry_pi_4' has no peak for 'float16'", 2),
    (["-H", "nvidia_h100", "--dtype", "fp8"], "unknown dtype 'fp8'", 2),
    (["-H", "nvidia_h100", "--top", "-1"], "--top must be >= 0", 2),
    (["-H", "nvidia_h100", "--plot", "roof.gif"], "must end in .png, .svg, .pdf", 2),
])
def test_estimate_bad_input(args, message, code):
    assert message in fails("estimate", "mobilenet_v2", *args, code=code)


def test_calibrate_quick_round_trips_into_estimate(tmp_path):
    path = tmp_path / "here.json"
    out = ok("calibrate", "--quick", "-o", str(path), "--name", "this_box")
    assert f"costlab estimate MODEL --hardware {path}" in out
    profile = json.loads(path.read_text())
    assert profile["name"] == "this_box" and profile["kind"] == "cpu"
    assert set(profile["peak_gflops"]) == {"float32"}
    assert profile["peak_gflops"]["float32"] > 0 and profile["bandwidth_gbs"] > 0
    assert profile["overhead_s"] > 0
    assert profile["measured"]["matmul_n"] == 1024 and profile["measured"]["quick"] is True
    assert profile["measured"]["copy_bytes"] == 64 * 2**20
    assert "measured by costlab calibrate (quick)" in profile["source"]
    payload = json.loads(ok("estimate", "mobilenet_v2", "--hardware", str(path), "-f", "json"))
    assert payload["profile"]["name"] == "this_box"
    assert payload["profile"]["bandwidth_gbs"] == profile["bandwidth_gbs"]


def test_calibrate_without_output_prints_json():
    profile = json.loads(ok("calibrate", "--quick"))
    assert profile["name"] == "calibrated" and profile["measured"]["matmul_n"] == 1024
    assert profile["measured"]["samples"]["matmul"] >= 5  # the quick policy's minimum


def test_calibrate_output_must_be_json_and_bad_plot_paths_fail_early(tmp_path):
    assert "name it FILE.json" in fails("calibrate", "--quick", "-o", str(tmp_path / "p.md"),
                                        code=2)
    assert "empty path" in fails("analyze", "mobilenet_v1", "--plot", "", code=2)
    assert list(tmp_path.iterdir()) == []


def test_plot_options_write_images(tmp_path):
    pytest.importorskip("matplotlib")
    for args, name in ((["analyze", "mobilenet_v1", "--no-layers"], "a.png"),
                       (["compare", "mobilenet_v1", "shufflenet_v2"], "c.png"),
                       (["sweep", "mobilenet_v1", "-w", "1,0.5"], "s.svg"),
                       (["estimate", "mobilenet_v1", "-H", "raspberry_pi_5"], "e.png")):
        path = tmp_path / name
        ok(*args, "--plot", str(path))
        assert path.stat().st_size > 10_000, name


def test_plot_to_missing_directory_fails_before_work(tmp_path):
    message = fails("compare", "mobilenet_v1", "--plot", str(tmp_path / "no" / "c.png"), code=2)
    assert "does not exist" in message
