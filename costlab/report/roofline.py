"""The roofline estimate as tables: rich for the terminal, CSV, Markdown and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from costlab.core.errors import UsageError
from costlab.report.export import _header, _json, _markdown, _records
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


def estimate_text(est: "RooflineEstimate", fmt: str, top: int | None = 10) -> str:
    rows = layer_table(est, top)
    if fmt == "csv":
        return rows.to_csv(index=False)
    if fmt == "json":
        payload = _header("roofline_estimate")
        payload.update({
            "estimate": True, "model": est.model, "variant": est.variant, "dtype": est.dtype,
            "bytes_dtype": est.bytes_dtype,
            "profile": {"name": est.profile, "peak_gflops": est.peak_flops / 1e9,
                        "bandwidth_gbs": est.bandwidth / 1e9,
                        "overhead_s": est.overhead_per_op_s, "source": est.profile_source},
            "totals": totals_dict(est), "by_bound": _records(bound_table(est)),
            "layers": _records(rows), "note": caption(est)})
        return _json(payload)
    if fmt == "md":
        shown = f"top {len(rows)} ops by estimated time" if top else "every op"
        lines = [f"# {est.model}: roofline estimate on {est.profile} ({est.dtype})", "",
                 est.summary() + ".", "", _markdown(bound_table(est)), "",
                 f"## Ops ({shown})", "", _markdown(rows), "", "_" + caption(est) + "_", ""]
        if est.partial:
            lines.insert(3, "Some ops have no formula: their FLOPs count as 0.\n")
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")


def render_estimate(est: "RooflineEstimate", console: Console, top: int | None = 10) -> None:
    console.print(f"[bold]{est.model}[/bold] {est.variant}  roofline estimate on "
                  f"{est.profile} ({est.dtype}), not a measurement", highlight=False)
    bounds = Table(title="time by bound", title_justify="left")
    for col in ("bound", "ops", "time (ms)", "% time"):
        bounds.add_column(col, justify="left" if col == "bound" else "right")
    for row in bound_table(est).itertuples():
        bounds.add_row(row.bound, str(row.ops), mega(row.time_ms, 3),
                       mega(100 * row.share_time, 1))
    console.print(bounds)

    rows = layer_table(est, top)
    shown = f"top {len(rows)} of {len(est.layers)} ops by estimated time" if top else "every op"
    table = Table(title=shown, title_justify="left")
    for col in ("#", "module", "op", "category", "MFLOPs", "MB", "FLOP/B", "compute (us)",
                "memory (us)", "total (us)", "% time", "bound"):
        table.add_column(col, justify="left" if col in ("module", "op", "category", "bound")
                         else "right")
    for row in rows.itertuples():
        table.add_row(str(row.index), row.module or "(root)", row.op, row.category,
                      mega(row.mflops, 3), mega(row.memory_access_mb, 3),
                      mega(row.intensity, 1), mega(row.compute_us),
                      mega(row.memory_us), mega(row.time_us),
                      mega(100 * row.share_time, 1), row.bound)
    console.print(table)
    partial = " (partial: some ops uncounted, their FLOPs as 0)" if est.partial else ""
    console.print(f"[bold]Estimate[/bold]{partial}: {1e3 * est.time_s:,.3f} ms for "
                  f"{len(est.layers)} ops, {est.flops / 1e6:,.1f} MFLOPs, "
                  f"{est.bytes / 1e6:,.1f} MB of memory access (bytes as {est.bytes_dtype}); "
                  f"ridge point {est.ridge_point:,.3g} FLOP/byte.")
    console.print("[dim]" + escape(caption(est)) + "[/dim]", highlight=False)


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
    table = Table()
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for row in profile_frame(profile).itertuples():
        table.add_row(row.quantity, row.value)
    console.print(table)
    console.print(profile.source, markup=False, highlight=False)
