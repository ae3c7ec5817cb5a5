"""The papers' tables, regenerated from costlab's own counts and measurements.

Each builder takes a ``ReportContext`` and returns a ``PaperReport``: a data frame (written
as CSV) and Markdown sections (written under the header the context adds: machine,
versions, date, how latency was measured, and the conventions). Columns measured by timing
start with ``latency_``; everything else is a count or a published number, the same on
every machine, and is what the staleness test compares with the checked-in reports.

``costlab report NAME ...`` runs them (``--all`` for every one in ``REPORTS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from costlab.report.latency import latency_cells
from costlab.workflows.papers.context import (CNN_FAMILIES, MILLION, PaperReport, ReportContext,
                                          Setting, latency_text,
                                          markdown, markdown_table, noisy_note, ratio_text)
from costlab.workflows.papers.table8 import shufflenet_v2_table8
from costlab.report.tables import published_for, totals_m

if TYPE_CHECKING:
    import pandas as pd

KB = 1000  # MobileNetV2's Table 3 "Kb": its figures are thousands of bytes


def _saving(before: float, after: float) -> float | None:
    return 100.0 * (1 - after / before) if before else None


# --------------------------------------------------------------- 1. MobileNet V1 vs V2

RATIO_OF = {"macs_m": "macs_ratio", "flops_m": "flops_ratio", "params_m": "params_ratio",
            "memory_access_mb": "memory_access_ratio",
            "peak_activation_mb": "peak_activation_ratio"}


def latency_sentence(name: str, base: str, row: Any) -> str:
    """``mobilenet_v2 takes 0.91x the latency of mobilenet_v1 (95% CI 0.89-0.93): faster``."""
    verdict = row["latency_verdict"]
    verdict = ("the data cannot tell them apart" if verdict == "indistinguishable"
               else f"{verdict} than {base}")
    return (f"{name} takes {row['latency_ratio']:.2f}x the latency of {base} (95% CI "
            f"{row['latency_ratio_ci_low']:.2f}-{row['latency_ratio_ci_high']:.2f}): {verdict}")


def mobilenet_v1_vs_v2(context: ReportContext) -> PaperReport:
    """The comparison the seed articles discuss, with measured latency beside the counts."""
    import pandas as pd

    settings = [Setting.of("mobilenet_v1"), Setting.of("mobilenet_v2")]
    costs = [context.analyze(s) for s in settings]
    timed = context.time(settings)
    base = totals_m(costs[0])
    rows = []
    for i, (setting, cost) in enumerate(zip(settings, costs)):
        totals = totals_m(cost)
        pub = published_for(cost)
        rows.append({
            "model": setting.model, **totals,
            "published_macs_m": pub.macs_millions if pub else None,
            "published_params_m": pub.params_millions if pub else None,
            "published_top1": pub.top1_percent if pub else None,
            "published_source": pub.source if pub else "",
            **{ratio: totals[key] / base[key] for key, ratio in RATIO_OF.items()},
            **latency_cells(timed, i)})
    frame = pd.DataFrame(rows)
    v1, v2 = frame.iloc[0], frame.iloc[1]
    labels = {"macs_m": "MACs (M)", "flops_m": "FLOPs (M)", "params_m": "params (M)",
              "memory_access_mb": "memory access (MB)",
              "peak_activation_mb": "peak activation (MB)"}
    display = [{"": label, "MobileNet V1": f"{v1[k]:,.2f}", "MobileNet V2": f"{v2[k]:,.2f}",
                "V2 / V1": f"{v2[RATIO_OF[k]]:.2f}x"} for k, label in labels.items()]
    display.append({"": "published top-1 (%)", "MobileNet V1": f"{v1.published_top1:.1f}",
                    "MobileNet V2": f"{v2.published_top1:.1f}",
                    "V2 / V1": f"{v2.published_top1 - v1.published_top1:+.1f} points"})
    notes = [f"- MobileNet V2 needs {v2.macs_ratio:.2f}x the MACs and {v2.params_ratio:.2f}x "
             f"the parameters of V1, but moves {v2.memory_access_ratio:.2f}x the memory and "
             f"holds {v2.peak_activation_ratio:.2f}x the peak activation memory: its inverted "
             "residuals run depthwise convs and ReLU6 on tensors six times wider than their "
             "inputs."]
    if timed is not None:
        display.append({"": "CPU latency, median (95% CI), ms", "MobileNet V1": latency_text(v1),
                        "MobileNet V2": latency_text(v2), "V2 / V1": ratio_text(v2)})
        notes.append("- " + latency_sentence("mobilenet_v2", "mobilenet_v1", v2) + ".")
    sections = [markdown_table(pd.DataFrame(display)), "", *notes, "",
                *noisy_note(frame, list(frame.model)),
                "Published: " + "; ".join(sorted({s for s in frame.published_source if s}))
                + "."]
    return PaperReport("mobilenet_v1_vs_v2", "MobileNet V1 vs V2: counts, memory and latency",
                       frame, sections, timed is not None)


# ------------------------------------------------------- 3. MobileNet V1 width x resolution

GRID_WIDTHS = (1.0, 0.75, 0.5, 0.25)
GRID_RESOLUTIONS = (224, 192, 160, 128)


def mobilenet_v1_grid(context: ReportContext) -> PaperReport:
    """MobileNet V1's width multiplier x resolution grid (its Tables 6 and 7, Figures 4-5)."""
    import pandas as pd

    from costlab.workflows.sweep import sweep
    from costlab.references.paper_tables import mobilenet_v1_tables6_7

    context.say("sweeping mobilenet_v1 over width x resolution")
    result = sweep("mobilenet_v1", {"width": list(GRID_WIDTHS)}, list(GRID_RESOLUTIONS))
    paper = {(r.width, r.resolution): r for r in mobilenet_v1_tables6_7()}
    rows = []
    for point, cost in zip(result.points, result.costs):
        width, resolution = float(point["width"]), int(point["resolution"])
        ref = paper.get((width, resolution))
        tables = sorted({r.table for r in mobilenet_v1_tables6_7()
                         if (r.width, r.resolution) == (width, resolution)})
        macs, params = cost.total.macs / MILLION, cost.total.params / MILLION
        rows.append({
            "width": width, "resolution": resolution, "macs_m": macs,
            "flops_m": cost.total.flops / MILLION, "params_m": params,
            "memory_access_mb": cost.total.memory_access_bytes / MILLION,
            "paper_tables": " and ".join(str(t) for t in tables),
            "paper_macs_m": ref.macs_millions if ref else None,
            "paper_params_m": ref.params_millions if ref else None,
            "paper_top1": ref.top1_percent if ref else None,
            "macs_vs_paper_pct": 100 * (macs - ref.macs_millions) / ref.macs_millions
            if ref else None,
            "params_vs_paper_pct": 100 * (params - ref.params_millions) / ref.params_millions
            if ref else None})
    frame = pd.DataFrame(rows)

    def grid(column: str, fmt: str) -> "pd.DataFrame":
        table = frame.pivot(index="width", columns="resolution", values=column)
        table = table.loc[list(GRID_WIDTHS), list(GRID_RESOLUTIONS)]
        return pd.DataFrame([{"width": str(w), **{str(r): format(table.loc[w, r], fmt)
                                                     for r in GRID_RESOLUTIONS}}
                             for w in GRID_WIDTHS])

    def paper_table(number: int) -> "pd.DataFrame":
        shown = []
        for ref in (r for r in mobilenet_v1_tables6_7() if r.table == number):
            row = frame[(frame.width == ref.width) & (frame.resolution == ref.resolution)].iloc[0]
            shown.append({"network": f"{ref.width} MobileNet-{ref.resolution}",
                          "top-1 (%)": f"{ref.top1_percent:g}",
                          "paper MACs (M)": f"{ref.macs_millions:g}",
                          "costlab MACs (M)": f"{row.macs_m:.1f}",
                          "paper params (M)": f"{ref.params_millions:g}",
                          "costlab params (M)": f"{row.params_m:.3f}",
                          "MACs vs paper": f"{row.macs_vs_paper_pct:+.2f}%"})
        return pd.DataFrame(shown)

    sections = [
        "Howard et al. 2017 (MobileNets) shrink the network with a width multiplier (Table 6) "
        "and the input resolution (Table 7); MACs fall with the square of either, parameters "
        "only with the width. The full grid, counted by `costlab sweep mobilenet_v1 --width "
        + ",".join(f"{w:g}" for w in GRID_WIDTHS) + " --resolution "
        + ",".join(str(r) for r in GRID_RESOLUTIONS) + "`:", "",
        "MACs (M), width x resolution:", "", markdown_table(grid("macs_m", ",.1f")), "",
        "Params (M), width x resolution:", "", markdown_table(grid("params_m", ".3f")), "",
        "## Table 6: width multiplier (224x224)", "", markdown_table(paper_table(6)), "",
        "## Table 7: resolution (width 1.0)", "", markdown_table(paper_table(7)), "",
        "The paper's parameter counts leave out BatchNorm's scale and shift; costlab "
        "counts every parameter (4,231,976 at width 1.0).", ""]
    return PaperReport("mobilenet_v1_grid", "MobileNet V1's width x resolution grid "
                       "(Tables 6-7)", frame, sections, False)


