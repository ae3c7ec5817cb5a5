"""Results as documents (costlab.report.document); files are written by output_files.

One builder per result of the costs: analysis, comparison, the model list, a plain frame,
a sweep, the guidelines audit. The renderers turn the documents into each format."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Sequence

from costlab.core import conventions
from costlab.report import tables
from costlab.report.payload import payload_header, records
from costlab.report.document import (ONLY_SCREEN, ONLY_TEXT, Block, Column, Document, Heading,
                                     Table, bullets, caption, note, number, scaled)
from costlab.report.render import (cell_text, mega, millions, nan_none, percent,
                                   ratio, share)

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost
    from costlab.models.registry import ModelSpec



# ------------------------------------------------------------------------ analysis

def analysis_payload(cost: "ModelCost", depth: int, layers: bool = True) -> dict[str, Any]:
    info = cost.info
    payload = payload_header("analysis")
    payload.update({
        "model": {"name": info.name, "knobs": info.knobs,
                  "input_shapes": [list(s) for s in info.input_shapes], "device": info.device,
                  "dtype": info.dtype, "reference": info.reference, "notes": info.notes,
                  "mode": info.mode},
        "totals": tables.totals_dict(cost),
        "published": tables.published_dict(cost),
        "modules": records(cost.to_dataframe(depth=depth)),
        "layers": records(cost.to_dataframe()) if layers else [],
        "uncounted": [{"op": u.op, "calls": u.calls, "modules": u.modules}
                      for u in cost.uncounted],
    })
    return payload


def _module_table(cost: "ModelCost", depth: int, title: str) -> Table:
    total = cost.total.macs
    rows = [{"module": "  " * (row["depth"] - 1) + row["module"], "type": row["module_type"],
             "read": row["bytes_read"], "written": row["bytes_written"],
             "share": 100 * row["macs"] / total if total else None, **row}
            for row in tables.module_rows(cost, depth)]
    phases = [scaled("forward_macs", "fwd MACs ({unit})"),
              scaled("backward_macs", "bwd MACs ({unit})"),
              scaled("optimizer_flops", "optim FLOPs ({unit})", priority=2)] \
        if cost.training else []
    return Table(title=f"{title}\nmodules to depth {depth}", caption=conventions.MACS,
                 views=ONLY_SCREEN, rows=rows, columns=[
                     Column(key="module", label="module"),
                     Column(key="type", label="type", priority=2),
                     scaled("macs", "MACs ({unit})"), *phases,
                     scaled("flops", "FLOPs ({unit})"),
                     scaled("params", "params ({unit})"),
                     scaled("read", "read ({unit})", "bytes", priority=1),
                     scaled("written", "written ({unit})", "bytes", priority=1),
                     number("share", "% MACs", share, unit="%", priority=1)])


def phase_table(cost: "ModelCost") -> Table:
    """A training step's phases: forward, backward, optimizer step."""
    rows = [{**row, "share_flops": 100 * row["share_flops"]} for row in tables.phase_rows(cost)]
    ratio_text = (f"backward/forward MACs {cost.backward_forward_macs:.3f}"
                  if cost.backward_forward_macs is not None else "no forward MACs")
    return Table(title=f"training step by phase ({ratio_text})", rows=rows,
                 caption=conventions.TRAINING, columns=[
                     Column(key="phase", label="phase"),
                     scaled("macs", "MACs ({unit})"), scaled("flops", "FLOPs ({unit})"),
                     scaled("memory_access_bytes", "mem access ({unit})", "bytes"),
                     number("ops", "ops", priority=1),
                     number("share_flops", "% FLOPs", share, unit="%", priority=1)])


def training_memory_table(cost: "ModelCost") -> Table:
    """What the step holds: parameter state, saved activations, the peak and its parts."""
    memory = cost.training_memory
    setup = cost.info.training
    rows = [{"part": label, "bytes": getattr(memory, key)}
            for key, label in tables.TRAINING_MEMORY_ROWS]
    title = (f"training memory ({setup.optimizer}, {setup.precision}; peak in the "
             f"{memory.peak_phase})")
    return Table(title=title, rows=rows, columns=[
        Column(key="part", label="memory"), scaled("bytes", "bytes ({unit})", "bytes")])


SHOWN_SHAPES = 3


