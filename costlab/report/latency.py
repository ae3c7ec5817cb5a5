"""Tables of measured latency: ``costlab bench`` and the latency part of ``compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from rich.console import Console
from rich.table import Table

from costlab.core import conventions
from costlab.analysis.aggregate import shapes_text
from costlab.core.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from costlab.bench.runner import BenchReport, LatencyComparison

BENCH_COLUMNS = ["model", "variant", "input", "device", "dtype", "threads", "median_ms",
                 "ci_low_ms", "ci_high_ms", "mean_ms", "std_ms", "min_ms", "p90_ms", "p99_ms",
                 "iqr_ms", "iqr_over_median", "throughput_per_s", "iterations", "measured_s",
                 "first_call_ms", "peak_memory_mb", "model_memory_mb"]


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
        })
    return rows


def bench_frame(reports: Sequence["BenchReport"]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(bench_rows(reports), columns=BENCH_COLUMNS)


LATENCY_COLUMNS = ["latency_median_ms", "latency_ci_low_ms", "latency_ci_high_ms",
                   "latency_iqr_over_median", "latency_ratio", "latency_ratio_ci_low",
                   "latency_ratio_ci_high", "latency_verdict"]


def latency_cells(comparison: "LatencyComparison | None", index: int) -> dict[str, Any]:
    """The latency columns of one timed model: median, its CI and spread, its ratio to the
    first model with that ratio's CI and verdict. Empty when latency was not measured."""
    if comparison is None:
        return {}
    stats = comparison.reports[index].stats
    ratio = comparison.ratios[index]
    return dict(zip(LATENCY_COLUMNS, (
        stats.median_ms, stats.ci_low_ms, stats.ci_high_ms, stats.iqr_over_median,
        ratio.ratio, ratio.ci_low, ratio.ci_high,
        "baseline" if index == 0 else ratio.verdict)))


def _notes(reports: Sequence["BenchReport"]) -> list[str]:
    lines = []
    for r in reports:
        lines += [f"{r.model}: warning: {w}" for w in r.warnings]
        lines += [f"{r.model}: note: {n}" for n in r.notes]
        if r.peak_memory:
            lines.append(f"{r.model}: peak memory {r.peak_memory.peak_mb:.1f} MB "
                         f"({r.peak_memory.model_mb:.1f} MB over the bare process; "
                         f"{r.peak_memory.method})")
    return lines


def bench_text(reports: Sequence["BenchReport"], fmt: str) -> str:
    from costlab.report.export import _header, _json, _markdown

    frame = bench_frame(reports)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = _header("bench")
        payload["reports"] = [r.to_dict() for r in reports]  # every sample included
        payload["note"] = conventions.LATENCY
        return _json(payload)
    if fmt == "md":
        env = reports[0].environment
        lines = [f"# latency: {', '.join(r.model for r in reports)}", "",
                 _markdown(frame), ""]
        lines += [f"- {line}" for line in _notes(reports)]
        lines += ["", "Environment:", ""] + [f"- {line}" for line in env.lines()]
        lines += ["", "_" + conventions.LATENCY + "_", ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")


def _ms(value: float) -> str:
    return f"{value:,.3f}" if value < 10 else f"{value:,.2f}"


def render_bench(reports: Sequence["BenchReport"], console: Console) -> None:
    table = Table(title="measured latency", title_justify="left",
                  caption=conventions.LATENCY, caption_justify="left")
    for col in ("model", "input", "device", "threads", "median ms", "95% CI", "mean", "std",
                "min", "p90", "p99", "IQR/med", "samples/s", "iters", "measured s",
                "first call ms", "peak MB"):
        table.add_column(col, justify="left" if col in ("model", "input", "device") else "right")
    for row, r in zip(bench_rows(reports), reports):
        table.add_row(
            row["model"], row["input"], f"{row['device']} {row['dtype']}", str(row["threads"]),
            _ms(row["median_ms"]), f"{_ms(row['ci_low_ms'])}-{_ms(row['ci_high_ms'])}",
            _ms(row["mean_ms"]), _ms(row["std_ms"]), _ms(row["min_ms"]), _ms(row["p90_ms"]),
            _ms(row["p99_ms"]), f"{row['iqr_over_median']:.1%}",
            f"{row['throughput_per_s']:,.1f}", str(row["iterations"]),
            f"{row['measured_s']:.2f}", _ms(row["first_call_ms"]),
            "-" if row["peak_memory_mb"] is None else f"{row['peak_memory_mb']:,.1f}")
    console.print(table)
    for line in _notes(reports):
        console.print(line, markup=False)
    for line in reports[0].environment.lines():
        console.print("[dim]" + line + "[/dim]", markup=True, highlight=False)


def render_latency_comparison(comparison: "LatencyComparison", console: Console) -> None:
    table = Table(title="measured latency, interleaved", title_justify="left",
                  caption=conventions.LATENCY, caption_justify="left")
    for col in ("model", "median ms", "95% CI", "latency x", "ratio 95% CI", "verdict"):
        table.add_column(col, justify="left" if col in ("model", "verdict") else "right")
    for i, report in enumerate(comparison.reports):
        row = latency_cells(comparison, i)
        table.add_row(report.model, _ms(row["latency_median_ms"]),
                      f"{_ms(row['latency_ci_low_ms'])}-{_ms(row['latency_ci_high_ms'])}",
                      f"{row['latency_ratio']:.2f}x",
                      f"{row['latency_ratio_ci_low']:.2f}-{row['latency_ratio_ci_high']:.2f}",
                      row["latency_verdict"])
    console.print(table)
    for line in comparison.summary_lines():
        console.print(line, markup=False)
    for line in _notes(comparison.reports):
        console.print(line, markup=False)
    for line in comparison.reports[0].environment.lines():
        console.print("[dim]" + line + "[/dim]", highlight=False)
