"""ShuffleNet V2's Table 8 (Ma et al. 2018): networks at four budgets of MFLOPs, with
costlab's counts and this CPU's latency beside the published error and the paper's speeds.

Each budget holds ShuffleNet V1 (g=3) and V2 at the paper's scales, MobileNet V1 at the
paper's widths, MobileNet V2 at the width whose MACs are nearest the budget, and every other
zoo CNN on a 224x224 input whose MACs are within ``NEAR`` of it. The settings of a budget
are timed interleaved, ShuffleNet V2 first (the baseline of the latency ratios).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from costlab.report.latency import latency_cells
from costlab.workflows.papers.context import (CNN_FAMILIES, MILLION, PaperReport, ReportContext,
                                          Setting, latency_text,
                                          markdown_table, noisy_note, ratio_text)
from costlab.report.tables import published_for, totals_m

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost

BUDGETS = (40, 150, 300, 600)  # MFLOPs as the paper counts them: multiply-adds, our MACs
SCALES = (0.5, 1.0, 1.5, 2.0)  # ShuffleNet V1 and V2 at the four budgets
MOBILENET_V1_WIDTHS = (0.25, 0.5, 0.75, 1.0)
# MobileNet V2 widths the papers and the official release use; the one nearest each budget
MOBILENET_V2_WIDTHS = (0.15, 0.35, 0.4, 0.5, 0.6, 0.75, 1.0, 1.3, 1.4)
NEAR = 1.5  # another zoo model joins a budget whose MFLOPs are within this factor of its MACs
TABLE8_RESOLUTION = (1, 3, 224, 224)


def _log_distance(macs_m: float, budget: float) -> float:
    return abs(math.log(macs_m / budget))


def _nearest_budget(macs_m: float) -> int:
    return min(BUDGETS, key=lambda b: _log_distance(macs_m, b))


def _knobs_match(setting: Setting, variant: str) -> bool:
    from costlab.references.paper_tables import knobs_of

    knobs = setting.knob_dict
    for name, value in knobs_of(variant).items():
        if name not in knobs or float(knobs[name]) != float(value):
            return False
    return True


def _table8_row(setting: Setting):
    from costlab.references.paper_tables import shufflenet_v2_table8

    return next((r for r in shufflenet_v2_table8()
                 if r.model == setting.model and _knobs_match(setting, r.variant)), None)


def _zoo_candidates() -> list[Setting]:
    """Every zoo CNN at its defaults and at each knob setting with a published row, on
    Table 8's 224x224 input, except the four families Table 8 is built around."""
    from costlab.models import registry
    from costlab.references import published
    from costlab.references.paper_tables import knobs_of

    reg = registry()
    table_families = {"shufflenet_v1", "shufflenet_v2", "mobilenet_v1", "mobilenet_v2"}
    settings: list[Setting] = []
    for name in reg.names():
        spec = reg.get(name)
        if spec.family not in CNN_FAMILIES or name in table_families \
                or spec.input_for() != TABLE8_RESOLUTION:
            continue
        settings.append(Setting.of(name))
        knob_names = {k.name for k in spec.knobs}
        for entry in published():
            knobs = knobs_of(entry.variant)
            if entry.model == name and knobs and set(knobs) <= knob_names \
                    and entry.resolution in (None, 224):
                setting = setting_from_variant(name, entry.variant)
                if setting.knob_dict != {k: spec.knob(k).default for k in knobs} \
                        and setting not in settings:
                    settings.append(setting)
    return settings


def table8_settings(context: ReportContext) -> dict[int, list[tuple[Setting, str]]]:
    """The settings of each budget, ShuffleNet V2 first, each with why it is there."""
    groups: dict[int, list[tuple[Setting, str]]] = {}
    for budget, scale, width in zip(BUDGETS, SCALES, MOBILENET_V1_WIDTHS):
        v2_widths = {w: context.analyze(Setting.of("mobilenet_v2", width=w)).total.macs
                     / MILLION for w in MOBILENET_V2_WIDTHS}
        nearest = min(v2_widths, key=lambda w: _log_distance(v2_widths[w], budget))
        groups[budget] = [
            (Setting.of("shufflenet_v2", scale=scale), "Table 8's setting"),
            (Setting.of("mobilenet_v1", width=width), "Table 8's setting"),
            (Setting.of("mobilenet_v2", width=nearest),
             "the width (of " + ", ".join(f"{w:g}" for w in MOBILENET_V2_WIDTHS)
             + ") with MACs nearest the budget"),
            (Setting.of("shufflenet_v1", groups=3, scale=scale), "Table 8's setting")]
    for setting in _zoo_candidates():
        macs = context.analyze(setting).total.macs / MILLION
        budget = _nearest_budget(macs)
        if _log_distance(macs, budget) <= math.log(NEAR):
            groups[budget].append((setting, f"a zoo model within {NEAR:g}x of the budget"))
    return groups


def _top1_error(setting: Setting, cost: "ModelCost", paper_row) -> tuple[float | None, str]:
    if paper_row is not None:
        return paper_row.top1_error, "Ma et al. 2018 (ShuffleNet V2), Table 8"
    pub = published_for(cost)
    if pub is not None and pub.top1_percent is not None:
        return round(100 - pub.top1_percent, 2), pub.source
    return None, ""


