"""The paper reports: their count-only frames on the real models, the latency columns from a
test double, the CLI, and the checked-in reports regenerated (latency columns excluded)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.bench.runner import BenchReport, LatencyComparison
from costlab.bench.stats import compare_samples, summarize
from costlab.cli import app
from costlab.workflows.papers import reports as papers
from costlab.workflows.papers.table8 import BUDGETS
from costlab.workflows.papers.context import (CNN_FAMILIES, LATENCY_PREFIX, ReportContext, Setting,
                                          markdown)

ROOT = Path(__file__).resolve().parents[2]
REPORTS_DIR = ROOT / "reports"


@pytest.fixture(scope="module")
def context() -> ReportContext:
    return ReportContext(latency=False)  # shared: each model setting is analyzed once


@pytest.fixture(scope="module")
def built(context) -> dict[str, papers.PaperReport]:
    return {name: build(context) for name, build in papers.REPORTS.items()}


def rows_of(frame) -> list[dict]:
    return [dict(r) for r in frame.to_dict(orient="records")]


# ------------------------------------------------------------------ count-only frames

def test_count_only_frames_have_no_latency_columns(built):
    for report in built.values():
        assert not any(c.startswith(LATENCY_PREFIX) for c in report.frame.columns)
        assert not report.timed


def test_mobilenet_v1_vs_v2_counts_and_ratios(built):
    frame = built["mobilenet_v1_vs_v2"].frame
    v1, v2 = rows_of(frame)
    assert (v1["model"], v2["model"]) == ("mobilenet_v1", "mobilenet_v2")
    assert (v1["macs_m"], v2["macs_m"]) == (568.740352, 300.774272)
    assert (v1["params_m"], v2["params_m"]) == (4.231976, 3.504872)
    assert v2["macs_ratio"] == 300.774272 / 568.740352
    assert v2["peak_activation_ratio"] == 1.5
    assert (v1["published_top1"], v2["published_top1"]) == (70.6, 72.0)


def test_table8_budgets_and_their_members(built):
    frame = built["shufflenet_v2_table8"].frame
    members = {b: [(r["model"], r["variant"]) for r in rows_of(frame[frame.budget_mflops == b])]
               for b in BUDGETS}
    assert members[40] == [("shufflenet_v2", "scale=0.5"), ("mobilenet_v1", "width=0.25"),
                           ("mobilenet_v2", "width=0.15"),
                           ("shufflenet_v1", "groups=3,scale=0.5"),
                           ("mobilenet_v3_small", ""), ("mobilenet_v3_small", "width=0.75")]
    assert members[150] == [("shufflenet_v2", "scale=1"), ("mobilenet_v1", "width=0.5"),
                            ("mobilenet_v2", "width=0.6"), ("shufflenet_v1", "groups=3,scale=1"),
                            ("mobilenet_v3_large", "width=0.75")]
    assert members[300][:4] == [("shufflenet_v2", "scale=1.5"), ("mobilenet_v1", "width=0.75"),
                                ("mobilenet_v2", "width=1"),
                                ("shufflenet_v1", "groups=3,scale=1.5")]
    assert set(members[300][4:]) == {("efficientnet_b0", ""), ("mobilenet_v3_large", "")}
    assert set(members[600][4:]) == {("alexnet", ""), ("amoebanet_a_mobile", ""),
                                     ("nasnet_a_mobile", ""), ("squeezenet", "")}
    by_setting = {(r["model"], r["variant"]): r for r in rows_of(frame)}
    v2_1x = by_setting[("shufflenet_v2", "scale=1")]
    assert (v2_1x["macs_m"], v2_1x["paper_mflops"], v2_1x["top1_error"]) == \
        (144.907992, 146.0, 30.6)
    assert v2_1x["paper_label"] == "ShuffleNet v2 1x"
    # no Table 8 row: 100 - the published top-1, and the source says where it is from
    v3 = by_setting[("mobilenet_v3_large", "")]
    assert v3["top1_error"] == pytest.approx(100 - 75.2)
    assert v3["error_source"].startswith("Howard et al. 2019")


def test_mobilenet_v1_grid_is_the_full_grid_with_the_papers_cells(built):
    frame = built["mobilenet_v1_grid"].frame
    assert len(frame) == 16
    cell = rows_of(frame[(frame.width == 1.0) & (frame.resolution == 192)])[0]
    assert (cell["macs_m"], cell["paper_macs_m"], cell["paper_top1"]) == (418.121728, 418.0, 69.1)
    assert cell["paper_tables"] == "7"
    assert rows_of(frame[(frame.width == 1.0) & (frame.resolution == 224)])[0][
        "paper_tables"] == "6 and 7"
    small = frame[frame.width == 0.25]
    assert set(small.params_m) == {0.470072}  # resolution does not change params
    assert small.paper_macs_m.notna().sum() == 1  # only 0.25 MobileNet-224 is printed


def test_mobilenet_v2_memory_rows(built):
    frame = built["mobilenet_v2_memory"].frame
    row = {(r["network"], r["resolution"]): r for r in rows_of(frame)}
    v2 = row[("MobileNet V2", "1x1")]
    assert (v2["max_channels"], v2["largest_tensor_kb"], v2["live_kb"]) == (1280, 2.56, 4.56)
    assert (v2["paper_channels"], v2["paper_kb"]) == (1280, 2.0)
    v1 = row[("MobileNet V1", "112x112")]
    assert (v1["max_channels"], v1["largest_tensor_kb"], v1["paper_kb"]) == (64, 1605.632, 1600.0)
    # the paper's ShuffleNet column is ShuffleNet 2x with g=2, not g=3
    for resolution, channels in (("28x28", 400), ("14x14", 800), ("7x7", 1600)):
        assert row[("ShuffleNet (2x, g=2)", resolution)]["max_channels"] == channels
        assert row[("ShuffleNet (2x, g=3)", resolution)]["max_channels"] == channels * 6 // 5
    assert row[("MobileNet V2", "max")]["paper_kb"] == 400.0


def test_inception_v3_factorization_savings(built):
    frame = built["inception_v3_factorization"].frame
    row = {r["factorized"]: r for r in rows_of(frame)}
    twice = row["block:conv3x3_twice"]
    assert (twice["baseline_macs"], twice["factorized_macs"]) == (125_440_000, 90_316_800)
    assert twice["macs_saved_pct"] == pytest.approx(28.0)
    assert twice["paper_claimed_saving_pct"] == 28.0
    assert row["block:conv1x3_conv3x1"]["macs_saved_pct"] == pytest.approx(100 / 3)
    assert row["block:conv1xn_convnx1"]["macs_saved_pct"] == pytest.approx(100 * (1 - 2 / 7))
    assert math.isnan(row["block:inception_reduced"]["paper_claimed_saving_pct"])  # no figure


def test_guidelines_zoo_covers_every_cnn_with_the_papers_reading(built):
    from costlab.models import registry

    frame = built["guidelines_zoo"].frame
    cnns = {n for n in registry().names() if registry().get(n).family in CNN_FAMILIES}
    assert set(frame.model) == cnns and len(frame) == len(cnns)
    verdicts = {r["model"]: (r["g1_verdict"], r["g2_verdict"], r["g3_verdict"],
                             r["g4_verdict"]) for r in rows_of(frame)}
    assert verdicts["shufflenet_v2"] == ("pass", "pass", "pass", "pass")
    assert verdicts["shufflenet_v1"][:2] == ("fail", "fail")
    assert verdicts["nasnet_a_mobile"][2] == "fail"
    assert (verdicts["mobilenet_v2"][0], verdicts["mobilenet_v2"][3]) == ("fail", "fail")


def test_markdown_header_names_machine_versions_date_and_conventions(built, context):
    text = markdown(built["guidelines_zoo"], context)
    assert text.startswith("# ShuffleNet V2's guidelines G1-G4 across the zoo\n")
    for expected in ("Generated ", " UTC by `costlab report", "torch ", "Machine: CPU:",
                     "Latency: not measured (--no-latency).", "_MACs: multiply-accumulates"):
        assert expected in text


# ------------------------------------------------------------------ latency columns

def fake_comparison(medians_ms: list[float]) -> LatencyComparison:
    from costlab.bench.environment import capture

    env = capture("cpu")
    samples = [[int(m * 1e6) + (i % 5) * 1000 for i in range(60)] for m in medians_ms]
    reports = [BenchReport(model=f"m{i}", variant="", input_shapes=[[1, 3, 224, 224]],
                           device="cpu", batch=1, dtype="float32", channels_last=False,
                           threads=1, stats=summarize(s), samples_ms=[], first_call_ms=0.0,
                           warmup_iters=10, iterations=60, measured_s=1.0, throughput=1.0,
                           peak_memory=None, environment=env)
               for i, s in enumerate(samples)]
    ratios = [compare_samples(samples[0], s) for s in samples]
    return LatencyComparison(reports, ratios, [])


class TimedContext(ReportContext):
    """Latency from made-up samples: the second setting of each group twice as slow."""

    def time(self, settings):
        self.timed_groups = getattr(self, "timed_groups", []) + [list(settings)]
        return fake_comparison([10.0] + [20.0] * (len(settings) - 1))


def test_latency_columns_ratio_and_verdict_come_from_the_comparison():
    context = TimedContext(latency=True)
    report = papers.mobilenet_v1_vs_v2(context)
    assert report.timed
    assert context.timed_groups == [[Setting.of("mobilenet_v1"), Setting.of("mobilenet_v2")]]
    v1, v2 = rows_of(report.frame)
    assert (v1["latency_verdict"], v2["latency_verdict"]) == ("baseline", "slower")
    assert v2["latency_ratio"] == pytest.approx(2.0, rel=1e-3)
    assert v1["latency_median_ms"] == pytest.approx(10.002)
    text = markdown(report, context)
    assert "mobilenet_v2 takes 2.00x the latency of mobilenet_v1" in text
    assert "Latency: measured on this CPU with the default policy" in text


# ------------------------------------------------------------------------------ CLI

def test_cli_writes_markdown_and_csv(tmp_path):
    result = CliRunner().invoke(app, ["report", "inception_v3_factorization", "--no-latency",
                                      "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "inception_v3_factorization.md").read_text()
    assert "by `costlab report inception_v3_factorization --no-latency`" in text
    frame = papers.inception_v3_factorization(ReportContext(latency=False)).frame
    assert (tmp_path / "inception_v3_factorization.csv").read_text() == frame.to_csv(index=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "inception_v3_factorization.csv", "inception_v3_factorization.md"]


@pytest.mark.parametrize("args,message", [
    (["report", "table9"], "unknown report 'table9'"),
    (["report"], "name the reports to make, or give --all"),
    (["report", "--all", "guidelines_zoo"], "name the reports to make, or give --all"),
    (["report", "--all", "--out-dir", "/etc/hostname"], "/etc/hostname: it is not a directory"),
    (["report", "--all", "--out-dir", "/proc/costlab"], "cannot write into /proc/costlab"),
    (["report", "guidelines_zoo", "--threads", "0"], "--threads must be >= 1"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr


def test_missing_out_dir_is_created(tmp_path):
    out = tmp_path / "new" / "reports"
    result = CliRunner().invoke(app, ["report", "inception_v3_factorization", "--no-latency",
                                      "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "inception_v3_factorization.csv", "inception_v3_factorization.md"]


# ---------------------------------------------------------------------- staleness

def csv_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of a CSV with the latency columns left out (they vary per run)."""
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, c in enumerate(rows[0]) if not c.startswith(LATENCY_PREFIX)]
    return [rows[0][i] for i in keep], [[r[i] for i in keep] for r in rows[1:]]


@pytest.mark.parametrize("name", list(papers.REPORTS))
def test_checked_in_paper_reports_are_not_stale(name, built):
    checked_in = REPORTS_DIR / f"{name}.csv"
    assert checked_in.exists() and (REPORTS_DIR / f"{name}.md").exists(), \
        f"reports/{name}.* missing: run costlab report --all"
    fresh = built[name].frame.to_csv(index=False)
    assert csv_rows(checked_in.read_text()) == csv_rows(fresh), \
        f"reports/{name}.csv is stale: run costlab report {name} (or bash reports/regenerate.sh)"


def test_regenerate_script_makes_the_paper_reports():
    script = (REPORTS_DIR / "regenerate.sh").read_text()
    assert "costlab report --all" in script