def abbreviated_shapes(text: str) -> str:
    """A long list of input shapes (an LSTM's stack of 64 weights) as its first few and a
    count: the screen view only; CSV and JSON keep every shape."""
    shapes = text.split()
    if len(shapes) <= SHOWN_SHAPES + 1:
        return text
    return " ".join(shapes[:SHOWN_SHAPES]) + f" … ({len(shapes)} tensors)"


def _layer_table(cost: "ModelCost") -> Table:
    rows = [{**row, "module": row["module"] or "(root)", "groups": str(row["groups"]),
             "input_shape": abbreviated_shapes(row["input_shape"]),
             "category": row["category"] if row["counted"] else "uncounted",
             "share_macs": 100 * row["share_macs"]} for row in tables.layer_rows(cost)]
    return Table(title="layers (one row per op; views not shown)", views=ONLY_SCREEN,
                 rows=rows, columns=[
                     number("index", "#", priority=3),
                     Column(key="module", label="module", wrap=True),
                     Column(key="op", label="op"),
                     Column(key="category", label="category", styles={"uncounted": "red"},
                            priority=2),
                     Column(key="input_shape", label="input", wrap=True, priority=2),
                     Column(key="output_shape", label="output", wrap=True, priority=1),
                     number("kernel", "k", priority=3), number("stride", "s", priority=3),
                     number("groups", "g", priority=3),
                     scaled("macs", "MACs ({unit})"), scaled("flops", "FLOPs ({unit})"),
                     scaled("params", "params ({unit})", priority=1),
                     scaled("bytes_read", "read ({unit})", "bytes", priority=2),
                     scaled("bytes_written", "written ({unit})", "bytes", priority=2),
                     number("share_macs", "% MACs", share, unit="%", priority=1)])


def _totals_table(cost: "ModelCost") -> Table:
    t = cost.total
    pairs = [("MACs", t.macs), ("FLOPs", t.flops), ("params", t.params),
             ("buffers", t.buffers), ("memory access (bytes)", t.memory_access_bytes),
             ("peak activation (bytes)", t.peak_activation_bytes), ("ops", t.ops)]
    return Table(layout="pairs", views=ONLY_TEXT,
                 columns=[Column(key="total", label="total"), Column(key="value", label="value")],
                 rows=[{"total": name, "value": f"{value:,}"} for name, value in pairs])


def _totals_line(cost: "ModelCost") -> str:
    t = cost.total
    partial = " (partial: some ops uncounted)" if t.partial else ""
    step = ""
    if cost.training:
        setup = cost.info.training
        step = (f" (one training step: {setup.optimizer}, {setup.precision}, loss "
                f"{setup.loss}; {setup.trainable_params:,} trainable params)")
    return (f"{step}{partial}: MACs {t.macs:,} ({millions(t.macs)} M), "
            f"FLOPs {t.flops:,} ({millions(t.flops)} M), params {t.params:,}, "
            f"buffers {t.buffers:,}, memory access {millions(t.memory_access_bytes)} MB "
            f"(read {millions(t.bytes_read)}, written {millions(t.bytes_written)}), "
            f"peak activation {millions(t.peak_activation_bytes)} MB, {t.ops} ops; "
            f"bytes as {cost.info.dtype or 'each tensor dtype'}, traced on {cost.info.device}.")


def analysis_document(cost: "ModelCost", depth: int, layers: bool = True) -> Document:
    """One model's cost per module (to ``depth``) and per layer, with its totals."""
    shapes = tables.shapes_text(cost.info.input_shapes)
    blocks: list[Block] = [
        Heading(text=f"{cost.name}: cost per module and layer", views=ONLY_TEXT),
        note(f"Input {shapes}, knobs {tables.variant_text(cost.info.knobs) or 'none'}, "
             f"bytes as {cost.info.dtype or 'each tensor dtype'}.", views=ONLY_TEXT),
        _totals_table(cost),
        Heading(text=f"Modules (depth {depth})", level=2, views=ONLY_TEXT),
        Table.from_frame(cost.to_dataframe(depth=depth), views=ONLY_TEXT),
        _module_table(cost, depth, f"{cost.name} {cost.info.variant}  input {shapes}"),
    ]
    if cost.training:
        blocks[3:3] = [Heading(text="Training step", level=2, views=ONLY_TEXT),
                       phase_table(cost), training_memory_table(cost)]
    if layers:
        blocks += [Heading(text="Layers", level=2, views=ONLY_TEXT),
                   Table.from_frame(cost.to_dataframe(), views=ONLY_TEXT),
                   _layer_table(cost)]
    published = tables.published_text(cost)
    blocks += [
        note(_totals_line(cost), lead="Total", views=ONLY_SCREEN),
        note(*[f"Note: {n}" for n in cost.info.notes]),
        note(published or "Published: none.", views=ONLY_TEXT),
        *([note(published, views=ONLY_SCREEN)] if published else []),
        note(uncounted_text(cost)),
        caption(conventions.caption(cost.training)),
    ]
    return Document(title=f"{cost.name}: cost per module and layer", kind="analysis",
                    blocks=blocks, payload=analysis_payload(cost, depth, layers),
                    data=Table.from_frame(tables.analysis_frame(cost, depth, layers)))