# -------------------------------------------------------- 4. MobileNetV2's memory table

ACTIVATION_BYTES = 2  # Table 3 assumes 16-bit activations
# (column, setting, the paper's network it is compared with)
MEMORY_NETWORKS = (
    ("MobileNet V1", Setting.of("mobilenet_v1"), "mobilenet_v1"),
    ("MobileNet V2", Setting.of("mobilenet_v2"), "mobilenet_v2"),
    ("ShuffleNet (2x, g=3)", Setting.of("shufflenet_v1", groups=3, scale=2.0), "shufflenet"),
    ("ShuffleNet (2x, g=2)", Setting.of("shufflenet_v1", groups=2, scale=2.0), "shufflenet"),
)


def mobilenet_v2_memory(context: ReportContext) -> PaperReport:
    """MobileNetV2's Table 3: activation memory per spatial resolution, paper and costlab."""
    import pandas as pd

    from costlab.analysis.stage_memory import stage_memory
    from costlab.references.paper_tables import mobilenet_v2_table3

    paper = {(c.network, c.resolution): c for c in mobilenet_v2_table3()}
    rows = []
    for column, setting, network in MEMORY_NETWORKS:
        stages = stage_memory(context.analyze(setting).layers, ACTIVATION_BYTES)
        for stage in stages:
            ref = paper.get((network, str(stage.height))) if stage.height == stage.width \
                else None
            rows.append({"network": column, "model": setting.model, "variant": setting.variant,
                         "resolution": stage.label,
                         "paper_channels": ref.channels if ref else None,
                         "paper_kb": ref.memory_kb if ref else None,
                         "max_channels": stage.max_channels,
                         "largest_tensor_kb": stage.largest_tensor_bytes / KB,
                         "live_kb": stage.live_bytes / KB, "live_at": stage.live_at,
                         "ops": stage.ops})
        ref = paper[(network, "max")]
        rows.append({"network": column, "model": setting.model, "variant": setting.variant,
                     "resolution": "max", "paper_channels": None, "paper_kb": ref.memory_kb,
                     "max_channels": None,
                     "largest_tensor_kb": max(s.largest_tensor_bytes for s in stages) / KB,
                     "live_kb": max(s.live_bytes for s in stages) / KB, "live_at": "",
                     "ops": sum(s.ops for s in stages)})
    frame = pd.DataFrame(rows)
    for column in ("paper_channels", "max_channels"):
        frame[column] = frame[column].astype("Int64")

    def cell(channels: Any, kb: Any) -> str:
        if pd.isna(kb):
            return ""
        return f"{int(channels)}/{kb:,.0f}" if not pd.isna(channels) else f"{kb:,.0f}"

    order = list(dict.fromkeys(frame.resolution))
    order = [r for r in order if r != "max"] + ["max"]
    display = []
    for resolution in order:
        line: dict[str, str] = {"size": resolution}
        for column, _, network in MEMORY_NETWORKS:
            part = frame[(frame.network == column) & (frame.resolution == resolution)]
            if column.endswith("g=2)"):
                pass  # the paper has one ShuffleNet column, shown beside g=3
            elif part.empty or network != "shufflenet" or column.endswith("g=3)"):
                paper_part = part if not part.empty else None
                line[f"{column.split(' (')[0]}: paper"] = "" if paper_part is None else cell(
                    paper_part.paper_channels.iloc[0], paper_part.paper_kb.iloc[0])
            line[f"{column}: costlab"] = "" if part.empty else cell(
                part.max_channels.iloc[0], part.largest_tensor_kb.iloc[0])
            line[f"{column}: live"] = "" if part.empty else f"{part.live_kb.iloc[0]:,.0f}"
        display.append(line)
    v2 = frame[frame.network == "MobileNet V2"].set_index("resolution")
    sections = [
        "Table 3 of Sandler et al. 2018 (MobileNetV2) gives, per spatial resolution, the "
        "channels and memory (Kb: thousands of bytes, 16-bit activations) that must be "
        "materialized. Cells are channels/Kb. *paper*: the paper's figure; *costlab*: the "
        "paper's own measure on costlab's trace, the widest activation at that resolution "
        "(max channels x h x w x 2 bytes); *live*: the most activation Kb held at once while "
        "that resolution's ops run, from the traced dataflow (inputs, outputs and shortcuts "
        "kept for later; BatchNorm and activations in place; a stride-2 op counts at the "
        "resolution it reads).", "",
        markdown_table(pd.DataFrame(display)), "",
        "Why they differ: the paper counts one tensor per resolution, and for MobileNetV2 only "
        "the thin bottleneck tensors, since its Section 5 computes each expanded tensor in "
        "chunks and never materializes it whole. costlab's live set holds each op's input and "
        "output together, plus any shortcut waiting for its add, with the expansion "
        f"materialized (MobileNet V2 at 14x14: {int(v2.max_channels['14x14'])} channels, "
        f"{v2.live_kb['14x14']:,.0f} Kb live), which is what a runtime that does not split "
        "the expansion must hold.", "",
        "The paper's ShuffleNet figures (400, 800 and 1600 channels at 28, 14 and 7) are those "
        "of ShuffleNet 2x with g=2, as the g=2 column shows to the Kb; with g=3, as the paper "
        "labels it, the stages are 480, 960 and 1920 channels wide. MobileNet V1's 199 Kb at "
        "7x7 equals two 1024-channel tensors (an op's input and output, 2 x 100 Kb), not one "
        "as in its other rows.", "",
        "The 224x224 row is the input image and the first convolution, which the paper leaves "
        "out (its Section 5 notes a trick that shrinks the first layer's memory)."]
    return PaperReport("mobilenet_v2_memory", "MobileNetV2's memory table (Table 3): "
                       "activations held per resolution", frame, sections, False)


