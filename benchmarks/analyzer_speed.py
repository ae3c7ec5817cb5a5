"""How long one analysis takes, beside fvcore and a bare forward pass.

    python benchmarks/analyzer_speed.py [--repeats 7] [models ...]

For each model: the median wall time of costlab on meta, costlab on CPU (build excluded
for both), fvcore's FlopCountAnalysis (CPU, total only), and a bare CPU forward pass
under no_grad, with each tool's MAC count beside its time. Tools are interleaved within
each repetition so machine drift hits them alike. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import torch

import costlab
from costlab.models import get_model_spec


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=["mobilenet_v1", "mobilenet_v2"])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from fvcore.nn import FlopCountAnalysis

    rows = []
    for name in args.models:
        spec = get_model_spec(name)
        shape = spec.input_for()
        with torch.device("meta"):
            meta_model = spec.build().eval()
        cpu_model = spec.build().eval()
        x_meta = torch.empty(shape, device="meta")
        x_cpu = torch.randn(shape)

        def fvcore_total():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fa = FlopCountAnalysis(cpu_model, x_cpu)
                fa.unsupported_ops_warnings(False)
                fa.uncalled_modules_warnings(False)
                return fa.total()

        def forward():
            with torch.no_grad():
                cpu_model(x_cpu)
            return None

        tools = {
            "costlab (meta)": lambda: costlab.analyze(meta_model, inputs=(x_meta,)).total.macs,
            "costlab (cpu)": lambda: costlab.analyze(cpu_model, inputs=(x_cpu,)).total.macs,
            "fvcore": fvcore_total,
            "bare forward (cpu)": forward,
        }
        for tool in tools.values():  # warm-up: first calls pay one-time imports
            tool()
        times: dict[str, list[float]] = {t: [] for t in tools}
        counts: dict[str, object] = {}
        for _ in range(args.repeats):
            for tool, fn in tools.items():
                seconds, count = timed(fn)
                times[tool].append(seconds)
                counts[tool] = count
        for tool in tools:
            rows.append((name, tool, statistics.median(times[tool]) * 1e3, counts[tool]))

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}\n")
    print("| model | tool | median ms | MACs counted |")
    print("|---|---|---:|---:|")
    for name, tool, ms, count in rows:
        print(f"| {name} | {tool} | {ms:.1f} | {'' if count is None else f'{count:,}'} |")


if __name__ == "__main__":
    main()