def uncounted_text(cost: "ModelCost") -> str:
    if not cost.uncounted:
        return ("Uncounted ops: none (every op has a formula or is a known-zero view; "
                f"{cost.known_zero_calls} view/metadata calls).")
    parts = [f"{u.op} x{u.calls} (in {', '.join(m or '(root)' for m in u.modules[:3])})"
             for u in cost.uncounted]
    return "Uncounted ops, so MACs/FLOPs are lower bounds: " + "; ".join(parts) + "."


# ---------------------------------------------------------------------- comparison

MARKDOWN_LABELS = {
    "macs_m": "MACs (M)", "flops_m": "FLOPs (M)", "params_m": "params (M)",
    "buffers_m": "buffers (M)", "memory_access_mb": "memory access (MB)",
    "peak_activation_mb": "peak activation (MB)", "published_macs_m": "published MACs (M)",
    "published_params_m": "published params (M)", "published_top1": "published top-1 (%)",
    "macs_vs_published_pct": "MACs vs published (%)",
    "params_vs_published_pct": "params vs published (%)",
    "macs_ratio": "MACs x", "params_ratio": "params x", "memory_access_ratio": "memory access x",
    "uncounted_ops": "uncounted ops", "backward_forward_macs": "backward/forward MACs",
    "step_peak_mb": "training step peak (MB)",
}


def _mega1(n: float | None) -> str:
    return mega(n, 1)


def _totals_columns() -> list[Column]:
    """A model's totals (``tables.totals_m``: in millions), as comparison and sweep show them,
    each column in the unit its values call for."""
    return [scaled("macs_m", "MACs ({unit})", base=1e6),
            scaled("flops_m", "FLOPs ({unit})", base=1e6),
            scaled("params_m", "params ({unit})", base=1e6),
            scaled("memory_access_mb", "mem access ({unit})", "bytes", base=1e6, priority=1),
            scaled("peak_activation_mb", "peak act ({unit})", "bytes", base=1e6, priority=2)]


# on a terminal, a compare of this many models or fewer shows metrics as rows
TRANSPOSED_MODELS = 4


def _comparison_table(comparison: "ModelComparison") -> Table:
    table = Table(
        title="cost comparison (computed beside published)",
        caption="Ratios are to the first model; pub = published.", views=ONLY_SCREEN,
        rows=tables.comparison_rows(comparison), columns=[
            Column(key="model", label="model"),
            Column(key="variant", label="variant", priority=5),
            Column(key="input", label="input", priority=4),
            *_totals_columns(),
            scaled("published_macs_m", "pub MACs ({unit})", base=1e6, digits=0, priority=3),
            scaled("published_params_m", "pub params ({unit})", base=1e6, digits=1,
                   priority=4),
            number("published_top1", "pub top-1", _mega1, unit="%", priority=2),
            number("macs_vs_published_pct", "MACs vs pub", percent, unit="%", priority=3),
            number("params_vs_published_pct", "params vs pub", percent, unit="%",
                   priority=5),
            number("macs_ratio", "MACs x", ratio, priority=1),
            number("params_ratio", "params x", ratio, priority=4),
            *_training_columns(comparison)],
        transpose_key="model", transpose_rows=TRANSPOSED_MODELS)
    return table


def _training_columns(comparison: "ModelComparison") -> list[Column]:
    """A comparison of training steps adds the backward/forward ratio and the step peak."""
    if not any(c.training for c in comparison.costs):
        return []
    return [number("backward_forward_macs", "bwd/fwd MACs", ratio),
            scaled("step_peak_mb", "step peak ({unit})", "bytes", base=1e6)]


def _board_frame(board) -> "pd.DataFrame":
    """One board's latency rows (host, model, median, CI, ratio and its CI, verdict)."""
    import pandas as pd

    from costlab.report.latency import latency_cells

    return pd.DataFrame([{"host": r.host, "model": r.model, **latency_cells(board, i)}
                         for i, r in enumerate(board.reports)])


