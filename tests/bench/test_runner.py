"""bench_models on tiny models: every field, interleaving, peak memory, JSON round trip."""

import json

import pytest
import torch

from costlab.bench.runner import BenchReport, bench, bench_models
from costlab.bench.timing import TimingPolicy
from costlab.core.errors import UsageError

TINY = TimingPolicy(warmup_iters=2, warmup_s=0, min_iters=5, min_s=0, max_s=30)
BLOCK = "block:conv3x3"
SMALL = {"input_shape": "1,8,12,12"}


def test_report_fields_and_round_trip():
    r = bench(BLOCK, SMALL, policy=TINY, memory=False)
    assert r.model == BLOCK and r.input_shapes == [[1, 8, 12, 12]] and r.device == "cpu"
    assert r.iterations == 5 == len(r.samples_ms) == r.stats.n and r.warmup_iters == 2
    assert r.batch == 1 and r.threads == torch.get_num_threads()
    assert r.throughput == pytest.approx(1e3 / r.stats.median_ms)
    assert r.measured_s == pytest.approx(sum(r.samples_ms) / 1e3)
    assert r.peak_memory is None and r.environment.torch == torch.__version__
    data = json.loads(json.dumps(r.to_dict()))
    assert BenchReport.from_dict(data).to_dict() == data
    assert len(data["samples_ms"]) == 5


def test_interleaved_order_and_ratios():
    c = bench_models([BLOCK, "block:conv5x5"], SMALL, policy=TINY, memory=False)
    assert c.order == [BLOCK, "block:conv5x5"] * 5
    assert c.ratios[0].ratio == 1.0 and c.ratios[0].verdict == "indistinguishable"
    assert len(c.summary_lines()) == 1 and c.summary_lines()[0].startswith("block:conv5x5: ")


def test_peak_memory_in_a_subprocess():
    r = bench(BLOCK, SMALL, policy=TINY, memory=True)
    assert r.peak_memory is not None and r.peak_memory.method == "peak RSS of a fresh process"
    assert r.peak_memory.peak_mb >= r.peak_memory.baseline_mb > 0


def test_dtype_channels_last_batch_and_threads():
    r = bench(BLOCK, {**SMALL, "input_shape": "2,8,12,12"}, policy=TINY, memory=False,
              dtype="bfloat16", channels_last=True, threads=1)
    assert (r.batch, r.dtype, r.channels_last, r.threads) == (2, "bfloat16", True, 1)
    assert r.throughput == pytest.approx(2e3 / r.stats.median_ms)


def test_too_many_threads_warns():
    import os

    r = bench(BLOCK, SMALL, policy=TINY, memory=False, threads=(os.cpu_count() or 1) + 1)
    assert any("threads on" in w for w in r.warnings)


def test_bad_input():
    with pytest.raises(UsageError, match="unknown benchmark dtype"):
        bench(BLOCK, SMALL, dtype="int8", policy=TINY)
    with pytest.raises(UsageError, match="unknown model"):
        bench("nosuch", policy=TINY)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_without_cuda_is_a_usage_error():
    with pytest.raises(UsageError, match="no CUDA device"):
        bench(BLOCK, SMALL, device="cuda", policy=TINY)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bench():
    r = bench(BLOCK, SMALL, device="cuda", policy=TINY)
    assert r.peak_memory.method == "torch.cuda.max_memory_allocated" and r.environment.gpu


def test_refuses_to_time_under_emulation(monkeypatch):
    from costlab.bench import emulation
    from costlab.core.errors import CostlabError

    monkeypatch.setattr(emulation, "running_under_emulation", lambda: "qemu-aarch64 runs this")
    with pytest.raises(CostlabError, match="refusing to report latency: qemu-aarch64"):
        bench_models([BLOCK], SMALL, policy=TINY, memory=False)
