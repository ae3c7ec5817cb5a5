"""The figure each command draws for ``--plot``: a result turned into the frame a plot takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.report import plots

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost
    from costlab.analysis.roofline import RooflineEstimate


def _label(cost: "ModelCost") -> str:
    return cost.name + (f" ({cost.info.variant})" if cost.info.variant else "")


def analysis_figure(cost: "ModelCost", path: str) -> "pd.DataFrame":
    """Per-layer MACs and memory-access bytes."""
    return plots.plot_layer_costs(cost.to_dataframe(), path,
                                  title=f"{_label(cost)}: MACs and memory access per op")


def comparison_frame(comparison: "ModelComparison") -> "pd.DataFrame":
    """The zoo's published (MACs, top-1) with the compared models at their computed MACs
    and published top-1; a compared model without a published top-1 cannot be placed."""
    import pandas as pd

    zoo = plots.zoo_accuracy_frame()
    compared = []
    for cost, published in zip(comparison.costs, comparison.published):
        if published is None or published.top1_percent is None:
            continue
        label = _label(cost)
        # the compared point replaces the zoo's own row for the same setting
        zoo = zoo[~((zoo["model"] == cost.name) & (zoo["variant"] == published.variant))]
        compared.append({"model": cost.name, "variant": published.variant, "label": label,
                         "macs_m": cost.total.macs / 1e6, "top1": published.top1_percent,
                         "source": published.source})
    return pd.concat([zoo, pd.DataFrame(compared, columns=zoo.columns)], ignore_index=True)


def comparison_figure(comparison: "ModelComparison", path: str) -> "pd.DataFrame":
    """Top-1 against MACs: the compared models among the zoo, the Pareto front marked."""
    frame = comparison_frame(comparison)
    names = " vs ".join(c.name for c in comparison.costs)
    return plots.plot_accuracy_vs_macs(frame, path, highlight=[_label(c) for c in
                                                               comparison.costs],
                                       title=f"{names}: published top-1 vs MACs")


def latency_frame(comparison: "ModelComparison") -> "pd.DataFrame":
    """Computed MACs beside measured latency (median and its CI) for each compared model."""
    import pandas as pd

    rows = [{"model": _label(cost), "macs_m": cost.total.macs / 1e6,
             "latency_ms": r.stats.median_ms, "latency_low_ms": r.stats.ci_low_ms,
             "latency_high_ms": r.stats.ci_high_ms}
            for cost, r in zip(comparison.costs, comparison.latency.reports)]
    return pd.DataFrame(rows)


def latency_comparison_figure(comparison: "ModelComparison", path: str) -> "pd.DataFrame":
    """Measured latency against MACs: the picture that shows FLOPs are not speed."""
    names = " vs ".join(c.name for c in comparison.costs)
    return plots.plot_latency_vs_macs(latency_frame(comparison), path,
                                      title=f"{names}: measured latency vs MACs")


def samples_frame(reports) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame([{"model": r.model, "call": i, "ms": ms}
                         for r in reports for i, ms in enumerate(r.samples_ms)])


def bench_figure(reports, path: str) -> "pd.DataFrame":
    """Every timed call of a benchmark, in order and as a histogram."""
    names = ", ".join(r.model for r in reports)
    return plots.plot_samples(samples_frame(reports), path, title=f"{names}: latency per call")


def sweep_figure(result: "SweepResult", path: str) -> "pd.DataFrame":
    """With a Pareto front, every point over its two columns and the front drawn through
    them; for a sample, MACs against params; else MACs against the first swept axis, a line
    per setting of the others."""
    frame = result.to_dataframe()
    frame = frame[frame["error"] == ""].assign(macs_m=frame["macs"].astype(float) / 1e6)
    if result.pareto is not None:
        x, y = (o.column for o in result.pareto)
        return plots.plot_front(frame, x, y, path,
                                title=f"{result.model}: Pareto front of {len(frame)} points")
    if result.sampled:
        frame = frame.assign(params_m=frame["params"].astype(float) / 1e6)
        frame["pareto"] = False
        return plots.plot_front(frame, "params_m", "macs_m", path,
                                title=f"{result.model}: {len(frame)} sampled points")
    return plots.plot_sweep(frame, result.axes, path,
                            title=f"{result.model}: MACs over {' x '.join(result.axes)}")


def estimate_figure(est: "RooflineEstimate", path: str) -> "pd.DataFrame":
    """Each op on the profile's roofline."""
    return plots.plot_roofline(est.to_dataframe(), path, est.peak_flops / 1e9,
                               est.bandwidth / 1e9,
                               title=f"{est.model}: roofline estimate on {est.profile} "
                                     f"({est.dtype})")