def comparison_payload(comparison: "ModelComparison", frame: "pd.DataFrame") -> dict[str, Any]:
    payload = payload_header("comparison")
    payload["models"] = records(frame)
    boards = getattr(comparison, "board_latency", None)
    if boards:
        payload["board_latency"] = [{"host": b.reports[0].host,
                                     "models": records(_board_frame(b)),
                                     "reports": [r.to_dict() for r in b.reports]}
                                    for b in boards]
    payload["totals"] = [tables.totals_dict(c) for c in comparison.costs]
    payload["summary"] = comparison.summary_lines()
    if comparison.latency is not None:
        payload["latency"] = [r.to_dict() for r in comparison.latency.reports]
        payload["latency_order"] = comparison.latency.order
        payload["summary"] += comparison.latency.summary_lines()
    return payload


def comparison_document(comparison: "ModelComparison") -> Document:
    """Models side by side with the published numbers and ratios to the first, and the
    measured latency where it was measured."""
    from costlab.report.latency import latency_comparison_blocks

    frame = tables.comparison_frame(comparison)
    names = " vs ".join(c.name for c in comparison.costs)
    latency = comparison.latency
    sources = sorted({p.source for p in comparison.published if p})
    blocks: list[Block] = [
        Heading(text=names, views=ONLY_TEXT),
        Table.from_frame(frame.drop(columns=["published_source"]), labels=MARKDOWN_LABELS,
                         views=ONLY_TEXT),
        _comparison_table(comparison),
        bullets(comparison.summary_lines()
                + (latency.summary_lines() if latency is not None else []), views=ONLY_TEXT),
        note(*comparison.summary_lines(), views=ONLY_SCREEN),
    ]
    for cost in comparison.costs:
        blocks.append(note(*[f"{cost.name}: note: {n}" for n in cost.info.notes],
                           *([f"{cost.name}: {uncounted_text(cost)}"] if cost.uncounted
                             else []), views=ONLY_SCREEN))
    if latency is not None:
        blocks += [note("Latency measured on: " + "; ".join(
                       latency.reports[0].environment.lines()), views=ONLY_TEXT),
                   caption(conventions.LATENCY, views=ONLY_TEXT)]
    if sources:
        blocks += [note("Published numbers: " + "; ".join(sources) + ".", views=ONLY_TEXT),
                   note("Published: " + "; ".join(sources) + ".", views=ONLY_SCREEN)]
    blocks.append(caption(conventions.caption()))
    boards = getattr(comparison, "board_latency", None)
    if boards:
        for board in boards:  # one table per board: each board's own interleaved rounds
            host = board.reports[0].host
            blocks.append(Heading(text=f"Latency on {host}", level=2, views=ONLY_TEXT))
            blocks.append(Table.from_frame(_board_frame(board), views=ONLY_TEXT))
            board_blocks = latency_comparison_blocks(board)
            board_blocks[0] = replace(board_blocks[0],
                                      title=f"measured latency on {host}, interleaved")
            blocks += board_blocks
    elif latency is not None:
        blocks += latency_comparison_blocks(latency)
    if getattr(comparison, "utilization", None):
        blocks.append(note(*[u.line() for u in comparison.utilization]))
    return Document(title=names, kind="comparison", blocks=blocks,
                    payload=comparison_payload(comparison, frame),
                    data=Table.from_frame(frame))


# ---------------------------------------------------------------------------- list

