"""How fast is a training-step analysis? Train mode against inference, and llama_70b's step.

    python benchmarks/training_speed.py [--models resnet50,...] [--repeats 3]
        [--out reports/training_speed.md]

Issue 14's goals: a training-step analysis on meta takes at most 3x the time of the
inference analysis of the same model; llama_70b at sequence 2048 in train mode runs end to
end (a fresh ``costlab analyze llama_70b --mode train`` process: imports, build, trace,
table) in under 10 s and under 2 GB of peak RSS.

Times are the best of ``--repeats`` analyses in this process, after one warm-up each (the
first analysis of a process pays one-time imports and registry setup).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = "resnet50,mobilenet_v2,efficientnet_b0,densenet121,vit_b16,gpt2_small,llama_70b"
RATIO_GOAL = 3.0
LLAMA_SECONDS_GOAL = 10.0
LLAMA_RSS_GOAL_GB = 2.0


def best_of(repeats: int, run) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def fresh_llama_step() -> tuple[float, float, str]:
    """``costlab analyze llama_70b --mode train`` in a fresh process: wall s, peak RSS GB."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["COLUMNS"] = "200"
    argv = [sys.executable, "-m", "costlab", "analyze", "llama_70b", "--mode", "train",
            "-f", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv[2:])} failed: {done.stderr.strip()[-300:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child's: this one is the only child
    return wall, max(peak_kb, before) * 1024 / 1e9, " ".join(argv[3:])


def main(argv: list[str] | None = None) -> int:
    import costlab
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "reports" / "training_speed.md"))
    args = parser.parse_args(argv)
    rows = []
    for name in args.models.split(","):
        inference = best_of(args.repeats, lambda: costlab.analyze(name))
        train = best_of(args.repeats, lambda: costlab.analyze(name, mode="train"))
        ops = len(costlab.analyze(name, mode="train").layers)
        rows.append((name, inference, train, train / inference, ops))
        print(f"{name}: inference {inference:.3f} s, train {train:.3f} s "
              f"({train / inference:.2f}x)", file=sys.stderr)
    wall, rss_gb, command = fresh_llama_step()
    load = os.getloadavg()
    lines = [
        "# Training-step analysis speed",
        "",
        f"Made by `python benchmarks/training_speed.py` on {datetime.date.today().isoformat()}:"
        f" torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, load "
        f"average {load[0]:.2f} / {load[1]:.2f} (1 / 5 min) at the end.",
        "",
        f"Best of {args.repeats} analyses on meta in one process, after a warm-up. Goal: "
        f"train mode at most {RATIO_GOAL:g}x inference.",
        "",
        "| model | inference (s) | train step (s) | train / inference | step ops |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {i:.3f} | {t:.3f} | {r:.2f}x | {ops:,} |" for n, i, t, r, ops in rows]
    worst = max(r for _, _, _, r, _ in rows)
    lines += [
        "",
        f"Largest ratio: {worst:.2f}x: goal {'met' if worst <= RATIO_GOAL else 'NOT met'}.",
        "",
        "## llama_70b, sequence 2048, train mode, end to end",
        "",
        f"`costlab {command}` in a fresh process: {wall:.2f} s wall, peak RSS "
        f"{rss_gb:.2f} GB (goal: under {LLAMA_SECONDS_GOAL:g} s and {LLAMA_RSS_GOAL_GB:g} GB: "
        f"{'met' if wall < LLAMA_SECONDS_GOAL and rss_gb < LLAMA_RSS_GOAL_GB else 'NOT met'}).",
        "",
        "Meta tensors hold no data, so the 69e9 parameters, their gradients and the Adam "
        "state cost nothing to trace; the RSS is torch, costlab and one record per op.",
    ]
    text = "\n".join(lines) + "\n"
    from costlab.report.output_files import write_atomic

    write_atomic(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
