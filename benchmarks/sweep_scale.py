"""How fast a sweep costs a search space here, on local worker processes and on Ray, and what
that means for a million candidates on a cluster.

    python benchmarks/sweep_scale.py [--points N] [--no-ray]

The space is MobileNet-V2-style (``benchmarks/spaces/mobilenet_v2_space.py``: width
0.35-1.4, expansion 2-6, 1-4 extra blocks per stage, kernel 3/5/7 at 224x224), ``--points``
of its 1,320 points drawn with ``--sample`` (seed 0), the same points for every executor.
Each executor runs the whole sweep once, through ``run_sweep`` as ``costlab sweep`` does,
rows streamed to a CSV; its points per second are over the whole run (worker start-up
included) and over the steady part (from the first finished batch to the last). The
speed-up of two workers over one is measured in this one run, back to back. Ray's per-task
overhead is timed with tasks that do nothing, on the same local instance. Every executor's
file must be identical to the in-process one (checked). The load average before and after
each run says how busy the shared machine was.

Writes reports/sweep_scale.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
SPACE = ROOT / "benchmarks" / "spaces" / "mobilenet_v2_space.py"
KNOBS = {"width": "0.35:1.4:0.05", "expansion": "2:6:1", "depth": "1:4:1", "kernel": "3,5,7"}
INPUT = "1,3,224,224"
NOOP_TASKS = 400
DRIVER_ROWS = 200_000
CANDIDATES, NODES = 1_000_000, 64


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Noop:
    """A job whose tasks do nothing: what a task costs beyond its work."""

    def start(self):
        return lambda task: task


class Run(NamedTuple):
    name: str
    points: int
    wall_s: float
    first_s: float  # to the first finished batch: start-up and one batch
    steady_points: int
    steady_s: float
    load_before: str
    load_after: str

    @property
    def rate(self) -> float:
        return self.points / self.wall_s

    @property
    def steady_rate(self) -> float:
        return self.steady_points / self.steady_s if self.steady_s > 0 else float("nan")


def run_one(name: str, executor, space, out: Path) -> Run:
    from costlab.workflows.sweep.run import run_sweep

    stamps: list[tuple[float, int]] = []

    def progress(done: int, total: int):
        return lambda n: stamps.append((time.perf_counter(), n))

    load_before = load_average()
    began = time.perf_counter()
    result = run_sweep(f"{SPACE}:build", space, factory=True,
                       options={"input_shape": [INPUT]}, executor=executor, output=str(out),
                       progress=progress)
    wall = time.perf_counter() - began
    assert len(result.failed) == 0, result.failed["error"].iloc[0]
    first_t, first_n = stamps[0]
    return Run(name=name, points=len(space), wall_s=wall, first_s=first_t - began,
               steady_points=len(space) - first_n, steady_s=stamps[-1][0] - first_t,
               load_before=load_before, load_after=load_average())


def ray_task_overhead(ray_cpus: int) -> float:
    """Seconds per task of a no-op job through the Ray executor (2 in flight per actor)."""
    from costlab.workflows.executors import RayCluster

    executor = RayCluster(num_cpus=ray_cpus)
    import ray

    executor._init(ray)
    try:
        list(executor.run(Noop(), range(50)))  # actors started, warm
        began = time.perf_counter()
        list(executor.run(Noop(), range(NOOP_TASKS)))
        return (time.perf_counter() - began) / NOOP_TASKS
    finally:
        ray.shutdown()


def driver_cost_per_row(rows: int, batch: int, columns: list[str], example: dict) -> float:
    """Seconds the driver spends per row appending batches to a streamed CSV (the part
    files and the throttled rewrites), with rows like the sweep's."""
    from costlab.report.results_file import ResultsFile

    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsFile(str(Path(tmp) / "rows.csv"), columns, {})
        store.start(resume=False)
        began = time.perf_counter()
        for first in range(0, rows, batch):
            store.add([{**example, "point": p} for p in range(first, first + batch)])
        store.finish()
        return (time.perf_counter() - began) / rows