# ------------------------------------------------- 5. Inception v3's factorizations

def inception_v3_factorization(context: ReportContext) -> PaperReport:
    """What each factorization of Inception v3 (and GoogLeNet's 1x1 reductions) saves."""
    import pandas as pd

    from costlab.references.paper_tables import inception_factorizations

    rows = []
    for claim in inception_factorizations():
        before = context.analyze(Setting.of(claim.baseline))
        after = context.analyze(Setting.of(claim.factorized))
        b, a = before.total, after.total
        rows.append({
            "baseline": claim.baseline, "factorized": claim.factorized,
            "input": totals_m(before)["input"],
            "baseline_macs": b.macs, "factorized_macs": a.macs,
            "macs_saved_pct": _saving(b.macs, a.macs),
            "baseline_params": b.params, "factorized_params": a.params,
            "params_saved_pct": _saving(b.params, a.params),
            "baseline_memory_access_bytes": b.memory_access_bytes,
            "factorized_memory_access_bytes": a.memory_access_bytes,
            "memory_access_saved_pct": _saving(b.memory_access_bytes, a.memory_access_bytes),
            "paper_claimed_saving_pct": claim.claimed_saving_pct,
            "paper_claim": claim.claim, "source": claim.source})
    frame = pd.DataFrame(rows)
    display = pd.DataFrame([{
        "baseline -> factorized": f"{r.baseline} -> {r.factorized}", "input": r.input,
        "MACs (M)": f"{r.baseline_macs / MILLION:,.2f} -> {r.factorized_macs / MILLION:,.2f}",
        "MACs saved": f"{r.macs_saved_pct:.1f}%",
        "params saved": f"{r.params_saved_pct:.1f}%",
        "memory access": f"{-r.memory_access_saved_pct:+.1f}%",
        "paper's claim": "" if pd.isna(r.paper_claimed_saving_pct)
        else f"{r.paper_claimed_saving_pct:g}%",
    } for r in frame.itertuples(index=False)])
    sections = [
        "Szegedy et al. 2016 (Inception v3, Section 3) factorize large convolutions into "
        "smaller and asymmetric ones; GoogLeNet (Szegedy et al. 2015) put 1x1 reductions in "
        "front of its 3x3 and 5x5 convolutions. Each pair is a registered block (`costlab "
        "list`, family block) on the same input, the same channels in and out.", "",
        markdown_table(display, left=2), "",
        "The paper's words:", "",
        *[f"- {r.baseline} -> {r.factorized}: {r.paper_claim} ({r.source})."
          for r in frame.itertuples(index=False)], "",
        "MACs and params of a plain convolution scale with its kernel area, so their saving "
        "is the paper's arithmetic exactly (18/25, 6/9, 2n/n^2). Memory access (bytes read "
        "and written, the column above as a change) does not follow: a factorized pair writes "
        "and reads an intermediate tensor that the single convolution does not have, "
        + _memory_verdict(frame) + "."]
    return PaperReport("inception_v3_factorization", "Inception v3's factorizations: what "
                       "they save", frame, sections, False)


