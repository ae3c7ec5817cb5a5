"""The measured guidelines (``costlab guidelines --empirical``) as a document.

Takes a finished ``costlab.bench.guideline_experiments.EmpiricalRun``; measures nothing itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.report.document import (ONLY_SCREEN, ONLY_TEXT, Block, Column, Document, Heading,
                                     Table, bullets, caption, note, number)
from costlab.report.payload import payload_header, records
from costlab.report.render import mega

if TYPE_CHECKING:
    import pandas as pd

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


COLOUR = {"holds": "green", "reversed": "red", "inconclusive": "yellow"}



def _variant_table(run: "EmpiricalRun", result) -> Table:
    frame = run.to_dataframe()
    rows = []
    for row in frame[frame.guideline == result.guideline].to_dict("records"):
        base = bool(row["baseline"])
        rows.append({**row, "raw": "baseline" if base else f"{row['latency_ratio']:.2f}",
                     "ci": f"{row['ci_low_ms']:.3f}-{row['ci_high_ms']:.3f}",
                     "fair": "" if base else (f"{row['equal_work_ratio']:.2f} "
                                              f"[{row['equal_work_ci_low']:.2f}, "
                                              f"{row['equal_work_ci_high']:.2f}]"),
                     "verdict": "" if base else row["verdict"]})
    return Table(title=f"{result.guideline}: {result.title}", views=ONLY_SCREEN, rows=rows,
                 columns=[
                     Column(key="setting", label="setting"), Column(key="input", label="input"),
                     number("macs_m", "MACs (M)", lambda v: mega(v, 1), unit="M"),
                     number("macs_vs_baseline_pct", "vs base", lambda v: f"{v:+.1f}%",
                            unit="%"),
                     number("median_ms", "median (ms)", lambda v: mega(v, 3), unit="ms"),
                     number("ci", "95% CI (ms)", unit="ms"),
                     number("speed", f"speed ({run.unit})", lambda v: mega(v, 1)),
                     number("raw", "latency x"), number("fair", "x at equal MACs [95% CI]"),
                     Column(key="verdict", label="verdict", styles=COLOUR),
                     number("paper_gpu_speed", "paper GPU (batches/s)", lambda v: mega(v, 0)),
                     number("paper_arm_speed", "paper ARM (images/s)", lambda v: mega(v, 1))])


def _payload(run: "EmpiricalRun", verdicts: "pd.DataFrame") -> dict:
    payload = payload_header("guidelines_empirical")
    payload["settings"] = run.settings_dict()
    payload["environment"] = run.environment.to_dict()
    payload["verdicts"] = records(verdicts)
    payload["variants"] = records(run.to_dataframe())
    payload["note"] = VERDICT_NOTE + " " + PAPER_RATIO_NOTE
    return payload


def empirical_document(run: "EmpiricalRun") -> Document:
    """The paper's four micro-benchmarks as timed here, a verdict per guideline."""
    verdicts = run.verdict_frame()
    title = "ShuffleNet V2's guidelines, measured"
    blocks: list[Block] = [
        Heading(text=title, views=ONLY_TEXT),
        note(settings_line(run) + ".", views=ONLY_TEXT),
        bullets(run.environment.lines(), views=ONLY_TEXT),
        Table.from_frame(verdicts.drop(columns=["explanation"]), views=ONLY_TEXT),
        Table(title=title + "\n" + settings_line(run), views=ONLY_SCREEN,
              rows=[{"guideline": f"{r.guideline} {r.title}", "claim": r.claim,
                     "verdict": r.verdict} for r in run.results],
              columns=[Column(key="guideline", label="guideline"),
                       Column(key="claim", label="paper's claim"),
                       Column(key="verdict", label="verdict", styles=COLOUR)]),
    ]
    for result in run.results:
        blocks += [Heading(text=f"{result.guideline}: {result.title} ({result.verdict})",
                           level=2, views=ONLY_TEXT),
                   note(f"Paper: {result.claim}.", views=ONLY_TEXT),
                   Table.from_frame(variants_frame(run, result.guideline), views=ONLY_TEXT)]
    blocks += [_variant_table(run, result) for result in run.results]
    blocks += [note(*run.environment.lines(), wrap=False, views=ONLY_SCREEN),
               caption(VERDICT_NOTE, views=ONLY_SCREEN),
               caption(VERDICT_NOTE + " " + PAPER_RATIO_NOTE, views=ONLY_TEXT)]
    data = run.to_dataframe()
    data["guideline_verdict"] = data.guideline.map(dict(zip(verdicts.guideline,
                                                            verdicts.verdict)))
    return Document(title=title, kind="guidelines_empirical", blocks=blocks,
                    payload=_payload(run, verdicts), data=Table.from_frame(data),
                    conventions=VERDICT_NOTE)