def shufflenet_v2_table8(context: ReportContext) -> PaperReport:
    """ShuffleNet V2's Table 8 at its four budgets, with costlab's counts and CPU latency."""
    import pandas as pd

    rows = []
    for budget, group in table8_settings(context).items():
        settings = [s for s, _ in group]
        timed = context.time(settings)
        for i, (setting, why) in enumerate(group):
            cost = context.analyze(setting)
            paper = _table8_row(setting)
            error, source = _top1_error(setting, cost, paper)
            rows.append({
                "budget_mflops": budget, "model": setting.model, "variant": setting.variant,
                "paper_label": paper.label if paper else "", "selection": why,
                **totals_m(cost),
                "paper_mflops": paper.mflops if paper else None,
                "top1_error": error, "error_source": source,
                "paper_gpu_batches_per_s": paper.gpu_batches_per_s if paper else None,
                "paper_arm_images_per_s": paper.arm_images_per_s if paper else None,
                **latency_cells(timed, i)})
    frame = pd.DataFrame(rows)
    timed_any = "latency_median_ms" in frame.columns
    sections = ["Table 8 of Ma et al. 2018 (ShuffleNet V2) compares networks at four budgets "
                "of MFLOPs (multiply-adds: costlab's MACs). Beside each network's published "
                "top-1 error and the paper's GPU (GTX 1080Ti, batches/s) and ARM (Snapdragon "
                "810, images/s) speeds stand costlab's counts"
                + (" and its latency on this CPU, timed interleaved within each budget, with "
                   "the ratio to ShuffleNet V2" if timed_any else "") + ".", ""]
    for budget in BUDGETS:
        part = frame[frame.budget_mflops == budget]
        display = pd.DataFrame([{
            "network": r.paper_label or r.model, "setting": r.variant,
            "MACs (M)": f"{r.macs_m:,.1f}",
            "paper MFLOPs": "" if pd.isna(r.paper_mflops) else f"{r.paper_mflops:g}",
            "memory access (MB)": f"{r.memory_access_mb:,.1f}",
            "params (M)": f"{r.params_m:.2f}",
            "top-1 err. (%)": "" if pd.isna(r.top1_error) else f"{r.top1_error:.1f}",
            "paper GPU": "" if pd.isna(r.paper_gpu_batches_per_s)
            else f"{r.paper_gpu_batches_per_s:g}",
            "paper ARM": "" if pd.isna(r.paper_arm_images_per_s)
            else f"{r.paper_arm_images_per_s:g}",
            **({"CPU ms (95% CI)": latency_text(r._asdict()),
                "x ShuffleNet v2": ratio_text(r._asdict())} if timed_any else {}),
        } for r in part.itertuples(index=False)])
        sections += [f"## ~{budget} MFLOPs", "", markdown_table(display, left=2), ""]
        if timed_any:
            fastest = part.loc[part.latency_median_ms.idxmin()]
            fewest = part.loc[part.macs_m.idxmin()]
            sections += [f"Fastest here: {fastest.paper_label or fastest.model} "
                         f"({fastest.latency_median_ms:.2f} ms); fewest MACs: "
                         f"{fewest.paper_label or fewest.model} ({fewest.macs_m:.1f} M).", ""]
    sections += noisy_note(frame, [f"{r.model} ({r.variant})" if r.variant else r.model
                                   for r in frame.itertuples(index=False)])
    sections += _table8_notes(context, frame)
    return PaperReport("shufflenet_v2_table8", "ShuffleNet V2's Table 8: four budgets, "
                       "counted and timed", frame, sections, timed_any)


def _table8_notes(context: ReportContext, frame: "pd.DataFrame") -> list[str]:
    from costlab.references.paper_tables import shufflenet_v2_table8

    shown = {(r.model, r.paper_label) for r in frame.itertuples(index=False)}
    chosen = frame[frame.model == "mobilenet_v2"]
    lines = ["Notes:", "",
             "- MobileNet V2's width at each budget is the one of "
             + ", ".join(f"{w:g}" for w in MOBILENET_V2_WIDTHS)
             + " whose MACs in costlab's (official) layout are nearest the budget: "
             + ", ".join(f"{r.variant} ({r.macs_m:.1f} M) at ~{r.budget_mflops}"
                         for r in chosen.itertuples(index=False)) + "."]
    for row in shufflenet_v2_table8():
        if (row.model, row.label) in shown:
            continue
        setting = setting_from_variant(row.model, row.variant)
        macs = context.analyze(setting).total.macs / MILLION
        lines.append(f"- Not shown: Table 8's {row.label} ({row.mflops:g} MFLOPs, "
                     f"{row.top1_error:g}% error, at ~{row.budget_mflops}), the authors' own "
                     f"implementation; costlab's {setting.label}, the official layout, costs "
                     f"{macs:.1f} M MACs and sits nearer another budget.")
    lines += [f"- Other zoo CNNs join the budget nearest their MACs when within {NEAR:g}x of "
              "it, on Table 8's 224x224 input. Table 8's DenseNet, Xception, CondenseNet, "
              "IGCV2/3 and PNASNet rows are not in the zoo (its Xception rows are the "
              "authors' scaled-down versions; costlab's Xception is 8.4 G MACs at 299x299).",
              "- Error where Table 8 has no row: 100 - the published top-1 (error_source in "
              "the CSV)."]
    return lines


def setting_from_variant(model: str, variant: str, resolution: int | None = None) -> Setting:
    """The setting a published variant string (``"groups=3,scale=0.5"``) names."""
    from costlab.models import registry
    from costlab.references.paper_tables import knobs_of

    given = knobs_of(variant)
    resolved = registry().get(model).resolve_knobs(given)
    return Setting.of(model, resolution, **{k: resolved[k] for k in given})
