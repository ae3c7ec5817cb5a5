"""The empirical guideline runner: verdict logic on made-up samples, a tiny real run, the CLI.

No timing assertions: what the run measures is not tested, only that it reports it whole.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from costlab.bench.guideline_experiments import (
    BENCHMARKS, HOLDS, INCONCLUSIVE, REVERSED, VERDICTS, comparison_verdict,
    guideline_verdict,
)
from costlab.workflows.empirical import run_empirical
from costlab.bench.stats import compare_samples
from costlab.bench.timing import TimingPolicy
from costlab.cli import app
from costlab.report.empirical import empirical_document
from costlab.report.renderers import render

TINY = TimingPolicy(warmup_iters=0, warmup_s=0.0, min_iters=3, min_s=0.0, max_s=1.0)


def samples(median_ns: float, seed: int, n: int = 200) -> list[int]:
    """Latencies around ``median_ns`` with 1% jitter."""
    rng = np.random.default_rng(seed)
    return list((median_ns * (1 + 0.01 * rng.standard_normal(n))).astype(int))


def test_a_slower_variant_confirms_the_paper_and_a_faster_one_reverses_it():
    base = samples(1e6, 0)
    assert comparison_verdict(compare_samples(base, samples(1.3e6, 1))) == HOLDS
    assert comparison_verdict(compare_samples(base, samples(0.7e6, 2))) == REVERSED


def test_overlapping_or_tiny_differences_are_inconclusive():
    base = samples(1e6, 0)
    assert comparison_verdict(compare_samples(base, samples(1e6, 3))) == INCONCLUSIVE
    # significant with 200 samples but under the 2% equivalence margin
    assert comparison_verdict(compare_samples(base, samples(1.01e6, 4))) == INCONCLUSIVE
    # a 30% difference seen through 3 samples of wide spread: the CI straddles 1
    wide = [1e6, 3e6, 0.4e6]
    assert comparison_verdict(compare_samples(wide, [1.3e6, 3.5e6, 0.5e6])) == INCONCLUSIVE


@pytest.mark.parametrize("verdicts,expected", [
    ([HOLDS, INCONCLUSIVE, HOLDS], HOLDS),
    ([REVERSED, INCONCLUSIVE], REVERSED),
    ([HOLDS, REVERSED], INCONCLUSIVE),
    ([INCONCLUSIVE, INCONCLUSIVE], INCONCLUSIVE),
])
def test_a_guidelines_verdict_from_its_variants(verdicts, expected):
    assert guideline_verdict(verdicts) == expected


@pytest.fixture(scope="module")
def tiny_run():
    return run_empirical("cpu", scale=1, policy=TINY)


def test_tiny_run_reports_every_guideline_and_variant(tiny_run):
    assert (tiny_run.device, tiny_run.platform, tiny_run.batch, tiny_run.unit) == \
        ("cpu", "arm", 1, "images/s")
    assert tiny_run.environment.threads == 1  # the paper's ARM runs were single-threaded
    assert [r.guideline for r in tiny_run.results] == ["G1", "G2", "G3", "G4"]
    for result, bench in zip(tiny_run.results, BENCHMARKS):
        assert result.verdict in VERDICTS
        assert [v.setting for v in result.variants] == [v.setting for v in bench.variants]
        base, *others = result.variants
        assert base.versus_baseline is None and base.verdict is None
        for v in result.variants:
            assert v.latency.n >= 3 and v.speed > 0 and v.count.macs > 0
            assert v.speed_ci_low <= v.speed <= v.speed_ci_high
            assert v.paper_gpu_speed and v.paper_arm_speed
        assert all(v.verdict == comparison_verdict(v.equal_work) for v in others)


def test_threads_are_restored_after_a_run():
    before = torch.get_num_threads()
    run_empirical("cpu", policy=TINY, guidelines=("G2",))
    assert torch.get_num_threads() == before


def test_tiny_run_frames_and_exports(tiny_run):
    frame = tiny_run.to_dataframe()
    assert len(frame) == 4 + 4 + 5 + 4
    assert frame.baseline.sum() == 4
    assert frame[~frame.baseline].verdict.isin(VERDICTS).all()
    assert frame[~frame.baseline].latency_ratio.notna().all()
    g1 = frame[frame.guideline == "G1"]
    assert list(g1.paper_arm_speed) == [76.2, 72.9, 69.1, 57.6]
    assert list(g1.input) == ["1x32x56x56", "1x22x56x56", "1x13x56x56", "1x9x56x56"]
    assert g1.paper_arm_ratio.iloc[3] == pytest.approx(76.2 / 57.6)
    # the verdict's ratio is at equal work: latency scaled by baseline MACs / the variant's
    others = frame[~frame.baseline]
    base_macs = frame[frame.baseline].set_index("guideline").macs_m[others.guideline].values
    assert list(others.equal_work_ratio) == pytest.approx(
        list(others.latency_ratio * base_macs / others.macs_m))

    payload = json.loads(render(empirical_document(tiny_run), "json"))
    assert payload["kind"] == "guidelines_empirical"
    assert [v["verdict"] for v in payload["verdicts"]] == \
        [r.verdict for r in tiny_run.results]
    assert payload["environment"]["threads"] == 1
    csv = render(empirical_document(tiny_run), "csv")
    assert csv.splitlines()[0].endswith(",guideline_verdict") and len(csv.splitlines()) == 18
    md = render(empirical_document(tiny_run), "md")
    assert md.count("\n## G") == 4 and "torch " in md


def test_bad_device_scale_and_platform_are_usage_errors():
    from costlab.core.errors import UsageError

    with pytest.raises(UsageError, match="unknown device"):
        run_empirical("tpu", policy=TINY)
    with pytest.raises(UsageError, match="--scale"):
        run_empirical("cpu", scale=3, policy=TINY)
    with pytest.raises(UsageError, match="platform"):
        run_empirical("cpu", platform="fpga", policy=TINY)


# --------------------------------------------------------------------------- CLI

def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_needs_a_model_or_empirical():
    result = invoke("guidelines")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: give a MODEL to audit, or --empirical to time "
                                     "the paper's micro-benchmarks")


def test_cli_empirical_takes_no_model():
    result = invoke("guidelines", "shufflenet_v2", "--empirical")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_cli_bad_scale_is_one_line():
    result = invoke("guidelines", "--empirical", "--scale", "3")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --scale must be one of 1, 2, 4, got 3"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cli_cuda_without_cuda_is_one_line(tmp_path):
    out = tmp_path / "report.md"
    result = invoke("guidelines", "--empirical", "--device", "cuda", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --device cuda: no CUDA device is available here"
    assert not out.exists()


def test_cli_empirical_writes_json(tmp_path, monkeypatch):
    # --quick, shortened further so the test runs in seconds
    monkeypatch.setattr(TimingPolicy, "quick", classmethod(lambda cls: TINY))
    out = tmp_path / "empirical.json"
    result = invoke("guidelines", "--empirical", "--quick", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    payload = json.loads(out.read_text())
    assert payload["settings"]["policy"]["min_iters"] == 3
    assert [v["guideline"] for v in payload["verdicts"]] == ["G1", "G2", "G3", "G4"]
    assert all(v["verdict"] in VERDICTS for v in payload["verdicts"])