def _memory_verdict(frame: "pd.DataFrame") -> str:
    more = [f"{r.factorized} (+{-r.memory_access_saved_pct:.0f}%)"
            for r in frame.itertuples(index=False) if r.memory_access_saved_pct < 0]
    if not more:
        return "yet every factorization here still moves less memory"
    return "so " + ", ".join(more) + " move" + ("s" if len(more) == 1 else "") + \
        " more memory than what they replace"


# ------------------------------------------------------------- 6. G1-G4 across the zoo

def guidelines_zoo(context: ReportContext) -> PaperReport:
    """ShuffleNet V2's guidelines G1-G4 audited on every CNN of the zoo, in one table."""
    import pandas as pd

    from costlab.analysis.guidelines import THRESHOLDS, audit
    from costlab.models import registry

    reg = registry()
    rows = []
    for name in reg.names():
        spec = reg.get(name)
        if spec.family not in CNN_FAMILIES:
            continue
        cost = context.analyze(Setting.of(name))
        result = audit(cost)
        row: dict[str, Any] = {"model": name, "family": spec.family,
                               "input": totals_m(cost)["input"],
                               "macs_m": cost.total.macs / MILLION}
        for r in result.results:
            key = r.guideline.lower()
            row[f"{key}_verdict"] = r.verdict
            row[f"{key}_metric"] = r.key_metric
            row[f"{key}_value"] = r.value
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values(["family", "macs_m"], kind="stable") \
        .reset_index(drop=True)

    def figure(guideline: str, value: float) -> str:
        return f"{value:.2f}" if guideline == "g4" else f"{100 * value:.1f}%"

    display = pd.DataFrame([{
        "model": r["model"], "MACs (M)": f"{r['macs_m']:,.1f}",
        **{g.upper(): f"{r[f'{g}_verdict']} ({figure(g, r[f'{g}_value'])})"
           for g in ("g1", "g2", "g3", "g4")}} for _, r in frame.iterrows()])
    tally = {g: frame[f"{g}_verdict"].value_counts().to_dict() for g in ("g1", "g2", "g3", "g4")}
    t = THRESHOLDS
    sections = [
        "Every CNN of the zoo at its default setting, audited by `costlab guidelines` against "
        "the four guidelines of Ma et al. 2018 (ShuffleNet V2). Each cell is the verdict and "
        "the figure behind it: G1 the share of the arithmetic ops' memory access (bytes of the "
        "convs other than depthwise, linear layers and attention) in 1x1 convs with unequal "
        "widths, G2 the share in excessive group convs, G3 the share in blocks of more than "
        f"{t.max_branches} parallel branches, G4 element-wise bytes per byte of the "
        "arithmetic ops (see README, Guidelines).", "",
        markdown_table(display), "",
        "Verdicts: " + "; ".join(
            f"{g.upper()} " + ", ".join(f"{n} {v}" for v, n in sorted(c.items()))
            for g, c in tally.items()) + ".", "",
        f"Thresholds: G1-G3 warn at {t.share_warn:.0%} and fail at {t.share_fail:.0%} of the "
        f"arithmetic ops' bytes; G4 warns at {t.elementwise_warn:g} and fails at {t.elementwise_fail:g}; a 1x1 "
        f"or group conv is flagged when it moves more than {t.layer_excess:.2%} more memory "
        "than its ideal."]
    return PaperReport("guidelines_zoo", "ShuffleNet V2's guidelines G1-G4 across the zoo",
                       frame, sections, False)