def models_frame(specs: Sequence["ModelSpec"]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame([{
        "model": s.name, "family": s.family,
        "knobs": ", ".join(f"{k.name}={k.default}" for k in s.knobs),
        "default_input": tables.shape_text((1, *s.default_input())),
        "reference": s.reference,
    } for s in sorted(specs, key=lambda s: (s.family, s.name))],
        columns=["model", "family", "knobs", "default_input", "reference"])


def models_document(specs: Sequence["ModelSpec"]) -> Document:
    """The registered models, their knobs and default inputs, grouped by family."""
    frame = models_frame(specs)
    data = Table.from_frame(frame, views=ONLY_TEXT)
    families = list(frame["family"])
    ends = frozenset(i for i in range(len(families))
                     if i + 1 == len(families) or families[i + 1] != families[i])
    labels = {"knobs": "knobs (defaults)", "default_input": "default input",
              "reference": "follows"}
    shown = Table(title="registered models", rows=data.rows, section_ends=ends,
                  views=ONLY_SCREEN, columns=[Column(key=k, label=labels.get(k, k))
                                              for k in data.keys])
    payload = payload_header("models")
    payload["models"] = records(frame)
    return Document(title="registered models", kind="models", blocks=[data, shown],
                    payload=payload, data=data)


# ------------------------------------------------------------------ any plain frame

def frame_document(frame: "pd.DataFrame", title: str, caption: str = "",
                   kind: str = "table") -> Document:
    """Any table as it is: every column, values formatted plainly on screen."""
    table = Table.from_frame(frame, format=cell_text, title=title, caption=caption)
    payload = payload_header(kind)
    payload["rows"] = records(frame)
    payload["note"] = caption
    return Document(title=title, kind=kind, blocks=[table], payload=payload, data=table)


def _sweep_screen_columns(axes: list[str]) -> list[Column]:
    return [Column(key="point", label="point", priority=3),
            *[Column(key=a, label=a) for a in axes],
            Column(key="input", label="input", priority=4),
            scaled("macs", "MACs ({unit})"), scaled("flops", "FLOPs ({unit})", priority=2),
            scaled("params", "params ({unit})"),
            scaled("memory_access_bytes", "mem access ({unit})", "bytes", priority=1),
            scaled("peak_activation_bytes", "peak act ({unit})", "bytes", priority=2),
            scaled("published_macs_m", "pub MACs ({unit})", base=1e6, digits=0, priority=3),
            number("macs_vs_published_pct", "MACs vs pub", lambda p: percent(nan_none(p)),
                   unit="%", priority=3),
            Column(key="error", label="error")]


def _sweep_summary(result) -> list[str]:
    total, failed = len(result.frame), len(result.failed)
    lines = [f"{total} points ({failed} failed) {result.executor}"
             + (f", {result.resumed} resumed from {result.output}" if result.resumed else "")
             + (f", in {result.elapsed_s:.1f} s" if result.elapsed_s else "")]
    if failed:
        first = result.failed.iloc[0]
        lines.append(f"first failure, point {first['point']}: {first['error']}")
    return lines


def sweep_document(result, *, shown_rows: int | None = None) -> Document:
    """A sweep's costs per point; with two axes of a grid each metric as a grid; with
    ``result.pareto`` the screen lists the front. ``shown_rows`` caps the screen's rows."""
    frame = result.to_dataframe()
    title = f"{result.model}: sweep over {' x '.join(result.axes)}"
    blocks: list[Block] = [Heading(text=title, views=ONLY_TEXT)]
    for metric, label in (("macs", "MACs (M)"), ("params", "params (M)")):
        grid = tables.sweep_grid(result, metric)
        if grid is not None:
            blocks += [note(f"{label}:", views=ONLY_TEXT),
                       Table.from_frame(grid, format=cell_text,
                                        title=f"{result.model}: {label}, {result.axes[0]} "
                                              f"down, {result.axes[1]} across")]
    blocks.append(Table.from_frame(frame, labels=MARKDOWN_LABELS, views=ONLY_TEXT))
    screen, screen_title = frame, f"{result.model}: sweep"
    if result.pareto is not None:
        screen = frame[frame["pareto"]].sort_values(result.pareto[0].column,
                                                    ascending=not result.pareto[0].maximize)
        screen_title = (f"{result.model}: Pareto front, {len(screen)} of {len(frame)} points "
                        f"({result.pareto[0]}, {result.pareto[1]})")
    if shown_rows is not None and len(screen) > shown_rows:
        screen_title += f" (the first {shown_rows} of {len(screen)} rows)"
        screen = screen.head(shown_rows)
    columns = _sweep_screen_columns(result.axes)
    if not len(result.failed):
        columns = [c for c in columns if c.key != "error"]
    screen = screen.astype(object).where(screen.notna(), None)  # pandas' NA as None
    blocks.append(Table(title=screen_title, views=ONLY_SCREEN, rows=screen.to_dict("records"),
                        columns=columns))
    blocks.append(caption(*_sweep_summary(result), conventions.caption()))
    payload = payload_header("sweep")
    payload["model"] = result.model
    payload["axes"] = result.axes
    payload["rows"] = records(frame)
    if result.pareto is not None:
        payload["pareto"] = [{"column": o.column, "maximize": o.maximize} for o in result.pareto]
    return Document(title=title, kind="sweep", blocks=blocks, payload=payload,
                    data=Table.from_frame(_exact_integers(frame)))


def _exact_integers(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Integer columns with gaps (failed points) as their digits: a table's rows are dicts,
    and pandas would read ints beside None back as floats (``2801664.0``)."""
    frame = frame.copy()
    for column in frame.columns:
        if str(frame[column].dtype) == "Int64":
            frame[column] = [None if v is None or v != v else str(int(v))
                             for v in frame[column].astype(object).where(frame[column].notna(),
                                                                          None)]
    return frame


# ---------------------------------------------------------------------- guidelines

# Per guideline, the offender columns worth reading, in order.
GUIDELINE_COLUMNS = {
    "G1": ["module", "c_in", "c_out", "ratio", "memory_access", "lower_bound", "excess",
           "share_memory_access", "share_macs"],
    "G2": ["module", "groups", "memory_access", "ungrouped_memory_access", "excess",
           "share_memory_access", "share_macs"],
    "G3": ["block", "branches", "fragments", "ops", "share_memory_access", "share_macs"],
    "G4": ["module", "op", "output_shape", "memory_access_bytes", "share_bytes"],
}
VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def offenders_table(result, top: int | None) -> "pd.DataFrame":
    """A guideline's offenders, worst first, in the columns that explain the verdict."""
    frame = result.offenders_frame()
    if frame.empty:
        return frame
    columns = [c for c in GUIDELINE_COLUMNS.get(result.guideline, frame.columns)
               if c in frame.columns]
    frame = frame[columns]
    return frame.head(top) if top else frame


def _guidelines_payload(audit, top: int | None) -> dict[str, Any]:
    payload = payload_header("guidelines")
    payload["model"] = audit.model
    payload["thresholds"] = asdict(audit.thresholds)
    payload["results"] = [{
        "guideline": r.guideline, "title": r.title, "verdict": r.verdict,
        "explanation": r.explanation, "key_metric": r.key_metric, "value": r.value,
        "metrics": r.metrics, "offenders": records(offenders_table(r, top))
        if r.offenders else [],
    } for r in audit.results]
    return payload


def guidelines_document(audit, top: int | None = 10, detail: bool = False) -> Document:
    """A model's audit against ShuffleNet V2's guidelines G1-G4, the worst offenders of
    each; its CSV is the summary, or with ``detail`` one row per offender."""
    summary, offenders = audit.to_frames()
    blocks: list[Block] = [
        Heading(text=f"{audit.model}: ShuffleNet V2's guidelines", views=ONLY_TEXT),
        Table.from_frame(summary.drop(columns=["model"]), views=ONLY_TEXT),
        Table(title=f"{audit.model}: ShuffleNet V2's guidelines (Ma et al. 2018)",
              views=ONLY_SCREEN, rows=[
                  {"guideline": r.guideline, "title": r.title, "verdict": r.verdict,
                   "key_metric": f"{r.key_metric} = {cell_text(r.value)}",
                   "why": r.explanation} for r in audit.results],
              columns=[Column(key="guideline", label="", wrap=True),
                       Column(key="title", label="guideline", wrap=True),
                       Column(key="verdict", label="verdict", styles=VERDICT_STYLE, wrap=True),
                       Column(key="key_metric", label="key metric", wrap=True),
                       Column(key="why", label="why", wrap=True)]),
    ]
    for r in audit.results:
        if not r.offenders:
            continue
        frame = offenders_table(r, top)
        blocks += [Heading(text=f"{r.guideline}: {r.title} ({r.verdict}), worst first",
                           level=2, views=ONLY_TEXT),
                   Table.from_frame(frame, views=ONLY_TEXT)]
        if r.verdict != "pass":
            blocks.append(Table.from_frame(
                frame, format=cell_text, views=ONLY_SCREEN,
                title=f"{r.guideline} offenders, worst first (top {len(frame)} of "
                      f"{len(r.offenders)})"))
    thresholds = "Thresholds: " + ", ".join(f"{k}={v:.4g}"
                                            for k, v in asdict(audit.thresholds).items())
    blocks += [note(thresholds, views=ONLY_TEXT),
               caption(thresholds + ". Memory access in elements; see the README for what "
                       "each threshold means.", views=ONLY_SCREEN)]
    return Document(title=f"{audit.model}: ShuffleNet V2's guidelines", kind="guidelines",
                    blocks=blocks, payload=_guidelines_payload(audit, top),
                    data=Table.from_frame(offenders if detail else summary))
