"""Tables of ``costlab profile``: measured time by category and by module, beside the
static FLOPs and memory-access shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from costlab.analysis.aggregate import shapes_text
from costlab.core.errors import UsageError

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


def _add_rows(table: Table, rows: list["ProfileRow"], modules: bool) -> None:
    for r in rows:
        name = ("  " * max(r.depth - 1, 0) + r.name) if modules else r.name
        cells = [name] + ([r.module_type] if modules else [])
        cells += [f"{r.time_ms:,.3f}", _pct(r.time_share), _pct(r.flops_share),
                  _pct(r.bytes_share), f"{r.flops / 1e6:,.2f}",
                  f"{r.memory_access_bytes / 1e6:,.2f}", f"{r.ops:,}"]
        table.add_row(*cells)


def render_profile(report: "ProfileReport", console: Console) -> None:
    numbers = ("time (ms)", "% time", "% FLOPs", "% mem access", "FLOPs (M)",
               "mem access (MB)", "ops")
    categories = Table(title=f"{_title(report)}\nwhere the forward time goes, by category "
                       "(ShuffleNet V2's Figure 2)", title_justify="left")
    for col in ("category",) + numbers:
        categories.add_column(col, justify="left" if col == "category" else "right")
    _add_rows(categories, report.categories, modules=False)
    console.print(categories)

    modules = Table(title=f"by module, to depth {report.depth}", title_justify="left",
                    caption=CAPTION, caption_justify="left")
    for col in ("module", "type") + numbers:
        modules.add_column(col, justify="left" if col in ("module", "type") else "right")
    _add_rows(modules, report.modules, modules=True)
    console.print(modules)
    for line in summary_lines(report):
        console.print(line, markup=False)
    for note in report.notes:
        console.print(f"Note: {note}", markup=False)


def profile_text(report: "ProfileReport", fmt: str) -> str:
    from costlab.report.export import _header, _json, _markdown

    if fmt == "csv":
        return profile_frame(report).to_csv(index=False)
    if fmt == "json":
        payload = _header("profile")
        payload.update(report.to_dict())
        payload["note"] = CAPTION
        return _json(payload)
    if fmt == "md":
        frames = report.to_dataframes()
        lines = [f"# {_title(report)}: where the forward time goes", "",
                 "## By category (ShuffleNet V2's Figure 2)", "",
                 _markdown(frames["categories"]), "",
                 f"## By module (depth {report.depth})", "", _markdown(frames["modules"]), ""]
        lines += [f"- {line}" for line in summary_lines(report)]
        lines += [f"- warning: {w}" for w in report.warnings()]
        lines += [f"- note: {n}" for n in report.notes]
        lines += ["", "_" + CAPTION + "_", ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")
