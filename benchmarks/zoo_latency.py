"""Measured latency of the zoo beside its static costs: FLOPs are not speed.

    python benchmarks/zoo_latency.py [--models mobilenet_v1,resnet50] [--quick] [--threads N]

Every CNN of the zoo is analyzed (MACs, memory-access bytes) and timed with costlab's
benchmarker on the CPU, in groups timed interleaved so that machine drift hits them alike.
Writes reports/zoo_latency.md and reports/zoo_latency.csv (with the machine, versions and
date) and prints the table.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names (default: the zoo CNNs)")
    parser.add_argument("--quick", action="store_true", help="short timing runs")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..",
                                                      "reports", "zoo_latency"))
    args = parser.parse_args(argv)

    import pandas as pd
    import torch

    import costlab
    from costlab.bench.runner import bench_models
    from costlab.bench.stats import rank_correlation
    from costlab.bench.timing import TimingPolicy
    from costlab.models import registry
    from costlab.report.output_files import write_atomic

    names = args.models.split(",") if args.models else [m for m in ZOO if registry().owns(m)]
    policy = TimingPolicy.quick() if args.quick else TimingPolicy()
    rows = []
    env = None
    for start in range(0, len(names), GROUP):
        group = names[start:start + GROUP]
        print(f"timing {', '.join(group)} ...", file=sys.stderr)
        timed = bench_models(group, policy=policy, threads=args.threads, memory=False)
        for name, report in zip(group, timed.reports):
            cost = costlab.analyze(name)
            env = report.environment
            rows.append({
                "model": name, "macs_m": cost.total.macs / 1e6,
                "memory_access_mb": cost.total.memory_access_bytes / 1e6,
                "params_m": cost.total.params / 1e6, "ops": cost.total.ops,
                "median_ms": report.stats.median_ms, "ci_low_ms": report.stats.ci_low_ms,
                "ci_high_ms": report.stats.ci_high_ms,
                "iqr_over_median": report.stats.iqr_over_median,
                "iterations": report.iterations,
                "ms_per_gmac": report.stats.median_ms / (cost.total.macs / 1e9),
            })
    frame = pd.DataFrame(rows).sort_values("macs_m").reset_index(drop=True)
    rho_macs = rank_correlation(frame["macs_m"].tolist(), frame["median_ms"].tolist())
    rho_bytes = rank_correlation(frame["memory_access_mb"].tolist(), frame["median_ms"].tolist())
    rho_ops = rank_correlation(frame["ops"].tolist(), frame["median_ms"].tolist())
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "# Zoo latency beside MACs and memory access (CPU)", "",
        f"Generated {stamp} by `python benchmarks/zoo_latency.py"
        f"{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}`; "
        f"costlab {costlab.__version__}, "
        f"torch {torch.__version__}.", "",
        "Machine: " + "; ".join(env.lines()) if env else "", "",
        "Batch 1, float32, eval + inference mode; median of interleaved timed runs after "
        "warm-up, 95% bootstrap CI. MACs and memory access are costlab's static counts "
        "(README conventions). Sorted by MACs.", "",
    ]
    footer = ["", f"Spearman rank correlation with measured latency: MACs {rho_macs:.2f}, "
              f"memory-access bytes {rho_bytes:.2f}, number of ops {rho_ops:.2f}.", "",
              "A model whose ms per GMAC is high spends its time on something other than "
              "multiply-accumulates: memory traffic, depthwise convs, many small ops.", ""]
    shown = frame.round({"macs_m": 1, "memory_access_mb": 1, "params_m": 2, "median_ms": 2,
                         "ci_low_ms": 2, "ci_high_ms": 2, "iqr_over_median": 3,
                         "ms_per_gmac": 1})
    markdown = "\n".join(header) + shown.to_markdown(index=False) + "\n" + "\n".join(footer)
    write_atomic(args.out + ".md", markdown)
    write_atomic(args.out + ".csv", frame.to_csv(index=False))
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
