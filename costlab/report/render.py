"""Rich tables for the terminal. Takes finished results; computes nothing of its own."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Callable, Sequence

from rich.console import Console
from rich.table import Table

from costlab import conventions
from costlab.report import tables
from costlab.report.export import uncounted_text

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost
    from costlab.api import ModelComparison
    from costlab.models.registry import ModelSpec


def millions(n: float | None, digits: int = 2) -> str:
    return "" if n is None else f"{n / 1e6:,.{digits}f}"


def mega(n: float | None, digits: int = 2) -> str:
    """``n`` with thousands separators; blank for None or NaN (a missing cell)."""
    return "" if n is None or n != n else f"{n:,.{digits}f}"


def percent(p: float | None) -> str:
    return "" if p is None else f"{p:+.1f}%"


def ratio(r: float | None) -> str:
    return "" if r is None else f"{r:.2f}x"


def to_text(draw: Callable[[Console], None], width: int = 200) -> str:
    """What ``draw`` prints, as plain text (for ``--format table -o FILE``)."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    draw(console)
    return console.export_text()


# Above this many rows a table is printed as aligned plain text: rich measures every cell,
# which takes seconds for a large model's thousands of layers.
PLAIN_TABLE_ROWS = 500


def plain_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                left: set[str]) -> str:
    """Fixed-width text: columns in ``left`` aligned left, the rest right."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if c in left else v.rjust(w)
                         for v, w, c in zip(values, widths, columns)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(columns), rule] + [line(r) for r in rows])


def render_analysis(cost: "ModelCost", depth: int, layers: bool, console: Console) -> None:
    t = cost.total
    shapes = tables.shapes_text(cost.info.input_shapes)
    title = f"{cost.name} {cost.info.variant}  input {shapes}"

    modules = Table(title=f"{title}\nmodules to depth {depth}", title_justify="left",
                    caption=conventions.MACS, caption_justify="left")
    for col in ("module", "type", "MACs (M)", "FLOPs (M)", "params", "read (MB)",
                "written (MB)", "% MACs"):
        modules.add_column(col, justify="left" if col in ("module", "type") else "right")
    for m in cost.modules(depth):
        modules.add_row("  " * (m.depth - 1) + m.path, m.module_type, millions(m.macs, 3),
                        millions(m.flops, 3), f"{m.params:,}", millions(m.bytes_read, 3),
                        millions(m.bytes_written, 3),
                        f"{100 * m.macs / t.macs:.1f}" if t.macs else "")
    console.print(modules)

    if layers:
        columns = ("#", "module", "op", "category", "input", "output", "k", "s", "g",
                   "MACs (M)", "FLOPs (M)", "params", "read (MB)", "written (MB)", "% MACs")
        left = {"module", "op", "category", "input", "output"}
        rows = tables.layer_rows(cost)
        plain = len(rows) > PLAIN_TABLE_ROWS

        def category(row) -> str:
            if row["counted"]:
                return row["category"]
            return "UNCOUNTED" if plain else "[red]uncounted[/red]"

        cells = [(
            str(row["index"]), row["module"] or "(root)", row["op"], category(row),
            row["input_shape"], row["output_shape"], row["kernel"], row["stride"],
            str(row["groups"]), millions(row["macs"], 3), millions(row["flops"], 3),
            f"{row['params']:,}" if row["params"] else "", millions(row["bytes_read"], 3),
            millions(row["bytes_written"], 3), f"{100 * row['share_macs']:.1f}")
            for row in rows]
        title = "layers (one row per op; views not shown)"
        if plain:
            console.print(plain_table(title, columns, cells, left), markup=False,
                          highlight=False, soft_wrap=True)
        else:
            layer_table = Table(title=title, title_justify="left")
            for col in columns:
                layer_table.add_column(col, justify="left" if col in left else "right")
            for line in cells:
                layer_table.add_row(*line)
            console.print(layer_table)

    partial = " (partial: some ops uncounted)" if t.partial else ""
    console.print(
        f"[bold]Total[/bold]{partial}: MACs {t.macs:,} ({millions(t.macs)} M), "
        f"FLOPs {t.flops:,} ({millions(t.flops)} M), params {t.params:,}, "
        f"buffers {t.buffers:,}, memory access {millions(t.memory_access_bytes)} MB "
        f"(read {millions(t.bytes_read)}, written {millions(t.bytes_written)}), "
        f"peak activation {millions(t.peak_activation_bytes)} MB, {t.ops} ops; "
        f"bytes as {cost.info.dtype or 'each tensor dtype'}, traced on {cost.info.device}.")
    for note in cost.info.notes:
        console.print(f"Note: {note}", markup=False)
    if tables.published_text(cost):
        console.print(tables.published_text(cost), markup=False)
    console.print(uncounted_text(cost))
    console.print("[dim]" + conventions.caption() + "[/dim]")


def render_comparison(comparison: "ModelComparison", console: Console) -> None:
    table = Table(title="cost comparison (computed beside published)", title_justify="left",
                  caption="Ratios are to the first model; pub = published.",
                  caption_justify="left")
    for col in ("model", "variant", "input", "MACs (M)", "FLOPs (M)", "params (M)",
                "mem access (MB)", "peak act (MB)", "pub MACs (M)", "pub params (M)",
                "pub top-1", "MACs vs pub", "params vs pub", "MACs x", "params x"):
        table.add_column(col, justify="left" if col in ("model", "variant", "input") else "right")
    for row in tables.comparison_rows(comparison):
        table.add_row(
            row["model"], row["variant"], row["input"], mega(row["macs_m"]),
            mega(row["flops_m"]), mega(row["params_m"]), mega(row["memory_access_mb"]),
            mega(row["peak_activation_mb"]), mega(row["published_macs_m"], 0),
            mega(row["published_params_m"], 1), mega(row["published_top1"], 1),
            percent(row["macs_vs_published_pct"]), percent(row["params_vs_published_pct"]),
            ratio(row["macs_ratio"]), ratio(row["params_ratio"]))
    console.print(table)
    for line in comparison.summary_lines():
        console.print(line)
    for cost in comparison.costs:
        for note in cost.info.notes:
            console.print(f"{cost.name}: note: {note}", markup=False)
        if cost.uncounted:
            console.print(f"{cost.name}: {uncounted_text(cost)}")
    sources = sorted({p.source for p in comparison.published if p})
    if sources:
        console.print("Published: " + "; ".join(sources) + ".")
    console.print("[dim]" + conventions.caption() + "[/dim]")
    if comparison.latency is not None:
        from costlab.report.latency import render_latency_comparison

        render_latency_comparison(comparison.latency, console)


def render_models(specs: Sequence["ModelSpec"], console: Console) -> None:
    table = Table(title="registered models", title_justify="left")
    for col in ("model", "family", "knobs (defaults)", "default input", "follows"):
        table.add_column(col)
    specs = sorted(specs, key=lambda s: (s.family, s.name))
    for i, s in enumerate(specs):
        last_of_family = i + 1 == len(specs) or specs[i + 1].family != s.family
        table.add_row(s.name, s.family, ", ".join(f"{k.name}={k.default}" for k in s.knobs),
                      tables.shape_text((1, *s.default_input())), s.reference,
                      end_section=last_of_family)
    console.print(table)


def render_frame(frame: "pd.DataFrame", title: str, console: Console, caption: str = "") -> None:
    table = Table(title=title, title_justify="left", caption=caption or None,
                  caption_justify="left")
    for col in frame.columns:
        table.add_column(str(col))
    for values in frame.itertuples(index=False):
        table.add_row(*[_cell(v) for v in values])
    console.print(table)


def render_sweep(result, console: Console) -> None:
    for metric, label in (("macs_m", "MACs (M)"), ("params_m", "params (M)")):
        grid = tables.sweep_grid(result, metric)
        if grid is not None:
            render_frame(grid, f"{result.model}: {label}, {result.axes[0]} down, "
                         f"{result.axes[1]} across", console)
    frame = tables.sweep_frame(result)
    table = Table(title=f"{result.model}: sweep", title_justify="left")
    for col in [*result.axes, "input", "MACs (M)", "FLOPs (M)", "params (M)", "mem access (MB)",
                "peak act (MB)", "pub MACs (M)", "MACs vs pub"]:
        table.add_column(col, justify="left" if col in (*result.axes, "input") else "right")
    for row in frame.to_dict("records"):
        table.add_row(*[str(row[a]) for a in result.axes], row["input"], mega(row["macs_m"]),
                      mega(row["flops_m"]), mega(row["params_m"]),
                      mega(row["memory_access_mb"]), mega(row["peak_activation_mb"]),
                      mega(row["published_macs_m"], 0), percent(_nan_none(
                          row["macs_vs_published_pct"])))
    console.print(table)
    console.print("[dim]" + conventions.caption() + "[/dim]")


def _cell(value) -> str:
    if value is None or value != value:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _nan_none(value):
    return None if value is None or value != value else value


VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def render_guidelines(audit, console: Console, top: int | None = 10) -> None:
    from dataclasses import asdict

    from costlab.report.export import offenders_table

    table = Table(title=f"{audit.model}: ShuffleNet V2's guidelines (Ma et al. 2018)",
                  title_justify="left")
    for col in ("", "guideline", "verdict", "key metric", "why"):
        table.add_column(col, overflow="fold")
    for r in audit.results:
        style = VERDICT_STYLE.get(r.verdict, "")
        table.add_row(r.guideline, r.title, f"[{style}]{r.verdict}[/{style}]",
                      f"{r.key_metric} = {_cell(r.value)}", r.explanation)
    console.print(table)
    for r in audit.results:
        if r.verdict == "pass" or not r.offenders:
            continue
        frame = offenders_table(r, top)
        render_frame(frame, f"{r.guideline} offenders, worst first (top {len(frame)} of "
                     f"{len(r.offenders)})", console)
    console.print("[dim]Thresholds: " + ", ".join(
        f"{k}={v:.4g}" for k, v in asdict(audit.thresholds).items())
        + ". Memory access in elements; see the README for what each threshold means.[/dim]")
