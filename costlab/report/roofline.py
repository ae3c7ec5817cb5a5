"""The roofline estimate as a document, and a hardware profile as a terminal table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from costlab.report.document import (ONLY_SCREEN, ONLY_TEXT, Block, Column, Document, Heading,
                                     Table, note, number)
from costlab.report.document import caption as document_caption
from costlab.report.payload import payload_header, records
from costlab.report.render import mega

if TYPE_CHECKING:
    import pandas as pd

    from costlab.analysis.roofline import RooflineEstimate
    from costlab.hardware import HardwareProfile

ROW_COLUMNS = ["index", "module", "op", "category", "mflops", "memory_access_mb", "intensity",
               "compute_us", "memory_us", "overhead_us", "time_us", "share_time", "bound"]


def _rate(value: float) -> str:
    return f"{value:,.4g}" if value < 1e4 else f"{value:,.0f}"


def caption(est: "RooflineEstimate") -> str:
    """What the numbers are: an estimate, how it is made, and where the roof comes from."""
    return (f"Roofline estimate, not a measurement: per op max(FLOPs / peak, bytes / bandwidth)"
            f" + {1e6 * est.overhead_per_op_s:.3g} us overhead, summed in execution order; "
            f"no caches, fusion or parallel branches. Profile {est.profile}: "
            f"{_rate(est.peak_flops / 1e9)} GFLOP/s ({est.dtype}), "
            f"{_rate(est.bandwidth / 1e9)} GB/s. "
            f"Source: {est.profile_source}")


def layer_table(est: "RooflineEstimate", top: int | None) -> "pd.DataFrame":
    """The ``top`` ops by estimated time, worst first (all ops in execution order if None)."""
    frame = est.to_dataframe()
    if top:
        frame = frame.sort_values("time_ms", ascending=False, kind="stable").head(top)
    return frame.assign(
        mflops=frame["flops"] / 1e6, memory_access_mb=frame["bytes"] / 1e6,
        compute_us=frame["compute_ms"] * 1e3, memory_us=frame["memory_ms"] * 1e3,
        overhead_us=frame["overhead_ms"] * 1e3, time_us=frame["time_ms"] * 1e3,
    )[ROW_COLUMNS].reset_index(drop=True)


def bound_table(est: "RooflineEstimate") -> "pd.DataFrame":
    """Ops and estimated time per bound."""
    import pandas as pd

    total = est.time_s
    counts, times = est.count_by_bound(), est.time_by_bound()
    return pd.DataFrame([{"bound": bound, "ops": counts[bound], "time_ms": 1e3 * times[bound],
                          "share_time": times[bound] / total if total else 0.0}
                         for bound in counts if counts[bound]],
                        columns=["bound", "ops", "time_ms", "share_time"])


def totals_dict(est: "RooflineEstimate") -> dict[str, Any]:
    return {"time_ms": 1e3 * est.time_s, "flops": est.flops, "memory_access_bytes": est.bytes,
            "ops": len(est.layers),
            "overhead_ms": 1e3 * sum(layer.overhead_s for layer in est.layers),
            "ridge_point_flop_per_byte": est.ridge_point, "partial": est.partial}


def _estimate_payload(est: "RooflineEstimate", rows: "pd.DataFrame") -> dict[str, Any]:
    payload = payload_header("roofline_estimate")
    payload.update({
        "estimate": True, "model": est.model, "variant": est.variant, "dtype": est.dtype,
        "bytes_dtype": est.bytes_dtype,
        "profile": {"name": est.profile, "peak_gflops": est.peak_flops / 1e9,
                    "bandwidth_gbs": est.bandwidth / 1e9,
                    "overhead_s": est.overhead_per_op_s, "source": est.profile_source},
        "totals": totals_dict(est), "by_bound": records(bound_table(est)),
        "layers": records(rows), "note": caption(est)})
    return payload



def _bounds_table(est: "RooflineEstimate") -> Table:
    return Table(title="time by bound", views=ONLY_SCREEN,
                 rows=bound_table(est).to_dict("records"), columns=[
                     Column(key="bound", label="bound"), number("ops", "ops"),
                     number("time_ms", "time (ms)", lambda v: mega(v, 3), unit="ms"),
                     number("share_time", "% time", lambda v: mega(100 * v, 1), unit="%")])


def _ops_table(est: "RooflineEstimate", rows: "pd.DataFrame", top: int | None) -> Table:
    shown = f"top {len(rows)} of {len(est.layers)} ops by estimated time" if top else "every op"
    cells = [{**row, "module": row["module"] or "(root)"} for row in rows.to_dict("records")]
    return Table(title=shown, views=ONLY_SCREEN, rows=cells, columns=[
        number("index", "#"), Column(key="module", label="module"),
        Column(key="op", label="op"), Column(key="category", label="category"),
        number("mflops", "MFLOPs", lambda v: mega(v, 3), unit="M"),
        number("memory_access_mb", "MB", lambda v: mega(v, 3), unit="MB"),
        number("intensity", "FLOP/B", lambda v: mega(v, 1)),
        number("compute_us", "compute (us)", mega, unit="us"),
        number("memory_us", "memory (us)", mega, unit="us"),
        number("time_us", "total (us)", mega, unit="us"),
        number("share_time", "% time", lambda v: mega(100 * v, 1), unit="%"),
        Column(key="bound", label="bound")])


def estimate_document(est: "RooflineEstimate", top: int | None = 10) -> Document:
    """A roofline estimate: time by bound, and the ``top`` ops by estimated time (every op
    in execution order if None). An estimate, and the page says so."""
    rows = layer_table(est, top)
    title = f"{est.model}: roofline estimate on {est.profile} ({est.dtype})"
    shown = f"top {len(rows)} ops by estimated time" if top else "every op"
    # the reports have always had two blank lines after the partial line
    summary = [est.summary() + "."] + (["Some ops have no formula: their FLOPs count as 0.\n"]
                                        if est.partial else [])
    partial = " (partial: some ops uncounted, their FLOPs as 0)" if est.partial else ""
    blocks: list[Block] = [
        Heading(text=title, views=ONLY_TEXT),
        note(*summary, views=ONLY_TEXT),
        note(f" {est.variant}  roofline estimate on {est.profile} ({est.dtype}), "
             "not a measurement", lead=est.model, views=ONLY_SCREEN),
        Table.from_frame(bound_table(est), views=ONLY_TEXT),
        _bounds_table(est),
        Heading(text=f"Ops ({shown})", level=2, views=ONLY_TEXT),
        Table.from_frame(rows, views=ONLY_TEXT),
        _ops_table(est, rows, top),
        note(f"{partial}: {1e3 * est.time_s:,.3f} ms for {len(est.layers)} ops, "
             f"{est.flops / 1e6:,.1f} MFLOPs, {est.bytes / 1e6:,.1f} MB of memory access "
             f"(bytes as {est.bytes_dtype}); ridge point {est.ridge_point:,.3g} FLOP/byte.",
             lead="Estimate", views=ONLY_SCREEN),
        document_caption(caption(est)),
    ]
    return Document(title=title, kind="roofline_estimate", blocks=blocks,
                    payload=_estimate_payload(est, rows), data=Table.from_frame(rows))


def profile_frame(profile: "HardwareProfile") -> "pd.DataFrame":
    """A profile as rows of (quantity, value), for calibrate's summary."""
    import pandas as pd

    rows = [(f"peak {dtype} (GFLOP/s)", f"{value:,.2f}")
            for dtype, value in profile.peak_gflops.items()]
    rows += [("bandwidth (GB/s)", f"{profile.bandwidth_gbs:,.2f}"),
             ("overhead per op (us)", f"{1e6 * profile.overhead_s:,.3f}"),
             ("ridge point (FLOP/byte)", f"{profile.ridge_point('float32'):,.2f}")
             if "float32" in profile.peak_gflops else ("", "")]
    return pd.DataFrame([r for r in rows if r[0]], columns=["quantity", "value"])


def render_profile(profile: "HardwareProfile", console: Console) -> None:
    console.print(f"[bold]{profile.name}[/bold]: {escape(profile.description)}", highlight=False)
    table = RichTable()
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for row in profile_frame(profile).itertuples():
        table.add_row(row.quantity, row.value)
    console.print(table)
    console.print(profile.source, markup=False, highlight=False)
