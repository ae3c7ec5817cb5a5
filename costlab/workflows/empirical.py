"""Run ShuffleNet V2's four micro-benchmarks here: count each variant with the analyzer,
time them interleaved with the benchmarker, and judge each guideline
(``bench.guideline_experiments`` holds the experiments and their verdict rules)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Sequence

from costlab.bench.guideline_experiments import (BENCHMARKS, DEFAULT_PLATFORM, SCALES, UNITS, EmpiricalRun,
                                                 GuidelineBenchmark, GuidelineResult, Progress,
                                                 VariantCount, VariantResult, benchmark,
                                                 comparison_verdict, explanation,
                                                 guideline_verdict, paper_speed)
from costlab.bench.stats import compare_samples, summarize
from costlab.bench.timing import (TimingPolicy, cudnn_benchmark, inference_context,
                                  time_interleaved, torch_threads)
from costlab.core.errors import UsageError
from costlab.core.records import shape_text

if TYPE_CHECKING:
    import pandas as pd


def count_variants(bench: GuidelineBenchmark, platform: str, scale: int,
                   batch: int = 1) -> list[VariantCount]:
    """MACs, FLOPs and memory access of each variant, and its MACs against the baseline's."""
    from costlab.workflows.analyze import analyze

    costs = [analyze(v.model, batch=batch, platform=platform, scale=scale, **v.knobs)
             for v in bench.variants]
    base = costs[0].total.macs
    return [VariantCount(bench.guideline, v.setting, v.model, platform, scale,
                         tuple(c.info.input_shapes[0]), c.total.macs, c.total.flops,
                         c.total.memory_access_bytes, 100.0 * (c.total.macs / base - 1))
            for v, c in zip(bench.variants, costs)]


FLOPS_TOLERANCE_PCT = 1.0


def flops_frame(platforms: Sequence[str] = ("gpu", "arm"),
                scales: Sequence[int] = SCALES) -> "pd.DataFrame":
    """Every variant's MACs against its baseline's, and whether they agree within 1%
    where the paper says the FLOPs are matched (G1-G3; G4's MACs are equal by design)."""
    import pandas as pd

    rows = []
    for bench in BENCHMARKS:
        for platform in platforms:
            for scale in scales:
                for count in count_variants(bench, platform, scale):
                    rows.append({
                        "guideline": count.guideline, "setting": count.setting,
                        "baseline": count.setting == bench.baseline.setting,
                        "platform": platform, "scale": scale,
                        "input": shape_text(count.input_shape),
                        "macs_m": count.macs / 1e6, "flops_m": count.flops / 1e6,
                        "macs_vs_baseline_pct": count.macs_vs_baseline_pct,
                        "within_1pct": abs(count.macs_vs_baseline_pct) <= FLOPS_TOLERANCE_PCT,
                    })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- measuring

def measure_guideline(bench: GuidelineBenchmark, device: str, platform: str, scale: int,
                      batch: int, policy: TimingPolicy,
                      progress: Callable[[float], None] | None = None) -> GuidelineResult:
    """Build every variant on ``device``, time them interleaved, compare with the baseline."""
    from costlab.build.target import prepare

    counts = count_variants(bench, platform, scale, batch)
    prepared = [prepare(v.model, device=device, batch=batch, platform=platform, scale=scale,
                        **v.knobs) for v in bench.variants]
    with inference_context([p.module for p in prepared]):
        run = time_interleaved(prepared, policy, device, progress)
    base_samples = run.timings[0].samples_ns
    base_macs = counts[0].macs
    per_second = 1e3 * (batch if UNITS[platform] == "images/s" else 1)  # ms -> the unit
    variants = []
    for index, (variant, count, timing) in enumerate(zip(bench.variants, counts, run.timings)):
        stats = summarize(timing.samples_ns)
        ratio = fair = None
        if index:
            ratio = compare_samples(base_samples, timing.samples_ns)
            work = base_macs / count.macs
            fair = compare_samples(base_samples, [t * work for t in timing.samples_ns])
        variants.append(VariantResult(
            count, stats, timing.first_call_ns / 1e6, per_second / stats.median_ms,
            per_second / stats.ci_high_ms, per_second / stats.ci_low_ms,
            paper_speed(bench.guideline, variant.setting, "gpu", scale),
            paper_speed(bench.guideline, variant.setting, "arm", scale),
            ratio, fair, comparison_verdict(fair) if fair else None))
    verdict = guideline_verdict([v.verdict for v in variants[1:]])
    return GuidelineResult(bench.guideline, bench.title, bench.claim, verdict,
                           explanation(bench, variants), tuple(variants))


def run_empirical(device: str = "cpu", scale: int = 1, policy: TimingPolicy | None = None,
                  platform: str | None = None, batch: int = 1, threads: int | None = None,
                  guidelines: Sequence[str] = ("G1", "G2", "G3", "G4"),
                  progress: Progress | None = None) -> EmpiricalRun:
    """Time the paper's micro-benchmarks on ``device`` and judge each guideline.

    ``platform`` (gpu or arm) picks whose channel counts to build; by default the ARM ones
    on a CPU and the GPU ones on CUDA. On a CPU torch runs one thread unless ``threads``
    says otherwise, as the paper's ARM measurements did; on CUDA cuDNN's benchmark mode is
    on, as in the paper. Batch 1: at the paper's GPU speeds (e.g. 2451 batches/s for G2's
    514M-MAC g=1 stack) a larger batch would exceed a GTX 1080Ti's peak FLOPs, so its
    batches must have been single images too.
    """
    from costlab.bench.environment import capture

    from costlab.build.inputs import check_run_device

    check_run_device(device)  # before building anything
    if scale not in SCALES:
        raise UsageError(f"--scale must be one of {', '.join(map(str, SCALES))}, got {scale}")
    platform = platform or DEFAULT_PLATFORM[device]
    if platform not in UNITS:
        raise UsageError(f"unknown platform {platform!r}; choose from gpu, arm")
    if batch < 1:
        raise UsageError(f"batch must be >= 1, got {batch}")
    chosen = [benchmark(g) for g in guidelines]
    policy = policy or TimingPolicy()
    if threads is None and device == "cpu":
        threads = 1
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results = []
    with torch_threads(threads), cudnn_benchmark(device):
        environment = capture(device)
        for index, bench in enumerate(chosen):
            def report(fraction: float, index: int = index, name: str = bench.guideline):
                if progress is not None:
                    progress((index + fraction) / len(chosen), name)
            report(0.0)
            results.append(measure_guideline(bench, device, platform, scale, batch, policy,
                                             report))
    return EmpiricalRun(device, platform, scale, batch, UNITS[platform], policy, environment,
                        started, tuple(results))
