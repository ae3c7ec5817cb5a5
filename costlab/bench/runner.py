"""Benchmark models: build them for real, time them interleaved, and report.

``bench_models`` is what ``costlab bench`` and ``costlab compare --latency`` call: every
model is built with random weights on the device, put in eval mode under inference mode,
timed round-robin with the others (``timing.time_interleaved``), summarized
(``stats.summarize``) and reported with its peak memory and the environment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from costlab.bench.environment import Environment, capture
from costlab.bench.memory import PeakMemory, cpu_peak_in_subprocess, cuda_peak
from costlab.bench.stats import LatencyStats, RatioEstimate, compare_samples, summarize
from costlab.bench.timing import (Progress, TimingPolicy, cudnn_benchmark, inference_context,
                                  time_interleaved, torch_threads)
from costlab.bench.ready import ready_model
from costlab.core.version import BENCH_REPORT_SCHEMA_VERSION



@dataclass
class BenchReport:
    """One model's measured latency, with everything needed to judge the number."""

    model: str
    variant: str
    input_shapes: list[list[int]]
    device: str
    batch: int
    dtype: str
    channels_last: bool
    threads: int
    stats: LatencyStats
    samples_ms: list[float]
    first_call_ms: float
    warmup_iters: int
    iterations: int
    measured_s: float
    throughput: float  # samples (batch elements) per second, at the median
    peak_memory: PeakMemory | None
    environment: Environment
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schema_version: int = BENCH_REPORT_SCHEMA_VERSION

    def to_dict(self) -> dict:
        out = asdict(self)
        out["stats"] = self.stats.to_dict()
        out["peak_memory"] = self.peak_memory.to_dict() if self.peak_memory else None
        out["environment"] = self.environment.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "BenchReport":
        """The inverse of ``to_dict`` (e.g. a report read back from a remote board)."""
        data = dict(data)
        data["stats"] = LatencyStats(**data["stats"])
        memory = data.get("peak_memory")
        if memory is not None:
            memory = {k: v for k, v in memory.items() if k != "model_mb"}
            data["peak_memory"] = PeakMemory(**memory)
        data["environment"] = Environment(**data["environment"])
        return cls(**data)


@dataclass
class LatencyComparison:
    """Several models timed interleaved; each one's ratio to the first, with its CI."""

    reports: list[BenchReport]
    ratios: list[RatioEstimate]  # one per model, the first is 1 by definition
    order: list[str]  # the model timed at every call, in call order

    def summary_lines(self) -> list[str]:
        base = self.reports[0].model
        lines = []
        for report, r in list(zip(self.reports, self.ratios))[1:]:
            verdict = ("indistinguishable from" if r.verdict == "indistinguishable"
                       else f"{r.verdict} than")
            lines.append(f"{report.model}: {r.ratio:.2f}x the latency of {base} "
                         f"(95% CI {r.ci_low:.2f}-{r.ci_high:.2f}): {verdict} {base}")
        return lines


def _warnings(env: Environment, stats: LatencyStats) -> list[str]:
    out = []
    if env.threads > env.cores_available:
        out.append(f"{env.threads} threads on {env.cores_available} available cores: "
                   "threads compete for cores and latency suffers")
    if stats.noisy:
        out.append(f"noisy: IQR/median is {stats.iqr_over_median:.0%} (over 10%); close "
                   "other programs or raise --min-time")
    return out


def bench_models(models: Sequence[Any], options: dict[str, Any] | None = None, *,
                 device: str = "cpu", dtype: str = "float32", channels_last: bool = False,
                 threads: int | None = None, policy: TimingPolicy | None = None,
                 memory: bool = True, progress: Progress | None = None) -> LatencyComparison:
    """Time ``models`` (names, specifiers or modules) interleaved on ``device``."""
    options = dict(options or {})
    policy = policy or TimingPolicy()
    with torch_threads(threads) as used_threads, cudnn_benchmark(device):
        prepared = [ready_model(m, options, device, dtype, channels_last) for m in models]
        with inference_context([p.module for p in prepared]):
            run = time_interleaved(prepared, policy, device, progress)
            peaks: list[PeakMemory | None] = []
            for p, m in zip(prepared, models):
                if device == "cuda":
                    peaks.append(cuda_peak(p))
                elif memory and isinstance(m, str):
                    peaks.append(cpu_peak_in_subprocess(dict(
                        model=m, options=options, device=device, dtype=dtype,
                        channels_last=channels_last)))
                else:
                    peaks.append(None)
        env = capture(device)
    reports = []
    for p, timing, peak in zip(prepared, run.timings, peaks):
        stats = summarize(timing.samples_ns)
        batch = int(p.args[0].shape[0]) if p.args and hasattr(p.args[0], "shape") \
            and p.args[0].dim() else 1
        reports.append(BenchReport(
            model=p.name, variant=p.variant, input_shapes=[list(s) for s in p.input_shapes],
            device=device, batch=batch, dtype=dtype, channels_last=channels_last,
            threads=used_threads, stats=stats,
            samples_ms=[s / 1e6 for s in timing.samples_ns],
            first_call_ms=timing.first_call_ns / 1e6, warmup_iters=timing.warmup_iters,
            iterations=len(timing.samples_ns), measured_s=stats.total_s,
            throughput=batch / (stats.median_ms / 1e3) if stats.median_ms else 0.0,
            peak_memory=peak, environment=env, warnings=_warnings(env, stats),
            notes=list(p.notes or [])))
    ratios = [compare_samples(run.timings[0].samples_ns, t.samples_ns) for t in run.timings]
    order = [reports[i].model for i in run.order]
    return LatencyComparison(reports, ratios, order)


def bench(model: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> BenchReport:
    """One model's latency report (``bench_models`` with one model)."""
    return bench_models([model], options, **kwargs).reports[0]