# ------------------------------------------------------------- 7. the training step

TRAINING_DECODERS = ("gpt2_small", "llama_70b", "sasrec")
TRAINING_BATCH = {"cnn": 32, "decoder": 8}  # a typical training batch of each kind
TRAINING_OPTIMIZER = "adam"


def training_cost(context: ReportContext) -> PaperReport:
    """A training step of the zoo's CNNs and decoders: forward, backward and step MACs, the
    backward/forward ratio, and what the step holds in memory, at batch 1 and a training
    batch (Adam, fp32)."""
    import pandas as pd

    from costlab.models import registry
    from costlab.workflows.analyze import analyze

    reg = registry()
    names = [(n, "cnn") for n in reg.names() if reg.get(n).family in CNN_FAMILIES]
    names += [(n, "decoder") for n in TRAINING_DECODERS]
    rows = []
    for name, kind in names:
        for batch in (1, TRAINING_BATCH[kind]):
            cost = analyze(name, batch=batch, mode="train", optimizer=TRAINING_OPTIMIZER)
            memory = cost.training_memory
            forward, backward = cost.phase("forward"), cost.phase("backward")
            rows.append({
                "model": name, "kind": kind, "batch": batch,
                "input": totals_m(cost)["input"],
                "forward_macs_m": forward.macs / MILLION,
                "backward_macs_m": backward.macs / MILLION,
                "step_macs_m": cost.total.macs / MILLION,
                "backward_forward_macs": cost.backward_forward_macs,
                "step_flops_m": cost.total.flops / MILLION,
                "optimizer_flops_m": cost.phase("optimizer").flops / MILLION,
                "weights_mb": memory.weights_bytes / MILLION,
                "gradients_mb": memory.gradients_bytes / MILLION,
                "optimizer_state_mb": memory.optimizer_state_bytes / MILLION,
                "saved_activations_mb": memory.activation_bytes / MILLION,
                "peak_mb": memory.peak_bytes / MILLION, "peak_phase": memory.peak_phase,
                "partial": cost.total.partial,
            })
    frame = pd.DataFrame(rows)

    def table(subset: "pd.DataFrame") -> str:
        return markdown_table(pd.DataFrame([{
            "model": r.model, "batch": r.batch, "fwd MACs (M)": f"{r.forward_macs_m:,.1f}",
            "bwd MACs (M)": f"{r.backward_macs_m:,.1f}",
            "step MACs (M)": f"{r.step_macs_m:,.1f}",
            "bwd/fwd": f"{r.backward_forward_macs:.3f}",
            "weights (MB)": f"{r.weights_mb:,.1f}", "grads (MB)": f"{r.gradients_mb:,.1f}",
            "Adam state (MB)": f"{r.optimizer_state_mb:,.1f}",
            "saved act. (MB)": f"{r.saved_activations_mb:,.1f}",
            "peak (MB)": f"{r.peak_mb:,.1f}", "peak in": r.peak_phase}
            for r in subset.itertuples(index=False)]))

    one = frame[frame.batch == 1]
    lowest = one.loc[one.backward_forward_macs.idxmin()]
    sections = [
        "One training step of every CNN of the zoo and of its decoders, traced on meta by "
        f"`costlab analyze MODEL --mode train --optimizer {TRAINING_OPTIMIZER} --batch B`: "
        "the forward in train mode, the loss (the sum of the outputs), the backward through "
        "autograd (weight gradients for every parameter, none for the input), the Adam "
        "step. MACs as everywhere (conv, linear, matmul, attention); the fused attention "
        "backward recomputes the scores. Memory in MB (10^6 bytes), fp32.", "",
        "The backward takes twice the forward's MACs only where every layer needs both "
        "gradients: the first conv needs no input gradient (the image needs none), so a "
        "CNN whose first layer is a large share of its MACs is below 2 "
        f"(lowest here: {lowest.model}, {lowest.backward_forward_macs:.3f}); a decoder's "
        "fused attention backward recomputes QK^T, which takes it above 2.", "",
        "## CNNs", "", table(frame[frame.kind == "cnn"]), "",
        "## Decoders", "", table(frame[frame.kind == "decoder"]), "",
        "Peak: weights + optimizer state + the largest total of saved activations, "
        "temporaries and gradients alive at once (`reports/training_memory.md` checks it "
        "against torch's memory profiler)."]
    return PaperReport("training_cost", "A training step of the zoo: backward, optimizer, "
                       "memory", frame, sections, False)


