"""The document of ``costlab profile``: measured time by category and by module, beside the
static FLOPs and memory-access shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.core.records import shapes_text
from costlab.report.document import (ONLY_SCREEN, ONLY_TEXT, Block, Column, Document, Heading,
                                     Table, bullets, caption, note, number)

if TYPE_CHECKING:
    import pandas as pd

    from costlab.bench.profile import ProfileReport, ProfileRow

CAPTION = ("Time: measured self time of the aten ops (torch.profiler; on CUDA their kernels' "
           "time), per forward, mean of the profiled forwards in the middle half; shares are "
           "of the profiled total. FLOPs and memory access: the static count (costlab "
           "analyze) of the same model and input. Categories: conv = dense, 1x1 and grouped "
           "convs; element-wise = activations, adds, normalization; data movement = cat, "
           "copies (channel shuffle), padding and views; pooling includes reductions (a "
           "global average pool runs as a mean).")

FRAME_COLUMNS = ["kind", "name", "module_type", "depth", "time_ms", "time_share", "flops",
                 "flops_share", "memory_access_bytes", "bytes_share", "ops"]


def profile_frame(report: "ProfileReport") -> "pd.DataFrame":
    """Categories, then modules, in one frame; ``kind`` says which a row is."""
    import pandas as pd
    from dataclasses import asdict

    rows = [{"kind": "category", **asdict(r)} for r in report.categories]
    rows += [{"kind": "module", **asdict(r)} for r in report.modules]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def summary_lines(report: "ProfileReport") -> list[str]:
    s = report.measured
    return [
        f"measured forward (no profiler): median {s.median_ms:.2f} ms, 95% CI "
        f"{s.ci_low_ms:.2f}-{s.ci_high_ms:.2f} ms, {s.n} runs",
        f"self times of aten ops: {report.profiled_ms:.2f} ms per forward "
        f"({report.forwards} profiled forwards averaged): coverage "
        f"{100 * report.coverage:.1f}% of the measured forward",
        f"{report.matched_records} of {sum(r.ops for r in report.categories)} static ops "
        f"matched in each forward; {report.unmatched_ms:.3f} ms categorized by op name",
    ]


def _title(report: "ProfileReport") -> str:
    shapes = shapes_text(report.input_shapes)
    variant = f" {report.variant}" if report.variant else ""
    return (f"{report.model}{variant}  input {shapes}  on {report.device}, "
            f"{report.threads} thread{'s' if report.threads != 1 else ''}")


def _pct(share: float) -> str:
    return f"{100 * share:.1f}"


def _profile_table(rows: list["ProfileRow"], modules: bool, title: str,
                   caption: str = "") -> Table:
    cells = [{"name": ("  " * max(r.depth - 1, 0) + r.name) if modules else r.name,
              "type": r.module_type, "time_ms": r.time_ms, "time_share": r.time_share,
              "flops_share": r.flops_share, "bytes_share": r.bytes_share,
              "flops": r.flops, "memory_access_bytes": r.memory_access_bytes, "ops": r.ops}
             for r in rows]
    names = [Column(key="name", label="module"), Column(key="type", label="type")] \
        if modules else [Column(key="name", label="category")]
    return Table(title=title, caption=caption, views=ONLY_SCREEN, rows=cells, columns=[
        *names,
        number("time_ms", "time (ms)", lambda v: f"{v:,.3f}", unit="ms"),
        number("time_share", "% time", _pct, unit="%"),
        number("flops_share", "% FLOPs", _pct, unit="%"),
        number("bytes_share", "% mem access", _pct, unit="%"),
        number("flops", "FLOPs (M)", lambda v: f"{v / 1e6:,.2f}", unit="M"),
        number("memory_access_bytes", "mem access (MB)", lambda v: f"{v / 1e6:,.2f}",
               unit="MB"),
        number("ops", "ops", lambda v: f"{v:,}")])



def profile_document(report: "ProfileReport") -> Document:
    """Where the forward time goes, by category and by module, beside the static shares."""
    from costlab.report.payload import payload_header

    frames = report.to_dataframes()
    title = f"{_title(report)}: where the forward time goes"
    blocks: list[Block] = [
        Heading(text=title, views=ONLY_TEXT),
        Heading(text="By category (ShuffleNet V2's Figure 2)", level=2, views=ONLY_TEXT),
        Table.from_frame(frames["categories"], views=ONLY_TEXT),
        Heading(text=f"By module (depth {report.depth})", level=2, views=ONLY_TEXT),
        Table.from_frame(frames["modules"], views=ONLY_TEXT),
        _profile_table(report.categories, False, f"{_title(report)}\nwhere the forward time "
                       "goes, by category (ShuffleNet V2's Figure 2)"),
        _profile_table(report.modules, True, f"by module, to depth {report.depth}", CAPTION),
        bullets(summary_lines(report) + [f"warning: {w}" for w in report.warnings()]
                + [f"note: {n}" for n in report.notes], views=ONLY_TEXT),
        note(*summary_lines(report), *[f"Note: {n}" for n in report.notes],
             views=ONLY_SCREEN),
        caption(CAPTION, views=ONLY_TEXT),
    ]
    payload = payload_header("profile")
    payload.update(report.to_dict())
    payload["note"] = CAPTION
    return Document(title=title, kind="profile", blocks=blocks, payload=payload,
                    data=Table.from_frame(profile_frame(report)))
