"""`costlab bench` and `compare --latency` through the CLI: formats, errors."""

import json

import pandas as pd

from tests.cli_helpers import fails, ok

TINY = ["--warmup", "1", "--warmup-time", "0", "--iters", "5", "--min-time", "0",
        "--no-memory", "-i", "1,8,12,12", "--rounds", "1"]


def test_bench_table_names_everything(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # every header on one line
    out = ok("bench", "block:conv3x3", *TINY)
    for word in ("median ms", "95% CI", "p99", "IQR/med", "samples/s", "first call",
                 "CPU:", "torch threads", "Latency: wall time", "rounds", "round CV",
                 "they cover the noise within this run only"):
        assert word in out, word


def test_bench_json_has_every_sample_and_csv_one_row(tmp_path):
    data = json.loads(ok("bench", "block:conv3x3", *TINY, "-f", "json"))
    report = data["reports"][0]
    assert data["kind"] == "bench" and len(report["samples_ms"]) == report["iterations"] == 5
    assert set(report["stats"]) >= {"median_ms", "ci_low_ms", "ci_high_ms", "p90_ms", "p99_ms"}
    out = tmp_path / "b.csv"
    ok("bench", "block:conv3x3", *TINY, "-o", str(out))
    frame = pd.read_csv(out)
    assert list(frame["model"]) == ["block:conv3x3"] and frame["iterations"][0] == 5


def test_drift_errors_are_usage_errors():
    pair = ("compare", "block:conv3x3", "block:conv5x5")
    assert fails(*pair, "--drift", "0.1", code=2) == \
        "error: --drift widens measured latency ratios: add --latency"
    for bad in ("nan", "-0.5", "1"):
        assert fails(*pair, "--latency", "--drift", bad, code=2).startswith(
            "error: drift must be a relative standard deviation >= 0 and < 1")


def test_bench_errors_are_one_line():
    assert "unknown model" in fails("bench", "nosuch", *TINY)
    assert "--threads" in fails("bench", "block:conv3x3", *TINY, "--threads", "0")
    assert "dtype" in fails("bench", "block:conv3x3", *TINY, "--dtype", "int8")
    assert "iterations" in fails("bench", "block:conv3x3", *TINY, "--iters", "0")
    assert "--rounds must be an integer >= 1, got 0" in fails("bench", "block:conv3x3", *TINY,
                                                              "--rounds", "0")


def test_compare_latency_adds_ratio_and_verdict():
    data = json.loads(ok("compare", "block:conv3x3", "block:conv3x3", "--latency",
                         "--min-time", "0", "-i", "1,8,12,12", "-f", "json", "--quick"))
    rows = data["models"]
    assert rows[0]["latency_verdict"] == "baseline"
    # a model against itself: the between-run drift keeps any noise from making a verdict
    assert rows[1]["latency_verdict"] == "indistinguishable"
    assert data["latency_order"][:2] == ["block:conv3x3", "block:conv3x3"]
    assert any("the latency of block:conv3x3" in s for s in data["summary"])


def test_compare_latency_in_rounds_reports_them():
    data = json.loads(ok("compare", "block:conv3x3", "block:conv5x5", "--latency", "--quick",
                         "--min-time", "0", "-i", "1,8,12,12", "--rounds", "2", "-f", "json"))
    rows = data["models"]
    assert [r["latency_rounds"] for r in rows] == [2, 2]
    assert rows[0]["latency_ratio_round_cv"] == 0.0 and rows[1]["latency_round_cv"] >= 0
    assert [r["rounds"] for r in data["latency"]] == [2, 2]
    assert all(len(r["round_medians_ms"]) == 2 and r["rounds_in_workers"]
               for r in data["latency"])
    n = data["latency"][0]["round_sizes"][0]
    assert data["latency_order"] == ["block:conv3x3", "block:conv5x5"] * n + \
        ["block:conv5x5", "block:conv3x3"] * data["latency"][0]["round_sizes"][1]
    assert any("2 rounds, each a fresh process, plus 3.5% between-run drift (the rounds "
               "alone: " in s and "; round ratios" in s for s in data["summary"])
    assert rows[1]["latency_drift"] == 0.035 and rows[0]["latency_drift"] == 0.0
    assert rows[1]["latency_ratio_ci_low"] < rows[1]["latency_ratio_rounds_ci_low"]
    table = ok("compare", "block:conv3x3", "block:conv5x5", "--latency", "--quick",
               "--min-time", "0", "-i", "1,8,12,12", "--rounds", "2")
    for word in ("round ratios", "hierarchical bootstrap over 2 rounds", "round medians"):
        assert word in table, word


def test_quick_is_one_round_and_says_so():
    data = json.loads(ok("compare", "block:conv3x3", "block:conv5x5", "--latency", "--quick",
                         "--min-time", "0", "-i", "1,8,12,12", "-f", "json"))
    assert data["models"][1]["latency_rounds"] == 1
    assert any("1 round, plus 3.5% between-run drift" in s for s in data["summary"])
    alone = json.loads(ok("compare", "block:conv3x3", "block:conv5x5", "--latency", "--quick",
                          "--min-time", "0", "-i", "1,8,12,12", "-f", "json", "--drift", "0"))
    assert any("1 round: the interval covers the noise within this run only" in s
               for s in alone["summary"])
    row = alone["models"][1]
    assert row["latency_drift"] == 0.0
    assert (row["latency_ratio_ci_low"], row["latency_ratio_ci_high"]) == \
        (row["latency_ratio_rounds_ci_low"], row["latency_ratio_rounds_ci_high"])


def test_guidelines_latency_adds_measured_g4_share():
    data = json.loads(ok("guidelines", "block:depthwise_separable", "--latency", "--quick",
                         "--threads", "1", "-f", "json"))
    g4 = [g for g in data["results"] if g["guideline"] == "G4"][0]
    shares = g4["metrics"]
    assert 0 < shares["share_time"] <= 1
    assert shares["share_time"] == shares["share_time_elementwise"] + shares["share_time_depthwise"]
    assert "measured (cpu, 1 thread" in g4["explanation"]
