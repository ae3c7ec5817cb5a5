"""The measured guidelines (``costlab guidelines --empirical``): tables, exports, progress.

Takes a finished ``costlab.bench.guideline_experiments.EmpiricalRun``; measures nothing itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.core.errors import UsageError
from costlab.report.export import _header, _json, _markdown, _records
from costlab.report.render import mega

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from costlab.bench.guideline_experiments import EmpiricalRun

VERDICT_NOTE = ("Each variant is timed round-robin with the others; 'latency x' is its median "
                "latency over the baseline's (the variant the paper finds fastest), 'x at "
                "equal MACs' the same with its latency scaled by baseline MACs / its MACs, "
                "with a 95% bootstrap CI: the verdict's. holds: slower than the baseline, as "
                "the paper says; reversed: faster; inconclusive: the CI includes 1 or the "
                "difference is under 2%. A guideline holds when some variant confirms it and "
                "none contradicts it. The paper's speeds are a GTX 1080Ti's and a Snapdragon "
                "810's, each at its own channel counts for this scale.")
PAPER_RATIO_NOTE = "'paper GPU x' and 'paper ARM x' are the latency ratio from the paper's speeds."

VARIANT_COLUMNS = {
    "setting": "setting", "input": "input", "macs_m": "MACs (M)",
    "macs_vs_baseline_pct": "MACs vs baseline (%)", "memory_access_mb": "memory access (MB)",
    "median_ms": "median (ms)", "ci_low_ms": "CI low (ms)", "ci_high_ms": "CI high (ms)",
    "speed": "speed", "latency_ratio": "latency x", "equal_work_ratio": "x at equal MACs",
    "equal_work_ci_low": "CI low", "equal_work_ci_high": "CI high", "verdict": "verdict",
    "paper_gpu_speed": "paper GPU",
    "paper_gpu_ratio": "paper GPU x", "paper_arm_speed": "paper ARM",
    "paper_arm_ratio": "paper ARM x",
}


def settings_line(run: "EmpiricalRun") -> str:
    p = run.policy
    return (f"device {run.device}, the paper's {run.platform.upper()} channel counts at scale "
            f"{run.scale}, batch {run.batch}, speed in {run.unit}; timing: >= {p.warmup_iters} "
            f"warm-up calls and {p.warmup_s:g} s, then >= {p.min_iters} calls and "
            f"{p.min_s:g} s (at most {p.max_s:g} s); started {run.started}")


def variants_frame(run: "EmpiricalRun", guideline: str) -> "pd.DataFrame":
    """One guideline's variants in the columns a reader needs, labelled."""
    frame = run.to_dataframe()
    frame = frame[frame.guideline == guideline][list(VARIANT_COLUMNS)]
    return frame.rename(columns={**VARIANT_COLUMNS, "speed": f"speed ({run.unit})",
                                 "paper_gpu_speed": "paper GPU (batches/s)",
                                 "paper_arm_speed": "paper ARM (images/s)"})


def empirical_text(run: "EmpiricalRun", fmt: str) -> str:
    verdicts = run.verdict_frame()
    if fmt == "csv":
        frame = run.to_dataframe()
        frame["guideline_verdict"] = frame.guideline.map(
            dict(zip(verdicts.guideline, verdicts.verdict)))
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = _header("guidelines_empirical")
        payload["settings"] = run.settings_dict()
        payload["environment"] = run.environment.to_dict()
        payload["verdicts"] = _records(verdicts)
        payload["variants"] = _records(run.to_dataframe())
        payload["note"] = VERDICT_NOTE + " " + PAPER_RATIO_NOTE
        return _json(payload)
    if fmt == "md":
        lines = ["# ShuffleNet V2's guidelines, measured", "", settings_line(run) + ".", ""]
        lines += [f"- {line}" for line in run.environment.lines()]
        lines += ["", _markdown(verdicts.drop(columns=["explanation"])), ""]
        for result in run.results:
            lines += [f"## {result.guideline}: {result.title} ({result.verdict})", "",
                      f"Paper: {result.claim}.", "",
                      _markdown(variants_frame(run, result.guideline)), ""]
        lines += ["_" + VERDICT_NOTE + " " + PAPER_RATIO_NOTE + "_", ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")


def render_empirical(run: "EmpiricalRun", console: "Console") -> None:
    from rich.table import Table

    colour = {"holds": "green", "reversed": "red", "inconclusive": "yellow"}
    summary = Table(title="ShuffleNet V2's guidelines, measured\n" + settings_line(run),
                    title_justify="left")
    for col in ("guideline", "paper's claim", "verdict"):
        summary.add_column(col)
    for r in run.results:
        summary.add_row(f"{r.guideline} {r.title}", r.claim,
                        f"[{colour[r.verdict]}]{r.verdict}[/]")
    console.print(summary)
    frame = run.to_dataframe()
    for r in run.results:
        table = Table(title=f"{r.guideline}: {r.title}", title_justify="left")
        for col in ("setting", "input", "MACs (M)", "vs base", "median (ms)", "95% CI (ms)",
                    f"speed ({run.unit})", "latency x", "x at equal MACs [95% CI]", "verdict",
                    "paper GPU (batches/s)", "paper ARM (images/s)"):
            table.add_column(col, justify="left" if col in ("setting", "input", "verdict")
                             else "right")
        for row in frame[frame.guideline == r.guideline].itertuples():
            raw = "baseline" if row.baseline else f"{row.latency_ratio:.2f}"
            fair = "" if row.baseline else (f"{row.equal_work_ratio:.2f} "
                                            f"[{row.equal_work_ci_low:.2f}, "
                                            f"{row.equal_work_ci_high:.2f}]")
            verdict = "" if row.baseline else f"[{colour[row.verdict]}]{row.verdict}[/]"
            table.add_row(row.setting, row.input, mega(row.macs_m, 1),
                          f"{row.macs_vs_baseline_pct:+.1f}%", mega(row.median_ms, 3),
                          f"{row.ci_low_ms:.3f}-{row.ci_high_ms:.3f}", mega(row.speed, 1),
                          raw, fair, verdict, mega(row.paper_gpu_speed, 0),
                          mega(row.paper_arm_speed, 1))
        console.print(table)
    for line in run.environment.lines():
        console.print(line, soft_wrap=True)
    console.print(VERDICT_NOTE, style="dim")
