"""How well the roofline estimate predicts measured CPU latency, beside plain MACs.

    python benchmarks/estimate_accuracy.py [--quick] [--threads N] [--models a,b] \
        [--hardware PROFILE.json]

Calibrates this machine (``costlab calibrate``, or reads ``--hardware``), estimates every
zoo CNN on that profile, times them with costlab's benchmarker (interleaved in groups), and
compares four predictors of the measured median latency:

- the roofline estimate as it comes (calibrated numbers, no fitting);
- the roofline estimate times one least-squares factor (its shape, not its scale);
- MACs times one least-squares factor (the "FLOPs are speed" predictor);
- memory-access bytes times one least-squares factor.

For each: Spearman rank correlation with the measurements (does it order the models
right?) and the median absolute % error (is it close?). Writes
reports/estimate_accuracy.md and .csv and prints the tables.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

ZOO = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
       "shufflenet_v1", "shufflenet_v2", "efficientnet_b0", "squeezenet", "googlenet",
       "resnet18", "resnet50", "densenet121", "inception_v3", "xception", "nasnet_a_mobile",
       "resnext50_32x4d", "alexnet", "vgg16"]
GROUP = 4  # models timed interleaved together


def least_squares_factor(predictor, measured) -> float:
    """The k minimizing sum (k * predictor - measured)^2: a line through the origin."""
    import numpy as np

    p, m = np.asarray(predictor, dtype=float), np.asarray(measured, dtype=float)
    return float((p * m).sum() / (p * p).sum())


def median_abs_pct_error(predicted, measured) -> float:
    import numpy as np

    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    return float(np.median(np.abs(p - m) / m) * 100)


def load_note(before: float | None, after: float | None) -> str:
    """What the load average says about the measurements."""
    if before is None or after is None:
        return "the load average is not available here."
    if max(before, after) > (os.cpu_count() or 1):
        return ("above the core count: other work shared the CPU, so latencies are inflated "
                "and noisy.")
    return "below the core count: no other work competed for the cores."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names (default: the zoo CNNs)")
    parser.add_argument("--quick", action="store_true",
                        help="quick calibration and short timing runs")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--hardware", help="a profile to use instead of calibrating now")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..",
                                                      "reports", "estimate_accuracy"))
    args = parser.parse_args(argv)

    import pandas as pd
    import torch

    import costlab
    from costlab.analysis.roofline import estimate
    from costlab.bench.calibrate import calibrate
    from costlab.bench.runner import bench_models
    from costlab.bench.stats import rank_correlation
    from costlab.bench.timing import TimingPolicy, torch_threads
    from costlab.hardware import load_profile
    from costlab.models import registry
    from costlab.report.output_files import write_atomic

    names = args.models.split(",") if args.models else [m for m in ZOO if registry().owns(m)]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.hardware:
        profile = load_profile(args.hardware)
    else:
        print("calibrating ...", file=sys.stderr)
        with torch_threads(args.threads):
            profile = calibrate(quick=args.quick).to_profile("calibrated")
    print(f"profile: {profile.peak_gflops['float32']:.1f} GFLOP/s, "
          f"{profile.bandwidth_gbs:.1f} GB/s, {1e6 * profile.overhead_s:.2f} us/op",
          file=sys.stderr)

    policy = TimingPolicy.quick() if args.quick else TimingPolicy()
    rows, env = [], None
    for start in range(0, len(names), GROUP):
        group = names[start:start + GROUP]
        print(f"timing {', '.join(group)} ...", file=sys.stderr)
        timed = bench_models(group, policy=policy, threads=args.threads, memory=False)
        for name, report in zip(group, timed.reports):
            cost = costlab.analyze(name, dtype="float32")
            est = estimate(cost, profile, "float32")
            times = est.time_by_bound()
            env = report.environment
            rows.append({
                "model": name, "macs_m": cost.total.macs / 1e6,
                "memory_access_mb": cost.total.memory_access_bytes / 1e6,
                "ops": len(est.layers), "measured_ms": report.stats.median_ms,
                "ci_low_ms": report.stats.ci_low_ms, "ci_high_ms": report.stats.ci_high_ms,
                "estimate_ms": 1e3 * est.time_s,
                "compute_bound_share": times["compute"] / est.time_s,
                "memory_bound_share": times["memory"] / est.time_s,
                "overhead_ms": 1e3 * sum(layer.overhead_s for layer in est.layers),
            })
    frame = pd.DataFrame(rows).sort_values("macs_m").reset_index(drop=True)
    measured = frame["measured_ms"]
    k_est = least_squares_factor(frame["estimate_ms"], measured)
    k_macs = least_squares_factor(frame["macs_m"], measured)
    k_bytes = least_squares_factor(frame["memory_access_mb"], measured)
    frame["estimate_scaled_ms"] = k_est * frame["estimate_ms"]
    frame["macs_scaled_ms"] = k_macs * frame["macs_m"]
    frame["bytes_scaled_ms"] = k_bytes * frame["memory_access_mb"]
    predictors = [
        ("roofline estimate (calibrated, unfitted)", "estimate_ms", "none"),
        ("roofline estimate x least-squares factor", "estimate_scaled_ms", f"{k_est:.3g}"),
        ("MACs x least-squares factor", "macs_scaled_ms", f"{k_macs:.3g} ms per MMAC"),
        ("memory-access bytes x least-squares factor", "bytes_scaled_ms",
         f"{k_bytes:.3g} ms per MB"),
    ]
    summary = pd.DataFrame([{
        "predictor": label, "fitted_factor": factor,
        "spearman_rho": rank_correlation(frame[column], measured),
        "median_abs_error_pct": median_abs_pct_error(frame[column], measured),
    } for label, column, factor in predictors])

    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rho = dict(zip(summary["predictor"], summary["spearman_rho"]))
    rho_est = rho[predictors[0][0]]
    rho_macs = rho[predictors[2][0]]
    verdict = ("better than" if rho_est > rho_macs + 0.02 else
               "worse than" if rho_est < rho_macs - 0.02 else "about as well as")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Roofline estimate vs measured CPU latency, beside MACs", "",
        f"Generated {stamp} by `python benchmarks/estimate_accuracy.py"
        f"{' --quick' if args.quick else ''}"
        f"{f' --threads {args.threads}' if args.threads else ''}`; costlab "
        f"{costlab.__version__}, torch {torch.__version__}. Load average (1 min) "
        f"{load_before if load_before is None else round(load_before, 2)} before, "
        f"{load_after if load_after is None else round(load_after, 2)} after "
        f"({os.cpu_count()} cores): {load_note(load_before, load_after)}", "",
        ("Machine: " + "; ".join(env.lines())) if env else "", "",
        f"Profile `{profile.name}`: {profile.peak_gflops['float32']:,.1f} GFLOP/s (fp32), "
        f"{profile.bandwidth_gbs:,.2f} GB/s, {1e6 * profile.overhead_s:.2f} us per op. "
        f"Source: {profile.source}", "",
        "Measured: batch 1, float32, eval + inference mode, median of interleaved timed runs "
        "after warm-up (95% bootstrap CI). Estimate: per op max(FLOPs / peak, bytes / "
        "bandwidth) + overhead, summed; every byte counted as going to memory.", "",
        "## How well each predictor tracks the measurements", "",
        summary.to_markdown(index=False, floatfmt=".3f"), "",
        "Spearman rho: rank agreement with the measured order (1 = same order). Median "
        "absolute error in % of the measured latency. The fitted factors are least squares "
        "through the origin over these models, so they favour the scaled predictors.", "",
        f"On this run the roofline estimate ranks the models {verdict} MACs "
        f"(rho {rho_est:.3f} vs {rho_macs:.3f}).", "",
        "## Per model (sorted by MACs)", "",
        frame.round(3).to_markdown(index=False), "",
    ]
    markdown = "\n".join(lines)
    write_atomic(args.out + ".md", markdown)
    write_atomic(args.out + ".csv", frame.to_csv(index=False))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