# -------------------------------------------------------------------------- running

REPORTS: dict[str, Callable[[ReportContext], PaperReport]] = {
    "mobilenet_v1_vs_v2": mobilenet_v1_vs_v2,
    "shufflenet_v2_table8": shufflenet_v2_table8,
    "mobilenet_v1_grid": mobilenet_v1_grid,
    "mobilenet_v2_memory": mobilenet_v2_memory,
    "inception_v3_factorization": inception_v3_factorization,
    "guidelines_zoo": guidelines_zoo,
    "training_cost": training_cost,
}


def check_names(names: Sequence[str]) -> list[str]:
    from costlab.core.errors import UsageError

    unknown = [n for n in names if n not in REPORTS]
    if unknown:
        raise UsageError(f"unknown report {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(REPORTS)} (or --all)")
    return list(dict.fromkeys(names))


def write_report(report: PaperReport, context: ReportContext, out_dir: str | Path) -> list[Path]:
    """Write ``NAME.md`` and ``NAME.csv`` into ``out_dir``, each atomically."""
    from costlab.report.output_files import write_atomic

    paths = [Path(out_dir) / f"{report.name}.md", Path(out_dir) / f"{report.name}.csv"]
    write_atomic(str(paths[0]), markdown(report, context))
    write_atomic(str(paths[1]), report.frame.to_csv(index=False))
    return paths


def plan_reports(names: Sequence[str], all_reports: bool, out_dir: str | Path) -> list[str]:
    """The reports to make, checked before any work: known names, and their files
    writable in ``out_dir`` (created, with its parents, if missing)."""
    from costlab.core.errors import UsageError
    from costlab.report.output_files import check_directory, resolve_output

    if all_reports == bool(names):
        raise UsageError("name the reports to make, or give all_reports; reports: "
                         + ", ".join(REPORTS))
    chosen = list(REPORTS) if all_reports else check_names(names)
    check_directory(str(out_dir))
    for name in chosen:
        resolve_output(str(Path(out_dir) / f"{name}.md"))
        resolve_output(str(Path(out_dir) / f"{name}.csv"))
    return chosen


def make_reports(chosen: Sequence[str], context: ReportContext, out_dir: str | Path,
                 ) -> Iterator[list[Path]]:
    """Build and write each report in turn; yields the paths written for each."""
    for name in chosen:
        context.say(f"building {name}")
        yield write_report(REPORTS[name](context), context, out_dir)
