"""Measure this machine's roof: achievable fp32 GFLOP/s, memory GB/s and per-op overhead.

Three micro-benchmarks, each timed by the benchmarker's loop and summarized by its median:

- a large square fp32 matmul (``2 n^3`` FLOPs), with the threads torch uses;
- a copy between two buffers far larger than any cache (bytes read plus bytes written);
- an add of two 1-element tensors, in batches, so the time is the dispatch overhead alone.

The result becomes a ``HardwareProfile`` that ``costlab estimate --hardware FILE`` reads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from typing import Callable

from costlab.bench.environment import capture
from costlab.bench.stats import summarize
from costlab.bench.timing import TimingPolicy, inference_context, time_interleaved
from costlab.hardware import HardwareProfile

TINY_BATCH = 100  # adds per timed call: one call's timer cost spread over many ops
STEPS = {"matmul": "fp32 matmul (GFLOP/s)", "copy": "memory copy (GB/s)",
         "tiny": "per-op overhead"}


@dataclass(frozen=True)
class CalibrationPlan:
    """How big each micro-benchmark is and how long it runs."""

    matmul_n: int
    copy_bytes: int  # size of each buffer; a copy moves twice this
    policy: TimingPolicy

    @classmethod
    def full(cls) -> "CalibrationPlan":
        return cls(2048, 256 * 2**20, TimingPolicy(warmup_iters=3, warmup_s=0.3, min_iters=10,
                                                   min_s=1.0, max_s=10.0))

    @classmethod
    def quick(cls) -> "CalibrationPlan":
        # the copy buffers still exceed a desktop's last-level cache (32-64 MiB)
        return cls(1024, 64 * 2**20, TimingPolicy(warmup_iters=2, warmup_s=0.05,
                                                  min_iters=5, min_s=0.2, max_s=2.0))


@dataclass(frozen=True)
class Calibration:
    """The three readings and how they were taken."""

    gflops: float  # fp32 matmul, 10^9 FLOP/s
    bandwidth_gbs: float  # copy, (read + written) 10^9 bytes/s
    overhead_s: float  # one tiny op: the median of a batch of them, per op
    threads: int
    matmul_n: int
    matmul_median_s: float
    copy_bytes: int
    copy_median_s: float
    samples: dict[str, int]  # timed calls per benchmark
    machine: str
    environment: dict[str, Any]  # costlab.bench.environment.capture(), as a dict
    torch_version: str
    date: str
    quick: bool

    def to_profile(self, name: str = "calibrated") -> HardwareProfile:
        plan = "quick" if self.quick else "full"
        source = (
            f"measured by costlab calibrate ({plan}) on {self.date}, torch {self.torch_version}, "
            f"{_threads(self.threads)}: median of {self.samples['matmul']} fp32 matmuls "
            f"{self.matmul_n}x{self.matmul_n} (2n^3 FLOPs); median of {self.samples['copy']} "
            f"copies of {self.copy_bytes / 1e6:.0f} MB (bytes read + written); median of "
            f"{self.samples['tiny']} batches of {TINY_BATCH} adds of 1-element tensors "
            "(overhead). Achieved, not peak: fp16/bf16 not measured.")
        return HardwareProfile(
            name=name, description=f"this machine: {self.machine}, torch {_threads(self.threads)}",
            kind="cpu", peak_gflops={"float32": round(self.gflops, 3)},
            bandwidth_gbs=round(self.bandwidth_gbs, 3), overhead_s=self.overhead_s,
            source=source, measured={
                "threads": self.threads, "matmul_n": self.matmul_n,
                "matmul_median_s": self.matmul_median_s, "copy_bytes": self.copy_bytes,
                "copy_median_s": self.copy_median_s,
                "samples": dict(self.samples),
                "torch": self.torch_version, "date": self.date, "quick": self.quick,
                "environment": dict(self.environment)})


def _threads(count: int) -> str:
    return f"{count} thread" + ("" if count == 1 else "s")


def _benchmarks(plan: CalibrationPlan) -> dict[str, Callable[[], object]]:
    import torch

    gen = torch.Generator().manual_seed(0)
    n = plan.matmul_n
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    product = torch.empty(n, n)
    elements = plan.copy_bytes // 4
    source = torch.ones(elements)
    target = torch.empty(elements)
    x, y = torch.ones(1), torch.ones(1)

    def tiny() -> None:
        for _ in range(TINY_BATCH):
            torch.add(x, y)

    return {"matmul": lambda: torch.mm(a, b, out=product),
            "copy": lambda: target.copy_(source), "tiny": tiny}


def calibrate(quick: bool = False, progress: Callable[[str], None] | None = None) -> Calibration:
    """Measure this machine (its CPU, with torch's current thread count)."""
    import torch

    plan = CalibrationPlan.quick() if quick else CalibrationPlan.full()
    medians: dict[str, float] = {}
    samples: dict[str, int] = {}
    with inference_context():
        # one benchmark at a time: interleaving them would let the copy evict the matmul's
        # operands and the tiny op run on a cold cache
        for name, fn in _benchmarks(plan).items():
            if progress is not None:
                progress(STEPS[name])
            timing = time_interleaved([fn], plan.policy).timings[0]
            medians[name] = summarize(timing.samples_ns).median_ms / 1e3
            samples[name] = len(timing.samples_ns)
    env = capture()
    return Calibration(
        gflops=2 * plan.matmul_n ** 3 / medians["matmul"] / 1e9,
        bandwidth_gbs=2 * plan.copy_bytes / medians["copy"] / 1e9,
        overhead_s=medians["tiny"] / TINY_BATCH, threads=torch.get_num_threads(),
        matmul_n=plan.matmul_n, matmul_median_s=medians["matmul"],
        copy_bytes=plan.copy_bytes, copy_median_s=medians["copy"],
        samples=samples,
        machine=f"{env.cpu} ({env.arch}, {env.cpu_capability}), {env.cores_available} of "
                f"{env.logical_cpus} cores available", environment=env.to_dict(),
        torch_version=torch.__version__,
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"), quick=quick)


__all__ = ["Calibration", "CalibrationPlan", "calibrate"]
