"""Rounds: the rotation, the round request and its worker process."""

import json

import pytest
import torch

from costlab.bench.protocol import BenchRequest, RoundRequest
from costlab.bench.worker import serve
from costlab.bench.rounds import rotation, schedule
from costlab.bench.runner import BenchReport, LatencyComparison, bench_models
from costlab.bench.stats import RatioEstimate
from costlab.bench.timing import TimingPolicy
from costlab.core.errors import UsageError

TINY = TimingPolicy(warmup_iters=1, warmup_s=0, min_iters=5, min_s=0, max_s=30)
A, B = "block:conv3x3", "block:conv5x5"
SMALL = {"input_shape": "1,8,12,12"}


def test_the_order_rotates_by_one_a_round():
    assert rotation(3, 0) == [0, 1, 2] and rotation(3, 1) == [1, 2, 0]
    assert rotation(3, 2) == [2, 0, 1] and rotation(3, 4) == [1, 2, 0]
    assert schedule(2, 3) == [[0, 1], [1, 0], [0, 1]]
    assert schedule(1, 2) == [[0], [0]]
    with pytest.raises(ValueError):
        rotation(0, 0)


def _round_request(**changes) -> RoundRequest:
    settings = BenchRequest.for_bench(A, SMALL, policy=TINY, memory=False)
    return RoundRequest(**{"models": [B, A], "bench": settings, "device": "cpu", **changes})


def test_a_round_request_round_trips_and_is_checked():
    request = _round_request()
    data = json.loads(request.to_json())
    assert data["kind"] == "bench_round_request" and data["models"] == [B, A]
    assert data["bench"]["kind"] == "bench_request"
    assert RoundRequest.from_dict(data) == request
    for broken, message in [
        ({**data, "models": []}, "models must be a list of model names"),
        ({**data, "device": "tpu"}, 'device must be one of cpu, cuda, got "tpu"'),
        ({k: v for k, v in data.items() if k != "device"}, "missing device"),
        ({**data, "extra": 1}, "unknown extra"),
        ({**data, "schema_version": 99}, "reads bench requests of schema"),
    ]:
        with pytest.raises(UsageError, match=message):
            RoundRequest.from_dict(broken)


def test_serve_times_a_round_in_the_requests_order():
    reply = json.loads(serve(_round_request().to_json()))
    assert reply["kind"] == "bench_round_report"
    reports = [BenchReport.from_dict(r) for r in reply["reports"]]
    assert [r.model for r in reports] == [B, A]
    assert all(r.rounds == 1 and r.round_sizes == [5] and r.peak_memory is None
               for r in reports)


def test_rounds_in_worker_processes():
    c = bench_models([A, B], SMALL, policy=TINY, memory=False, rounds=2)
    assert c.rounds == 2 and c.order == [A, B] * 5 + [B, A] * 5
    for r in c.reports:
        assert r.rounds == 2 and r.rounds_in_workers and r.round_sizes == [5, 5]
        assert r.iterations == 10 == len(r.samples_ms) == r.stats.n
        assert len(r.round_medians_ms) == 2 and r.round_cv >= 0
        assert r.round_samples_ns()[1] == [round(ms * 1e6) for ms in r.samples_ms[5:]]
    ratio = c.ratios[1]
    assert ratio.rounds == 2 and len(ratio.round_ratios) == 2
    assert ratio.ci_low <= ratio.ratio <= ratio.ci_high
    data = json.loads(json.dumps(c.to_dict()))
    assert data["rounds"] == 2 and LatencyComparison.from_dict(data).to_dict() == data
    assert BenchReport.from_dict(data["reports"][0]).to_dict() == data["reports"][0]


def test_a_workers_error_is_the_same_one_line_error():
    with pytest.raises(UsageError, match="^unknown model 'nosuch'"):
        bench_models(["nosuch", A], SMALL, policy=TINY, memory=False, rounds=2)
    with pytest.raises(UsageError, match="rounds must be an integer >= 1, got 0"):
        bench_models([A], SMALL, policy=TINY, rounds=0)


def test_modules_are_timed_in_rounds_in_this_process():
    modules = [torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 5, padding=2)]
    c = bench_models(modules, {"input_shape": "1,8,12,12"}, policy=TINY, memory=False,
                     rounds=3)
    first, second = (r.model for r in c.reports)
    assert c.order == [first, second] * 5 + [second, first] * 5 + [first, second] * 5
    assert all(not r.rounds_in_workers and r.round_sizes == [5, 5, 5] for r in c.reports)
    assert "3 rounds in this process" in c.reports[0].notes[-1]


def test_summary_lines_say_how_the_interval_was_formed():
    c = bench_models([A, B], SMALL, policy=TINY, memory=False, drift=0)
    verdicts = {"faster": f"faster than {A}", "slower": f"slower than {A}",
                "indistinguishable": f"no clear difference from {A}"}
    assert c.summary_lines()[0].endswith(
        "1 round: the interval covers the noise within this run only): "
        + verdicts[c.ratios[1].verdict])
    r = c.ratios[1]
    c.ratios[1] = RatioEstimate(r.ratio, 0.5, 1.5, "indistinguishable", drift=0.035,
                                rounds_ci_low=0.7, rounds_ci_high=1.2)
    assert c.summary_lines()[0].endswith(
        f"(95% CI 0.50-1.50, 1 round, plus 3.5% between-run drift (the rounds alone: "
        f"0.70-1.20)): no clear difference from {A}")
    for report in c.reports:
        report.rounds, report.rounds_in_workers = 5, True
    c.ratios[1] = RatioEstimate(1.05, 0.9, 1.2, "indistinguishable", rounds=5,
                                round_ratios=(0.92, 1.0, 1.05, 1.1, 1.18), round_cv=0.09)
    assert c.summary_lines() == [
        f"{B}: 1.05x the latency of {A} (95% CI 0.90-1.20, 5 rounds, each a fresh process; "
        f"round ratios 0.92-1.18): no clear difference from {A}"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_rounds_without_cuda_are_a_usage_error():
    with pytest.raises(UsageError, match="no CUDA device"):
        bench_models([A], SMALL, device="cuda", policy=TINY, rounds=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_rounds_in_workers():
    c = bench_models([A, B], SMALL, device="cuda", policy=TINY, rounds=2)
    assert all(r.rounds_in_workers and r.round_sizes == [5, 5] for r in c.reports)
    assert c.reports[0].peak_memory.method == "torch.cuda.max_memory_allocated"


def test_workers_run_this_checkout(monkeypatch):
    import os
    from pathlib import Path

    import costlab
    from costlab.bench.rounds import worker_command, worker_environment

    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    path = worker_environment()["PYTHONPATH"].split(os.pathsep)
    assert path == [str(Path(costlab.__file__).resolve().parent.parent), "/elsewhere"]
    assert worker_command()[1:] == ["-m", "costlab", "serve-bench"]


def test_options_that_cannot_travel_keep_the_rounds_here():
    from costlab.bench.runner import _worker_settings

    assert _worker_settings([A, B], SMALL, policy=TINY) is not None
    assert _worker_settings([A, torch.nn.ReLU()], SMALL, policy=TINY) is None
    assert _worker_settings([A], {**SMALL, "model_kwargs": {"act": torch.nn.ReLU}},
                            policy=TINY) is None
    assert _worker_settings([A], {**SMALL, "width": [1, 2]}, policy=TINY) is None
    assert _worker_settings([A], SMALL, "mps", policy=TINY) is None
