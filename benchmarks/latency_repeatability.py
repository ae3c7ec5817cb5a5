"""Are `compare --latency` intervals honest? The same comparison run back to back.

    python benchmarks/latency_repeatability.py [--runs 5] [--models mobilenet_v2,shufflenet_v2]
        [--threads 1] [-- EXTRA compare OPTIONS, e.g. --rounds 1]

Runs ``costlab compare A B --latency --threads 1 -f json`` (a fresh process each time, as a
user would) ``--runs`` times back to back and records each run's latency ratio B/A, its 95%
interval (with the between-run drift term, and from the rounds alone), its rounds, verdict
and wall time, and the load average. For every run it counts how many of the *other* runs'
point estimates its interval contains. Issue 13's acceptance: at least 4 of 5 runs whose
interval contains all 4 other runs' estimates. It also gives the standard deviation of the
log ratio between runs: the number to give ``compare --drift`` on this machine. Writes
reports/latency_repeatability.md and .csv (``--out``), and with ``--keep DIR`` each run's
JSON, and prints the summary lines.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_compare(models: list[str], threads: int, extra: list[str],
                keep: Path | None = None, run: int = 0) -> dict:
    """One `costlab compare --latency` in a fresh process: its row of B, timing, load."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    argv = [sys.executable, "-m", "costlab", "compare", *models, "--latency",
            "--threads", str(threads), "-f", "json", *extra]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv[2:])} failed: {done.stderr.strip()[-300:]}")
    data = json.loads(done.stdout)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"run_{run:02d}.json").write_text(done.stdout)
    row = data["models"][1]
    base, other = data["latency"][0], data["latency"][1]
    round_ratios = [b / a for a, b in zip(base["round_medians_ms"], other["round_medians_ms"])]
    return {"ratio": row["latency_ratio"], "ci_low": row["latency_ratio_ci_low"],
            "ci_high": row["latency_ratio_ci_high"], "verdict": row["latency_verdict"],
            "drift": row.get("latency_drift", 0.0),
            "rounds_ci_low": row.get("latency_ratio_rounds_ci_low", row["latency_ratio_ci_low"]),
            "rounds_ci_high": row.get("latency_ratio_rounds_ci_high",
                                      row["latency_ratio_ci_high"]),
            "rounds": row.get("latency_rounds", 1),
            "round_ratios": " ".join(f"{r:.3f}" for r in round_ratios),
            "base_median_ms": data["models"][0]["latency_median_ms"],
            "other_median_ms": row["latency_median_ms"], "wall_s": wall,
            "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0]}


def containment(rows: list[dict], low: str = "ci_low", high: str = "ci_high") -> list[int]:
    """For each run, how many of the other runs' ratios its interval contains."""
    return [sum(row[low] <= other["ratio"] <= row[high]
                for j, other in enumerate(rows) if j != i)
            for i, row in enumerate(rows)]


def between_run_sd(rows: list[dict]) -> float:
    """The standard deviation (ddof 1) of the log ratio between runs."""
    logs = [math.log(r["ratio"]) for r in rows]
    mean = sum(logs) / len(logs)
    return math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))


def summary_lines(rows: list[dict]) -> list[str]:
    counts = containment(rows)
    alone = containment(rows, "rounds_ci_low", "rounds_ci_high")
    others = len(rows) - 1
    full = sum(c == others for c in counts)
    full_alone = sum(c == others for c in alone)
    walls = [r["wall_s"] for r in rows]
    loads = ", ".join(f"{r['load_1min_before']:.2f}" for r in rows)
    ratios = [r["ratio"] for r in rows]
    met = full >= len(rows) - 1
    return [
        f"{full}/{len(rows)} runs' intervals contain all {others} of the others' estimates "
        f"(per run: {', '.join(map(str, counts))}; {sum(counts)}/{len(rows) * others} "
        f"pairs) -> acceptance (>= {len(rows) - 1} of {len(rows)}) "
        f"{'met' if met else 'NOT met'}",
        f"with the rounds' intervals alone (no drift term): {full_alone}/{len(rows)} runs, "
        f"{sum(alone)}/{len(rows) * others} pairs; drift term used: "
        f"{', '.join(sorted({format(r['drift'], '.3f') for r in rows}))}",
        f"between-run standard deviation of the log ratio: {between_run_sd(rows):.4f} "
        "(an upper bound for `compare --drift` here: it includes each run's own noise)",
        f"ratios {min(ratios):.3f}-{max(ratios):.3f}; verdicts "
        f"{', '.join(r['verdict'] for r in rows)}",
        f"wall per run: {', '.join(f'{w:.1f}' for w in walls)} s (max {max(walls):.1f} s)",
        f"load average (1 min) before the runs: {loads}",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default="mobilenet_v2,shufflenet_v2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "reports" / "latency_repeatability"))
    parser.add_argument("--keep", default=None, help="a directory for each run's JSON")
    args = parser.parse_args(own)
    models = args.models.split(",")
    if len(models) != 2 or args.runs < 2:
        parser.error("--models takes two models and --runs at least 2")

    import pandas as pd

    sys.path.insert(0, str(ROOT))
    import costlab
    from costlab.report.output_files import write_atomic

    rows = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ...", file=sys.stderr)
        keep = Path(args.keep) if args.keep else None
        rows.append({"run": i + 1, **run_compare(models, args.threads, extra, keep, i + 1)})
        r = rows[-1]
        print(f"  ratio {r['ratio']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f}), "
              f"{r['rounds']} rounds, {r['verdict']}, {r['wall_s']:.1f} s", file=sys.stderr)
    for row, count in zip(rows, containment(rows)):
        row["others_contained"] = count
    frame = pd.DataFrame(rows)
    summary = summary_lines(rows)
    command = " ".join(["python benchmarks/latency_repeatability.py", *argv])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    compare = (f"costlab compare {' '.join(models)} --latency --threads {args.threads}"
               + "".join(" " + a for a in extra))
    markdown = "\n".join([
        "# Repeatability of `compare --latency` intervals", "",
        f"Generated {stamp} by `{command}`; costlab {costlab.__version__}, "
        f"{os.cpu_count()} logical CPUs. Each run is `{compare}` in a fresh process, back "
        "to back; `ratio` is the latency of "
        f"{models[1]} over {models[0]}, `others_contained` how many of the other runs' "
        "ratios fall in this run's 95% interval. The load average is the machine's (other "
        "programs included) just before each run.", "",
        *[f"- {line}" for line in summary], "",
        frame.round(4).to_markdown(index=False), ""])
    write_atomic(args.out + ".md", markdown)
    write_atomic(args.out + ".csv", frame.to_csv(index=False))
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
