"""Measured latency as documents: ``costlab bench`` and the latency part of ``compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from costlab.core import conventions
from costlab.core.records import shapes_text
from costlab.report.document import (ONLY_SCREEN, ONLY_TEXT, Block, Column, Document, Heading,
                                     Table, bullets, caption, note, number)

if TYPE_CHECKING:
    import pandas as pd

    from costlab.bench.runner import BenchReport, LatencyComparison

BENCH_COLUMNS = ["model", "variant", "input", "device", "dtype", "threads", "median_ms",
                 "ci_low_ms", "ci_high_ms", "mean_ms", "std_ms", "min_ms", "p90_ms", "p99_ms",
                 "iqr_ms", "iqr_over_median", "throughput_per_s", "iterations", "measured_s",
                 "first_call_ms", "peak_memory_mb", "model_memory_mb", "rounds", "round_cv",
                 "host"]


def bench_rows(reports: Sequence["BenchReport"]) -> list[dict[str, Any]]:
    rows = []
    for r in reports:
        s = r.stats
        rows.append({
            "model": r.model, "variant": r.variant,
            "input": shapes_text(r.input_shapes),
            "device": r.device, "dtype": r.dtype + (" channels_last" if r.channels_last else ""),
            "threads": r.threads, "median_ms": s.median_ms, "ci_low_ms": s.ci_low_ms,
            "ci_high_ms": s.ci_high_ms, "mean_ms": s.mean_ms, "std_ms": s.std_ms,
            "min_ms": s.min_ms, "p90_ms": s.p90_ms, "p99_ms": s.p99_ms, "iqr_ms": s.iqr_ms,
            "iqr_over_median": s.iqr_over_median, "throughput_per_s": r.throughput,
            "iterations": r.iterations, "measured_s": r.measured_s,
            "first_call_ms": r.first_call_ms,
            "peak_memory_mb": r.peak_memory.peak_mb if r.peak_memory else None,
            "model_memory_mb": r.peak_memory.model_mb if r.peak_memory else None,
            "rounds": r.rounds, "round_cv": r.round_cv, "host": r.host,
        })
    return rows


def bench_frame(reports: Sequence["BenchReport"]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(bench_rows(reports), columns=BENCH_COLUMNS)


LATENCY_COLUMNS = ["latency_median_ms", "latency_ci_low_ms", "latency_ci_high_ms",
                   "latency_iqr_over_median", "latency_ratio", "latency_ratio_ci_low",
                   "latency_ratio_ci_high", "latency_verdict", "latency_rounds",
                   "latency_round_cv", "latency_ratio_round_cv", "latency_drift",
                   "latency_ratio_rounds_ci_low", "latency_ratio_rounds_ci_high"]
# the verdict as a sentence says it; the data keep the word
VERDICT_WORDS = {"indistinguishable": "no clear difference"}


def latency_cells(comparison: "LatencyComparison | None", index: int) -> dict[str, Any]:
    """The latency columns of one timed model: median, its CI and spread, its ratio to the
    first model with that ratio's CI and verdict, the number of rounds and the spread
    between rounds (coefficients of variation of the round medians and of the round
    ratios). Empty when latency was not measured."""
    if comparison is None:
        return {}
    stats = comparison.reports[index].stats
    ratio = comparison.ratios[index]
    return dict(zip(LATENCY_COLUMNS, (
        stats.median_ms, stats.ci_low_ms, stats.ci_high_ms, stats.iqr_over_median,
        ratio.ratio, ratio.ci_low, ratio.ci_high,
        "baseline" if index == 0 else ratio.verdict, comparison.reports[index].rounds,
        comparison.reports[index].round_cv, ratio.round_cv, ratio.drift,
        ratio.ci_low if ratio.rounds_ci_low is None else ratio.rounds_ci_low,
        ratio.ci_high if ratio.rounds_ci_high is None else ratio.rounds_ci_high)))


def interval_text(report: "BenchReport") -> str:
    """How the 95% CIs were formed."""
    if report.rounds == 1:
        return ("95% CIs: percentile bootstrap of one round; they cover the noise within "
                "this run only, not the drift between runs (--rounds)")
    where = "each a fresh process" if report.rounds_in_workers else "in this process"
    return (f"95% CIs: hierarchical bootstrap over {report.rounds} rounds ({where}, the "
            "order rotated): rounds resampled, then samples within each round; widened "
            f"for {report.rounds} rounds")


def drift_text(comparison: "LatencyComparison") -> list[str]:
    """What the ratios' intervals take in beyond the rounds (a line, or none)."""
    drift = max((r.drift for r in comparison.ratios), default=0.0)
    if not drift:
        return ["ratio CIs: the rounds alone, no between-run drift (--drift 0)"]
    return [f"ratio CIs and verdicts also take in {drift:.1%} between-run drift (a relative "
            "standard deviation, in quadrature on the log scale: runs minutes apart move "
            "more than the rounds of one run show; --drift, README \"Latency\"); the "
            "median CIs are the rounds' alone"]


def _notes(reports: Sequence["BenchReport"], after_interval: Sequence[str] = ()) -> list[str]:
    lines = [interval_text(reports[0]), *after_interval] if reports else []
    for r in reports:
        if r.rounds > 1:
            medians = ", ".join(_ms(m) for m in r.round_medians_ms)
            lines.append(f"{r.model}: round medians {medians} ms (CV {r.round_cv:.1%})")
        lines += [f"{r.model}: warning: {w}" for w in r.warnings]
        lines += [f"{r.model}: note: {n}" for n in r.notes]
        if r.peak_memory:
            lines.append(f"{r.model}: peak memory {r.peak_memory.peak_mb:.1f} MB "
                         f"({r.peak_memory.model_mb:.1f} MB over the bare process; "
                         f"{r.peak_memory.method})")
    return lines


