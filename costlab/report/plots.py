"""Figures from finished data frames, written atomically as PNG, SVG or PDF.

matplotlib (a core dependency) is imported only here, lazily,, with the non-interactive Agg backend. Each plot function takes the frame it draws,
returns the rows it plotted (with any derived column, such as Pareto membership), and
writes one file; the data decisions live in plain functions that tests can check without
looking at pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from costlab.core.errors import CostlabError, UsageError

if TYPE_CHECKING:
    import pandas as pd

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
INSTALL_HINT = "pip install matplotlib"  # a broken environment; costlab depends on it
BOUND_COLORS = {"compute": "tab:red", "memory": "tab:blue", "overhead": "tab:gray",
                "free": "tab:green"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise CostlabError(f"plotting needs matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg", force=True)  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def check_plot_path(path: str) -> None:
    """Fail before any work: a suffix matplotlib can write, a writable place, matplotlib."""
    from costlab.report.output_files import resolve_output

    if not path.strip():
        raise UsageError("cannot plot to an empty path: give --plot a file name")
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"cannot plot to {path}: the name must end in "
                         f"{', '.join(PLOT_SUFFIXES)}")
    resolve_output(path, what="plot to")
    _pyplot()


def save_figure(figure: Any, path: str) -> None:
    """Save atomically (``output_files.atomic_path``) in the format of ``path``'s suffix; close the
    figure either way."""
    from costlab.report.output_files import atomic_path

    check_plot_path(path)
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=Path(path).suffix[1:].lower(), dpi=120,
                           bbox_inches="tight")
    finally:
        _pyplot().close(figure)


# --------------------------------------------------------------------------- data

def pareto_front(frame: "pd.DataFrame", cost: str = "macs_m", value: str = "top1") \
        -> "pd.Series":
    """True for the rows no other row beats: none has lower-or-equal ``cost`` and
    higher-or-equal ``value`` with at least one strictly better."""
    import pandas as pd

    costs, values = frame[cost].to_numpy(), frame[value].to_numpy()
    on_front = []
    for c, v in zip(costs, values):
        dominated = ((costs <= c) & (values >= v) & ((costs < c) | (values > v))).any()
        on_front.append(not dominated)
    return pd.Series(on_front, index=frame.index, name="pareto")


def zoo_accuracy_frame() -> "pd.DataFrame":
    """Every published row with both MACs and top-1: the zoo as the papers report it."""
    import pandas as pd

    from costlab.references import published

    rows = [{"model": entry.model, "variant": entry.variant,
             "label": entry.model + (f" ({entry.variant})" if "=" in entry.variant else ""),
             "macs_m": entry.macs_millions, "top1": entry.top1_percent, "source": entry.source}
            for entry in published()
            if entry.macs_millions is not None and entry.top1_percent is not None]
    return pd.DataFrame(rows, columns=["model", "variant", "label", "macs_m", "top1", "source"])


# -------------------------------------------------------------------------- plots

def plot_accuracy_vs_macs(frame: "pd.DataFrame", path: str, highlight: Sequence[str] = (),
                          title: str = "Published top-1 vs MACs") -> "pd.DataFrame":
    """Top-1 (published) against MACs on a log axis, the Pareto front joined by a line.

    ``frame`` has ``label``, ``macs_m`` and ``top1``; rows whose label is in ``highlight``
    are drawn larger and named (the models a comparison is about).
    """
    plt = _pyplot()
    data = frame.dropna(subset=["macs_m", "top1"]).copy()
    data["pareto"] = pareto_front(data)
    data["highlight"] = data["label"].isin(list(highlight))
    figure, axes = plt.subplots(figsize=(8, 5.5))
    context = data[~data["highlight"]]
    axes.scatter(context["macs_m"], context["top1"], s=22, color="tab:blue", alpha=0.7,
                 label="published (costlab.references)")
    front = data[data["pareto"]].sort_values("macs_m")
    axes.plot(front["macs_m"], front["top1"], color="tab:orange", linewidth=1.5,
              drawstyle="steps-post", label="Pareto front (fewer MACs, higher top-1)")
    axes.scatter(front["macs_m"], front["top1"], s=40, facecolors="none",
                 edgecolors="tab:orange", linewidths=1.5)
    chosen = data[data["highlight"]]
    if not chosen.empty:
        axes.scatter(chosen["macs_m"], chosen["top1"], s=70, color="tab:red", zorder=3,
                     label="compared (computed MACs)")
    for row in data.itertuples():
        if row.highlight or row.pareto:
            axes.annotate(row.label, (row.macs_m, row.top1), fontsize=7,
                          xytext=(4, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.set(xlabel="MACs (millions, log scale)", ylabel="top-1 accuracy (%, published)",
             title=title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    save_figure(figure, path)
    return data


def plot_latency_vs_macs(frame: "pd.DataFrame", path: str,
                         title: str = "Measured latency vs MACs") -> "pd.DataFrame":
    """Measured latency against MACs, one point per model: FLOPs are not speed.

    ``frame`` has ``model``, ``macs_m`` and ``latency_ms``; optional ``latency_low_ms`` and
    ``latency_high_ms`` (a confidence interval) become error bars.
    """
    plt = _pyplot()
    data = frame.dropna(subset=["macs_m", "latency_ms"]).copy()
    figure, axes = plt.subplots(figsize=(8, 5.5))
    if {"latency_low_ms", "latency_high_ms"} <= set(data.columns):
        below = (data["latency_ms"] - data["latency_low_ms"]).clip(lower=0)
        above = (data["latency_high_ms"] - data["latency_ms"]).clip(lower=0)
        axes.errorbar(data["macs_m"], data["latency_ms"], yerr=[below, above], fmt="o",
                      color="tab:blue", ecolor="tab:gray", capsize=3, markersize=5)
    else:
        axes.scatter(data["macs_m"], data["latency_ms"], color="tab:blue", s=30)
    for row in data.itertuples():
        axes.annotate(row.model, (row.macs_m, row.latency_ms), fontsize=7, xytext=(4, 3),
                      textcoords="offset points")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set(xlabel="MACs (millions, log scale)", ylabel="latency (ms, measured, log scale)",
             title=title)
    axes.grid(True, which="both", alpha=0.3)
    save_figure(figure, path)
    return data


def plot_samples(frame: "pd.DataFrame", path: str, title: str = "Latency samples") \
        -> "pd.DataFrame":
    """Each timed call in order (left: drift, outliers) and their histogram (right).

    ``frame`` has ``model``, ``call`` (the sample's position) and ``ms``.
    """
    plt = _pyplot()
    figure, (timeline, histogram) = plt.subplots(1, 2, figsize=(10, 4.5),
                                                 gridspec_kw={"width_ratios": [2, 1]})
    for model, rows in frame.groupby("model", sort=False):
        timeline.plot(rows["call"], rows["ms"], marker=".", linewidth=0.6, label=model)
        histogram.hist(rows["ms"], bins=min(40, max(5, len(rows) // 3)), alpha=0.6,
                       label=model)
    timeline.set(xlabel="timed call", ylabel="latency (ms)", title=title)
    histogram.set(xlabel="latency (ms)", ylabel="calls")
    timeline.grid(True, alpha=0.3)
    timeline.legend(fontsize=7)
    save_figure(figure, path)
    return frame


def plot_layer_costs(frame: "pd.DataFrame", path: str, title: str = "Cost per layer") \
        -> "pd.DataFrame":
    """Two bar charts over the ops in execution order: MACs and memory-access bytes.

    ``frame`` is ``ModelCost.to_dataframe()`` (``index``, ``category``, ``macs``,
    ``memory_access_bytes``).
    """
    plt = _pyplot()
    data = frame[["index", "module", "op", "category", "macs", "memory_access_bytes"]].copy()
    data["position"] = range(len(data))
    categories = list(dict.fromkeys(data["category"]))
    palette = plt.get_cmap("tab20")
    colors = {c: palette(i % 20) for i, c in enumerate(categories)}
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    bar_colors = [colors[c] for c in data["category"]]
    top.bar(data["position"], data["macs"] / 1e6, width=0.9, color=bar_colors)
    bottom.bar(data["position"], data["memory_access_bytes"] / 1e6, width=0.9, color=bar_colors)
    top.set(ylabel="MACs (M)", title=title)
    bottom.set(ylabel="memory access (MB)", xlabel="op, in execution order")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[c]) for c in categories]
    figure.legend(handles, categories, fontsize=7, ncol=min(len(categories), 7),
                  loc="upper center", bbox_to_anchor=(0.5, 0.0))
    for axes in (top, bottom):
        axes.grid(True, axis="y", alpha=0.3)
    save_figure(figure, path)
    return data


def plot_roofline(frame: "pd.DataFrame", path: str, peak_gflops: float, bandwidth_gbs: float,
                  title: str = "Roofline estimate") -> "pd.DataFrame":
    """Each op at (arithmetic intensity, estimated GFLOP/s) under the device's roof.

    ``frame`` is ``RooflineEstimate.to_dataframe()``. An op's rate is its FLOPs over its
    estimated time, overhead included, so overhead-bound ops sit below the roof; ops
    without FLOPs or bytes cannot be placed on log axes and are left out.
    """
    import numpy as np

    plt = _pyplot()
    data = frame[(frame["flops"] > 0) & (frame["bytes"] > 0) & (frame["time_ms"] > 0)].copy()
    data["gflops"] = data["flops"] / (data["time_ms"] / 1e3) / 1e9
    figure, axes = plt.subplots(figsize=(8, 5.5))
    ridge = peak_gflops / bandwidth_gbs
    low = min([ridge / 100, *data["intensity"]]) / 2
    high = max([ridge * 100, *data["intensity"]]) * 2
    x = np.geomspace(low, high, 200)
    axes.plot(x, np.minimum(peak_gflops, bandwidth_gbs * x), color="black", linewidth=1.5,
              label=f"roof: {peak_gflops:,.0f} GFLOP/s, {bandwidth_gbs:,.1f} GB/s")
    for bound, group in data.groupby("bound", sort=False):
        axes.scatter(group["intensity"], group["gflops"], s=18, alpha=0.75,
                     color=BOUND_COLORS.get(bound, "tab:purple"), label=f"{bound}-bound ops")
    axes.axvline(ridge, color="gray", linestyle=":", linewidth=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set(xlabel="arithmetic intensity (FLOP per byte of memory access)",
             ylabel="estimated GFLOP/s (overhead included)", title=title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    save_figure(figure, path)
    return data


def plot_sweep(frame: "pd.DataFrame", axes_names: Sequence[str], path: str,
               metric: str = "macs_m", title: str = "Sweep") -> "pd.DataFrame":
    """``metric`` against the first swept axis, one line per setting of the others."""
    plt = _pyplot()
    axes_names = list(axes_names)
    x_name, others = axes_names[0], axes_names[1:]
    figure, axes = plt.subplots(figsize=(7, 5))
    groups = frame.groupby(others, sort=False) if others else [((), frame)]
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{n}={v}" for n, v in zip(others, values)) or None
        group = group.sort_values(x_name)
        axes.plot(group[x_name], group[metric], marker="o", label=label)
    axes.set(xlabel=x_name, ylabel={"macs_m": "MACs (M)", "params_m": "params (M)"}.get(
        metric, metric), title=title)
    axes.grid(True, alpha=0.3)
    if others:
        axes.legend(fontsize=8)
    save_figure(figure, path)
    return frame[[*axes_names, metric]].copy()


def plot_front(frame: "pd.DataFrame", x: str, y: str, path: str,
               title: str = "Pareto front") -> "pd.DataFrame":
    """Every point over columns ``x`` and ``y``, those of the ``pareto`` column joined as
    the front."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 5))
    data = frame[[x, y, "pareto"]].astype({x: float, y: float})
    axes.scatter(data[x], data[y], s=10, alpha=0.5, color="tab:gray", label="points")
    front = data[data["pareto"].astype(bool)].sort_values(x)
    if len(front):
        axes.plot(front[x], front[y], marker="o", color="tab:red", label="Pareto front")
        axes.legend(fontsize=8)
    axes.set(xlabel=x, ylabel=y, title=title)
    axes.grid(True, alpha=0.3)
    save_figure(figure, path)
    return data


__all__ = ["INSTALL_HINT", "PLOT_SUFFIXES", "check_plot_path", "pareto_front",
           "plot_accuracy_vs_macs", "plot_front", "plot_latency_vs_macs", "plot_layer_costs",
           "plot_roofline", "plot_sweep", "save_figure", "zoo_accuracy_frame"]