def estimate_lines(per_point_s: float, overhead_s: float, batch: int,
                   driver_s: float, driver_rows: int) -> list[str]:
    lines = [f"- measured: one worker costs a point in {per_point_s * 1e3:.1f} ms (the "
             "steady rate of `--jobs 1`); a Ray task costs "
             f"{overhead_s * 1e3:.2f} ms beyond its work (no-op tasks, 2 in flight per actor, "
             "here on one machine: a cluster adds the network's round trip).",
             f"- a task is a batch of {batch} points (`points.batch_size`'s most), so the "
             f"overhead per point is {overhead_s / batch * 1e3:.3f} ms, "
             f"{100 * overhead_s / batch / per_point_s:.2f}% of a point.",
             f"- {CANDIDATES:,} candidates on {NODES} nodes of C cores each, one actor per "
             "core: time = candidates x (point + overhead / batch) / (nodes x C), plus the "
             "actors' start-up (a few seconds: each imports torch and costlab once):", ""]
    lines += ["| cores per node | actors | points/s | time for 1,000,000 |",
              "|---:|---:|---:|---:|"]
    per_point = per_point_s + overhead_s / batch
    ceiling = 1 / driver_s
    for cores in (2, 16, 32, 64):
        actors = NODES * cores
        rate = actors / per_point
        bound = " (the driver's limit)" if rate > ceiling else ""
        total = CANDIDATES / min(rate, ceiling)
        lines.append(f"| {cores} | {actors:,} | {min(rate, ceiling):,.0f}{bound} | "
                     f"{total / 60:.1f} min |")
    lines += ["", f"- the driver (the one process that receives the rows and streams them to the "
              f"file) spends {driver_s * 1e6:.1f} us per row appending {driver_rows:,} rows "
              f"like these in batches of {batch} to a CSV (the journal plus the throttled "
              f"rewrites; measured here; receiving them from the workers not included): "
              f"at most {ceiling:,.0f} rows/s. Where the table's "
              "points/s exceed that, the driver is the limit, and 1,000,000 candidates take "
              f"at least {CANDIDATES / ceiling / 60:.1f} min whatever the cluster's size "
              "(larger batches do not help it: the cost is per row). It also holds every "
              "row in memory (about 1 KB a row: a GB for a million).",
              "", "This assumes the nodes' cores are as fast as this machine's, the network "
              "adds little to a task of a batch, and no point is much slower than the rest."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from costlab.workflows.executors import InProcess, ProcessPool, RayCluster, cores_available
    from costlab.workflows.sweep.points import batch_size
    from costlab.workflows.sweep.space import SearchSpace, factory_space

    axes = factory_space(KNOBS).axes
    space = SearchSpace(axes=axes, sample=args.points, seed=0)
    executors = [("in-process", InProcess()), ("--jobs 1", ProcessPool(jobs=1)),
                 ("--jobs 2", ProcessPool(jobs=2))]
    have_ray = False
    if not args.no_ray:
        try:
            import ray  # noqa: F401
            have_ray = True
            executors.append(("Ray, local, 2 CPUs", RayCluster(num_cpus=2)))
        except ImportError:
            print("Ray is not installed: its row is skipped", file=sys.stderr)
    runs: list[Run] = []
    sweep_rows: dict[tuple, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, executor in executors:
            print(f"{name}: {len(space)} points...", file=sys.stderr, flush=True)
            out = Path(tmp) / f"{len(runs)}.csv"
            runs.append(run_one(name, executor, space, out))
            files[name] = out.read_bytes()
            if not sweep_rows:  # one real row, as the driver's benchmark appends
                import csv

                with out.open(newline="") as handle:
                    reader = csv.reader(handle)
                    header = tuple(next(reader))
                    sweep_rows[header] = next(reader)
            print(f"  {runs[-1].wall_s:.1f} s, {runs[-1].rate:.2f} points/s", file=sys.stderr)
        identical = all(f == files["in-process"] for f in files.values())
    overhead = ray_task_overhead(2) if have_ray else None

    by_name = {r.name: r for r in runs}
    one, two = by_name["--jobs 1"], by_name["--jobs 2"]
    speedup, steady_speedup = two.rate / one.rate, two.steady_rate / one.steady_rate
    lines = [
        "# Sweep scale: points per second here, on local workers and on Ray",
        "",
        f"Generated {datetime.date.today()} by `python benchmarks/sweep_scale.py"
        f"{'' if args.points == 1000 else f' --points {args.points}'}` on "
        f"{platform.machine()}, {cores_available()} cores available to this process "
        f"(`os.sched_getaffinity`), Python {platform.python_version()}.",
        "",
        f"The space: `benchmarks/spaces/mobilenet_v2_space.py:build`, MobileNet-V2-style "
        f"(width 0.35-1.4 by 0.05, expansion 2-6, 1-4 blocks per stage, kernel 3/5/7; "
        f"{space.grid_size:,} points), {len(space):,} of them drawn with `--sample "
        f"{len(space)} --seed 0`, at {INPUT}. The command line: `costlab sweep "
        "benchmarks/spaces/mobilenet_v2_space.py:build -k width=0.35:1.4:0.05 -k "
        f"expansion=2:6:1 -k depth=1:4:1 -k kernel=3,5,7 --input {INPUT} --sample "
        f"{len(space)} -o results.csv` with `--jobs 0`, `--jobs 1`, `--jobs 2` or "
        "`--ray local --jobs 2`.",
        "",
        f"Every executor's results file is {'identical' if identical else 'NOT identical'} "
        "to the in-process one, byte for byte.",
        "",
        "| executor | wall s | points/s (whole run) | to first batch s | points/s (steady) "
        "| load avg before | load avg after |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r.name} | {r.wall_s:.1f} | {r.rate:.2f} | {r.first_s:.1f} | "
                     f"{r.steady_rate:.2f} | {r.load_before} | {r.load_after} |")
    goal = "met" if speedup >= 1.7 else "not met"
    lines += [
        "",
        f"Speed-up of `--jobs 2` over `--jobs 1`, measured back to back in this run: "
        f"**{speedup:.2f}x** over the whole run, {steady_speedup:.2f}x in the steady part "
        f"(goal: at least 1.7x; {goal}). Both cores are shared with other work on this "
        "machine: the load averages beside each run show how much (a load above 2 means "
        "something else was running too, and two workers then cannot get two whole cores).",
        "",
        "## A million candidates on a 64-node cluster (an estimate, not a measurement)",
        "",
    ]
    if overhead is not None:
        per_point = 1 / one.steady_rate
        batch = batch_size(CANDIDATES, NODES * 32)
        example = dict(zip(*next(iter(sweep_rows.items()))))
        driver = driver_cost_per_row(DRIVER_ROWS, batch, list(example), example)
        lines += estimate_lines(per_point, overhead, batch, driver, DRIVER_ROWS)
    else:
        lines.append("Ray is not installed here: no per-task overhead was measured.")
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "sweep_scale.md").write_text("\n".join(lines) + "\n")
    print("wrote reports/sweep_scale.md", file=sys.stderr)


if __name__ == "__main__":
    main()
