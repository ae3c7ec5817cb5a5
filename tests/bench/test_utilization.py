"""MFU and bandwidth use: a static count over a measured median, against a profile's peaks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from costlab.bench.utilization import recognised_profile, utilization
from costlab.core.errors import UsageError


def report(median_ms=2.0, dtype="float16", device="cuda", gpu=None):
    return SimpleNamespace(model="m", dtype=dtype, device=device,
                           stats=SimpleNamespace(median_ms=median_ms),
                           environment=SimpleNamespace(gpu=gpu))


def test_achieved_rates_and_their_share_of_the_a100s_peaks():
    used = utilization(report(), flops=312_000_000_000, memory_access_bytes=2_039_000_000,
                       hardware="nvidia_a100")
    assert used.achieved_flops == pytest.approx(156e12)  # 312 GFLOP in 2 ms
    assert used.achieved_bytes == pytest.approx(1.0195e12)
    assert used.mfu == pytest.approx(0.5)  # of 312 TFLOP/s fp16
    assert used.mbu == pytest.approx(0.5)  # of 2,039 GB/s
    assert "MFU 50.0% of peak compute, MBU 50.0% of peak bandwidth" in used.line()


def test_without_a_profile_only_the_achieved_rates():
    used = utilization(report(device="cpu"), flops=10, memory_access_bytes=10)
    assert used.mfu is None and used.mbu is None and used.profile is None
    assert "MFU" not in used.line()


def test_a_recognised_gpu_brings_its_profile():
    assert recognised_profile("NVIDIA H100 80GB HBM3") == "nvidia_h100"
    assert recognised_profile("NVIDIA GeForce RTX 4090") is None
    used = utilization(report(gpu="NVIDIA A100-SXM4-80GB", dtype="bfloat16"), flops=1,
                       memory_access_bytes=1)
    assert used.profile == "nvidia_a100" and used.peak_flops == 312e12


def test_a_profile_without_the_runs_dtype_is_a_usage_error():
    with pytest.raises(UsageError, match="no peak for 'bfloat16'"):
        utilization(report(dtype="bfloat16"), flops=1, memory_access_bytes=1,
                    hardware="raspberry_pi_4")


def test_bench_document_shows_them():
    from costlab.report.latency import bench_document
    from costlab.workflows.utilization import bench_utilization
    import costlab

    from costlab.bench.runner import bench
    from costlab.bench.timing import TimingPolicy

    measured = bench("sasrec", {}, policy=TimingPolicy.quick(), memory=False, rounds=1)
    used = bench_utilization("sasrec", {}, measured, "desktop_zen4_core")
    static = costlab.analyze("sasrec", dtype="float32")
    assert used.flops == static.total.flops
    assert used.memory_access_bytes == static.total.memory_access_bytes
    assert used.achieved_flops == pytest.approx(static.total.flops
                                                / (measured.stats.median_ms / 1e3))
    document = bench_document([measured], [used])
    assert document.payload["utilization"][0]["mfu"] == used.mfu
    assert {"achieved_gflops_per_s", "mfu", "mbu"} <= set(document.data.keys)