def _ms(value: float) -> str:
    return f"{value:,.3f}" if value < 10 else f"{value:,.2f}"


def _bench_table(reports: Sequence["BenchReport"]) -> Table:
    rows = [{**row, "device_dtype": f"{row['device']} {row['dtype']}",
             "ci": f"{_ms(row['ci_low_ms'])}-{_ms(row['ci_high_ms'])}"}
            for row in bench_rows(reports)]
    return Table(title="measured latency", caption=conventions.LATENCY, views=ONLY_SCREEN,
                 rows=rows, columns=[
                     *([Column(key="host", label="host")] if any(r.host for r in reports)
                       else []),
                     Column(key="model", label="model"), Column(key="input", label="input"),
                     Column(key="device_dtype", label="device"),
                     number("threads", "threads"),
                     number("median_ms", "median ms", _ms, unit="ms"),
                     number("ci", "95% CI", unit="ms"),
                     number("mean_ms", "mean", _ms, unit="ms"),
                     number("std_ms", "std", _ms, unit="ms"),
                     number("min_ms", "min", _ms, unit="ms"),
                     number("p90_ms", "p90", _ms, unit="ms"),
                     number("p99_ms", "p99", _ms, unit="ms"),
                     number("iqr_over_median", "IQR/med", lambda v: f"{v:.1%}"),
                     number("throughput_per_s", "samples/s", lambda v: f"{v:,.1f}"),
                     number("iterations", "iters"),
                     number("rounds", "rounds"),
                     number("round_cv", "round CV", lambda v: f"{v:.1%}"),
                     number("measured_s", "measured s", lambda v: f"{v:.2f}", unit="s"),
                     number("first_call_ms", "first call ms", _ms, unit="ms"),
                     number("peak_memory_mb", "peak MB",
                            lambda v: "-" if v is None or v != v else f"{v:,.1f}",
                            unit="MB")])


def bench_document(reports: Sequence["BenchReport"],
                   utilization: Sequence[Any] | None = None) -> Document:
    """Measured latency of one or more models, with the environment it was measured in;
    with ``utilization`` (bench.utilization, one per report), the achieved FLOP/s and
    bytes/s from the static count, and MFU/MBU where a profile's peaks are known."""
    from costlab.report.payload import payload_header

    env = reports[0].environment
    title = f"latency: {', '.join(r.model for r in reports)}"
    payload = payload_header("bench")
    payload["reports"] = [r.to_dict() for r in reports]  # every sample included
    payload["note"] = conventions.LATENCY
    frame = bench_frame(reports)
    if utilization:
        payload["utilization"] = [u.to_dict() for u in utilization]
        frame = frame.assign(
            achieved_gflops_per_s=[u.achieved_flops / 1e9 for u in utilization],
            achieved_gb_per_s=[u.achieved_bytes / 1e9 for u in utilization],
            mfu=[u.mfu for u in utilization], mbu=[u.mbu for u in utilization])
    data = Table.from_frame(frame, views=ONLY_TEXT)
    blocks: list[Block] = [
        Heading(text=title, views=ONLY_TEXT), data, _bench_table(reports),
        *([note(*[u.line() for u in utilization])] if utilization else []),
        bullets(_notes(reports), views=ONLY_TEXT), note(*_notes(reports), views=ONLY_SCREEN),
        note("Environment:", views=ONLY_TEXT), bullets(env.lines(), views=ONLY_TEXT),
        caption(*env.lines(), views=ONLY_SCREEN),
        caption(conventions.LATENCY, views=ONLY_TEXT)]
    return Document(title=title, kind="bench", blocks=blocks, payload=payload, data=data,
                    conventions=conventions.LATENCY)


def latency_comparison_blocks(comparison: "LatencyComparison") -> list[Block]:
    """The screen view of the latency part of ``compare``."""
    rows = []
    for i, report in enumerate(comparison.reports):
        row = latency_cells(comparison, i)
        ratios = comparison.ratios[i].round_ratios
        rows.append({**row, "model": report.model,
                     "ci": f"{_ms(row['latency_ci_low_ms'])}-{_ms(row['latency_ci_high_ms'])}",
                     "ratio_ci": f"{row['latency_ratio_ci_low']:.2f}-"
                                 f"{row['latency_ratio_ci_high']:.2f}",
                     "round_ratios": f"{min(ratios):.2f}-{max(ratios):.2f}"
                                     if len(ratios) > 1 and i else "-",
                     "verdict": VERDICT_WORDS.get(row["latency_verdict"],
                                                  row["latency_verdict"])})
    table = Table(title="measured latency, interleaved", caption=conventions.LATENCY,
                  views=ONLY_SCREEN, rows=rows, columns=[
                      Column(key="model", label="model"),
                      number("latency_median_ms", "median ms", _ms, unit="ms"),
                      number("ci", "95% CI", unit="ms"),
                      number("latency_ratio", "latency x", lambda v: f"{v:.2f}x"),
                      number("ratio_ci", "ratio 95% CI"),
                      number("latency_rounds", "rounds"),
                      number("round_ratios", "round ratios"),
                      Column(key="verdict", label="verdict")])
    return [table,
            note(*comparison.summary_lines(),
                 *_notes(comparison.reports, drift_text(comparison)), views=ONLY_SCREEN),
            caption(*comparison.reports[0].environment.lines(), views=ONLY_SCREEN)]

