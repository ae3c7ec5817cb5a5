"""Results as tables (pandas DataFrames) and plain values: data only, no rendering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from costlab.core.records import layer_rows, module_rows, shape_text, shapes_text

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost

MILLION = 1_000_000

COMPARISON_COLUMNS = [
    "model", "variant", "input", "macs_m", "flops_m", "params_m", "buffers_m",
    "memory_access_mb", "peak_activation_mb", "published_macs_m", "published_params_m",
    "published_top1", "macs_vs_published_pct", "params_vs_published_pct", "macs_ratio",
    "params_ratio", "memory_access_ratio", "ops",
    "uncounted_ops", "published_source",
]


def variant_text(knobs: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in knobs.items())


def percent_difference(computed: float, published: float | None) -> float | None:
    """How far the computed number is from the published one, in % of the published."""
    if not published:
        return None
    return 100.0 * (computed - published) / published


def totals_m(cost: "ModelCost") -> dict[str, Any]:
    """A model's input and totals in the tables' units: millions (M) and MB."""
    t = cost.total
    return {"input": shapes_text(cost.info.input_shapes),
            "macs_m": t.macs / MILLION, "flops_m": t.flops / MILLION,
            "params_m": t.params / MILLION, "memory_access_mb": t.memory_access_bytes / MILLION,
            "peak_activation_mb": t.peak_activation_bytes / MILLION}


def images_per_input(cost: "ModelCost") -> int:
    """The batch of the first input (1 for a model without a batched input)."""
    shapes = cost.info.input_shapes
    return int(shapes[0][0]) if shapes and len(shapes[0]) > 1 and shapes[0][0] > 0 else 1


def macs_vs_published(cost: "ModelCost", pub) -> float | None:
    """The computed MACs against the published, in %: per image, as the papers count them
    (at batch N the MACs are N times one image's; params do not scale)."""
    if pub is None:
        return None
    # the papers count one inference forward: a training step's forward is that
    macs = cost.phase("forward").macs if cost.training else cost.total.macs
    return percent_difference(macs / images_per_input(cost) / MILLION, pub.macs_millions)


def published_for(cost: "ModelCost"):
    from costlab.references import lookup_for_input

    return lookup_for_input(cost.name, cost.info.knobs, cost.info.input_shapes)


def published_dict(cost: "ModelCost") -> dict[str, Any] | None:
    """The published row beside the computed totals, with the differences in %."""
    pub = published_for(cost)
    if pub is None:
        return None
    return {
        "macs_m": pub.macs_millions, "params_m": pub.params_millions,
        "top1_percent": pub.top1_percent, "source": pub.source, "note": pub.note,
        "macs_vs_published_pct": macs_vs_published(cost, pub),
        "params_vs_published_pct": percent_difference(cost.total.params / MILLION,
                                                      pub.params_millions),
    }


def published_text(cost: "ModelCost") -> str:
    """One line: the published numbers and how far the computed ones are from them."""
    pub = published_dict(cost)
    if pub is None:
        from costlab.references import published

        known = any(row.model == cost.name for row in published())
        return "Published: no row for this setting." if known else ""
    parts = []
    for key, label, unit in (("macs_m", "MACs", "M"), ("params_m", "params", "M")):
        if pub[key] is not None:
            parts.append(f"{label} {pub[key]:g}{unit} (computed "
                         f"{pub[key.split('_')[0] + '_vs_published_pct']:+.1f}%)")
    if pub["top1_percent"] is not None:
        parts.append(f"top-1 {pub['top1_percent']:g}%")
    note = f"; {pub['note']}" if pub["note"] else ""
    return f"Published ({pub['source']}{note}): " + ", ".join(parts) + "."


def comparison_rows(comparison: "ModelComparison") -> list[dict[str, Any]]:
    rows = []
    for cost, pub, ratio in zip(comparison.costs, comparison.published, comparison.ratios()):
        t = cost.total
        rows.append({
            "model": cost.name,
            "variant": cost.info.variant,
            **totals_m(cost),
            "buffers_m": t.buffers / MILLION,
            "published_macs_m": pub.macs_millions if pub else None,
            "published_params_m": pub.params_millions if pub else None,
            "published_top1": pub.top1_percent if pub else None,
            "macs_vs_published_pct": macs_vs_published(cost, pub),
            "params_vs_published_pct": percent_difference(
                t.params / MILLION, pub.params_millions if pub else None),
            "macs_ratio": ratio["macs"],
            "params_ratio": ratio["params"],
            "memory_access_ratio": ratio["memory_access"],
            "ops": t.ops,
            "uncounted_ops": sum(u.calls for u in cost.uncounted),
            "published_source": pub.source if pub else "",
        })
    if any(c.training for c in comparison.costs):
        for cost, row in zip(comparison.costs, rows):
            memory = cost.training_memory
            row.update(backward_forward_macs=cost.backward_forward_macs,
                       step_peak_mb=memory.peak_bytes / MILLION if memory else None)
    if comparison.latency is not None:
        from costlab.report.latency import latency_cells

        for i, row in enumerate(rows):
            row.update(latency_cells(comparison.latency, i))
            row.update(utilization_cells(getattr(comparison, "utilization", None), i))
    return rows


UTILIZATION_COLUMNS = ["achieved_gflops_per_s", "achieved_gb_per_s", "mfu", "mbu"]


def utilization_cells(utilization, index: int) -> dict:
    """Achieved rates of one timed model (bench.utilization), MFU/MBU where peaks are known."""
    if not utilization:
        return {}
    u = utilization[index]
    return {"achieved_gflops_per_s": u.achieved_flops / 1e9,
            "achieved_gb_per_s": u.achieved_bytes / 1e9, "mfu": u.mfu, "mbu": u.mbu}


def comparison_frame(comparison: "ModelComparison") -> "pd.DataFrame":
    import pandas as pd

    from costlab.report.latency import LATENCY_COLUMNS

    columns = COMPARISON_COLUMNS + (LATENCY_COLUMNS if comparison.latency is not None else [])
    if any(c.training for c in comparison.costs):
        columns = columns + ["backward_forward_macs", "step_peak_mb"]
    if getattr(comparison, "utilization", None):
        columns = columns + UTILIZATION_COLUMNS
    return pd.DataFrame(comparison_rows(comparison), columns=columns)


def totals_dict(cost: "ModelCost") -> dict[str, Any]:
    t = cost.total
    totals = {
        "macs": t.macs, "flops": t.flops, "params": t.params, "buffers": t.buffers,
        "bytes_read": t.bytes_read, "bytes_written": t.bytes_written,
        "memory_access_bytes": t.memory_access_bytes,
        "peak_activation_bytes": t.peak_activation_bytes, "ops": t.ops,
        "known_zero_calls": cost.known_zero_calls, "partial": t.partial,
        "mode": cost.info.mode,
    }
    if cost.training:
        totals.update(training_dict(cost))
    return totals


def phase_rows(cost: "ModelCost") -> list[dict[str, Any]]:
    """One row per phase of the step: its sums, and its share of the step's FLOPs."""
    step_flops = cost.total.flops or 1
    return [{"phase": p.phase, "macs": p.macs, "flops": p.flops, "bytes_read": p.bytes_read,
             "bytes_written": p.bytes_written, "memory_access_bytes": p.memory_access_bytes,
             "ops": p.ops, "share_flops": p.flops / step_flops} for p in cost.phases()]


TRAINING_MEMORY_ROWS = (
    ("weights_bytes", "weights (with fp32 masters when mixed)"),
    ("gradients_bytes", "gradients"),
    ("optimizer_state_bytes", "optimizer state"),
    ("activation_bytes", "saved activations (alive at the forward/backward boundary)"),
    ("peak_gradients_bytes", "at the peak: gradients"),
    ("peak_activation_bytes", "at the peak: saved activations"),
    ("peak_temporary_bytes", "at the peak: temporaries"),
    ("peak_bytes", "peak (weights + state + the above at the peak)"),
)


def training_dict(cost: "ModelCost") -> dict[str, Any]:
    """A training step's phases, backward/forward ratio, settings and memory (JSON)."""
    from dataclasses import asdict

    return {"phases": phase_rows(cost),
            "backward_forward_macs": cost.backward_forward_macs,
            "training": asdict(cost.info.training) if cost.info.training else None,
            "training_memory": asdict(cost.training_memory) if cost.training_memory else None}


def analysis_frame(cost: "ModelCost", depth: int, layers: bool = True) -> "pd.DataFrame":
    """Module rows (to ``depth``) then layer rows, in one table with a ``row`` column."""
    import pandas as pd

    from costlab.core.records import PHASE_MODULE_COLUMNS

    rows = [{"row": "module", **r} for r in module_rows(cost, depth)]
    if layers:
        rows += [{"row": "layer", **r} for r in layer_rows(cost)]
    columns = ["row", "module", "module_type", "depth", "index", "phase", "op", "category",
               "input_shape", "output_shape", "kernel", "stride", "groups", "macs", "flops",
               "params", "bytes_read", "bytes_written", "memory_access_bytes", "share_macs",
               "ops", "counted", "note"]
    if cost.training:
        columns[columns.index("share_macs"):columns.index("share_macs")] = PHASE_MODULE_COLUMNS
    return pd.DataFrame(rows, columns=columns)


# a sweep's columns after the point's number and knob values: exact counts (a million
# candidates are compared by them), the published row where one matches, and the error of a
# point that could not be costed (empty otherwise)
SWEEP_COSTS = ["input", "macs", "flops", "params", "memory_access_bytes",
               "peak_activation_bytes", "partial", "published_macs_m", "published_params_m",
               "published_top1_pct", "macs_vs_published_pct"]
SWEEP_ERROR = "error"


def sweep_columns(axes: list[str]) -> list[str]:
    return ["point", *axes, *SWEEP_COSTS, SWEEP_ERROR]


def sweep_cost_columns(cost) -> dict[str, Any]:
    """One point's costs, as its row of a sweep holds them."""
    t = cost.total
    pub = published_for(cost)
    return {"input": shapes_text(cost.info.input_shapes), "macs": t.macs, "flops": t.flops,
            "params": t.params, "memory_access_bytes": t.memory_access_bytes,
            "peak_activation_bytes": t.peak_activation_bytes, "partial": bool(t.partial),
            "published_macs_m": pub.macs_millions if pub else None,
            "published_params_m": pub.params_millions if pub else None,
            "published_top1_pct": pub.top1_percent if pub else None,
            "macs_vs_published_pct": macs_vs_published(cost, pub), SWEEP_ERROR: ""}


def sweep_failure_columns(error: str) -> dict[str, Any]:
    """The row of a point that could not be costed: no numbers, its one-line error."""
    return {**{c: None for c in SWEEP_COSTS}, SWEEP_ERROR: error}


def sweep_frame(result) -> "pd.DataFrame":
    return result.to_dataframe()


def sweep_grid(result, metric: str = "macs") -> "pd.DataFrame | None":
    """With two axes of a full grid, ``metric`` in millions as a grid: first axis down,
    second across (the layout of MobileNet V1's Tables 6 and 7 side by side)."""
    if len(result.axes) != 2 or result.sampled:
        return None
    frame = sweep_frame(result)
    down, across = result.axes
    if frame[down].nunique() * frame[across].nunique() > 400:
        return None  # a grid too large to read; the rows say it all
    frame = frame.assign(**{metric: frame[metric] / MILLION})
    grid = frame.pivot(index=down, columns=across, values=metric)
    grid = grid.loc[list(dict.fromkeys(frame[down])), list(dict.fromkeys(frame[across]))]
    grid.columns = [f"{across}={c}" for c in grid.columns]
    return grid.reset_index()
