"""Sweeps: search spaces, the same rows from every executor, streamed files, kill and resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from costlab.core.errors import UsageError
from costlab.report.results_file import ResultsFile
from costlab.report.tables import sweep_columns, sweep_failure_columns
from costlab.workflows.executors import (RAY_HINT, InProcess, ProcessPool, RayCluster,
                                         choose_executor, import_ray)
from costlab.workflows.sweep.pareto import Objective, parse_pareto, pareto_front
from costlab.workflows.sweep.run import run_sweep
from costlab.workflows.sweep.space import (SearchSpace, expand_range, factory_space,
                                           registered_space)

ROOT = Path(__file__).resolve().parents[2]

FACTORY = textwrap.dedent('''
    from torch import nn

    def build(width=1.0, depth=1, kernel=3):
        if kernel % 2 == 0:
            raise ValueError(f"kernel {kernel} must be odd")
        c = max(4, int(16 * width))
        layers = [nn.Conv2d(3, c, 3, padding=1)]
        for _ in range(depth):
            layers += [nn.Conv2d(c, c, kernel, padding=kernel // 2), nn.ReLU()]
        return nn.Sequential(*layers)
''')


@pytest.fixture
def factory(tmp_path) -> str:
    path = tmp_path / "space.py"
    path.write_text(FACTORY)
    return f"{path}:build"


# ------------------------------------------------------------------ spaces

def test_ranges_are_exact_and_include_both_ends():
    values = [float(v) for v in expand_range("0.35:1.4:0.05")]
    assert len(values) == 22 and values[0] == 0.35 and values[-1] == 1.4
    assert 1.0 in values and 0.7 in values  # decimal steps: no 0.7000000000000001
    assert expand_range("96:224:64") == ["96", "160", "224"]


@pytest.mark.parametrize("text, message", [
    ("1:0.5:0.1", "STOP is below START"), ("0:1:0", "step must be > 0"),
    ("0:1", "START:STOP:STEP"), ("a:1:0.1", "not a number"), ("0:1:1e-9", "more than")])
def test_malformed_ranges(text, message):
    with pytest.raises(UsageError, match=message):
        expand_range(text)


def test_grid_order_is_the_product_and_lists_mix_with_ranges():
    space = registered_space("mobilenet_v2", {"width": "0.5,0.75:1:0.25"}, "96,128")
    assert len(space) == 6
    assert [space.values(i) for i in range(6)] == [
        {"width": w, "resolution": r} for w in (0.5, 0.75, 1.0) for r in (96, 128)]


def test_samples_are_distinct_reproducible_and_seeded():
    axes = factory_space({"a": "1:100:1", "b": "1:100:1"}).axes
    one = SearchSpace(axes=axes, sample=50, seed=7)
    again = SearchSpace(axes=axes, sample=50, seed=7)
    other = SearchSpace(axes=axes, sample=50, seed=8)
    points = [one.values(i) for i in range(50)]
    assert points == [again.values(i) for i in range(50)]
    assert points != [other.values(i) for i in range(50)]
    assert len({tuple(p.values()) for p in points}) == 50
    with pytest.raises(UsageError, match="more than the 10000 points"):
        SearchSpace(axes=axes, sample=10_001)


def test_knob_values_are_checked_before_any_work():
    with pytest.raises(UsageError, match="width must be > 0"):
        registered_space("mobilenet_v2", {"width": "0:1:0.5"})


# ------------------------------------------------------------------ Pareto

def test_pareto_front_minimizes_costs_and_maximizes_accuracy():
    objectives = parse_pareto("macs,published_top1_pct", ["macs", "published_top1_pct"])
    assert objectives == (Objective(column="macs"),
                          Objective(column="published_top1_pct", maximize=True))
    macs = [10, 20, 30, 15, 20, None]
    top1 = [60, 70, 69, 59, 70, 99]
    assert pareto_front(macs, top1, objectives) == [True, True, False, False, True, False]
    cost = (Objective(column="a"), Objective(column="b"))
    assert pareto_front([1, 2, 3], [3, 1, 2], cost) == [True, True, False]
    with pytest.raises(UsageError, match="no column 'nope'"):
        parse_pareto("macs,nope", ["macs"])


# ------------------------------------------------------------------ executors

SMALL = {"width": "0.5,1"}
SMALL_RES = "96,128,160"


def _rows(executor, tmp_path, name):
    space = registered_space("mobilenet_v2", SMALL, SMALL_RES)
    out = tmp_path / f"{name}.csv"
    result = run_sweep("mobilenet_v2", space, executor=executor, output=str(out))
    return result.frame, out.read_bytes()


def test_a_process_pool_gives_the_rows_of_this_process(tmp_path):
    here, here_file = _rows(InProcess(), tmp_path, "here")
    pool, pool_file = _rows(ProcessPool(jobs=2), tmp_path, "pool")
    assert pool_file == here_file and pool.equals(here)
    assert here.loc[here["resolution"] == 160, "macs"].tolist() == [50_184_000, 154_083_200]


def test_local_ray_gives_the_rows_of_this_process(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'costlab[ray]')")
    here, here_file = _rows(InProcess(), tmp_path, "here")
    ray_frame, ray_file = _rows(RayCluster(num_cpus=2), tmp_path, "ray")
    assert ray_file == here_file and ray_frame.equals(here)


def test_ray_missing_is_a_one_line_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when absent
    with pytest.raises(UsageError) as caught:
        import_ray()
    assert str(caught.value) == RAY_HINT and "costlab[ray]" in RAY_HINT


def test_executor_choice():
    assert choose_executor(jobs=None, ray=None, points=10) == InProcess()
    assert choose_executor(jobs=None, ray=None, points=1000) == ProcessPool(
        jobs=len(os.sched_getaffinity(0)))
    assert choose_executor(jobs=0, ray=None, points=1000) == InProcess()
    assert choose_executor(jobs=3, ray="local", points=10) == RayCluster(actors=3, num_cpus=3)
    assert choose_executor(jobs=None, ray="auto", points=10) == RayCluster(address="auto")
    with pytest.raises(UsageError, match="--jobs must be >= 0"):
        choose_executor(jobs=-1, ray=None, points=10)


# ------------------------------------------------------------------ failures

def test_a_failing_point_is_a_row_and_the_sweep_goes_on(factory):
    space = factory_space({"kernel": "1,2,3", "depth": "1,2"})
    result = run_sweep(factory, space, factory=True, options={"input_shape": ["1,3,8,8"]})
    frame = result.frame
    assert frame["point"].tolist() == list(range(6))
    failed = frame[frame["kernel"] == 2]
    assert len(result.failed) == 2 and failed["macs"].isna().all()
    assert failed["error"].str.fullmatch(r"building .*space\.py:build failed: "
                                         r"ValueError: kernel 2 must be odd").all()
    # kernel 3, depth 1: 3->16 then 16->16 channels, each 3x3 over 8x8
    good = frame[(frame["kernel"] == 3) & (frame["depth"] == 1)].iloc[0]
    assert good["macs"] == 8 * 8 * (16 * 3 * 9 + 16 * 16 * 9) and good["error"] == ""


def test_the_cli_reports_failures_and_exits_zero(factory, tmp_path):
    out = tmp_path / "r.csv"
    done = subprocess.run([sys.executable, "-m", "costlab", "sweep", factory, "-k",
                           "kernel=2,3", "--input", "1,3,8,8", "-o", str(out)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "warning: 1 of 2 points failed" in done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["kernel"] for r in rows] == ["2", "3"] and rows[1]["error"] == ""


# ------------------------------------------------------------------ streaming, resume

KILL_ARGS = ["sweep", "mobilenet_v2", "-w", "0.35:1.4:0.05", "-r", "96", "--jobs", "0"]


def _sweep_cli(args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "costlab", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def test_kill_and_resume_give_the_file_of_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole.csv", tmp_path / "killed.csv"
    space = registered_space("mobilenet_v2", {"width": "0.35:1.4:0.05"}, "96")
    run_sweep("mobilenet_v2", space, output=str(whole))
    parts = tmp_path / ".killed.csv.parts"
    run = _sweep_cli([*KILL_ARGS, "-o", str(killed)])
    deadline = time.monotonic() + 60
    while not (parts.is_dir() and any(parts.iterdir())) and run.poll() is None:
        assert time.monotonic() < deadline, "the sweep wrote no chunk within a minute"
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL
    lines = killed.read_text().splitlines()  # a whole table: the header, whole rows
    header = whole.read_text().splitlines()[0]
    assert lines[0] == header
    assert all(line in whole.read_text().splitlines() for line in lines)
    journaled = {json.loads(line)["point"] for p in parts.iterdir()
                 for line in p.read_text().splitlines(keepends=True) if line.endswith("\n")}
    finished = len({int(line.split(",")[0]) for line in lines[1:]} | journaled)
    assert 0 < finished < len(space)
    resumed = _sweep_cli([*KILL_ARGS, "-o", str(killed), "--resume"])
    _, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr
    assert f"({finished} were there already)" in stderr
    assert killed.read_bytes() == whole.read_bytes() and not parts.exists()


def test_resume_refuses_another_sweeps_file(tmp_path):
    out = tmp_path / "r.csv"
    axes = factory_space({"a": "1:20:1"}).axes
    store = ResultsFile(str(out), sweep_columns(["a"]), {})
    store.start(resume=False)
    store.add([{"point": 0, "a": 5, **sweep_failure_columns("no such thing")}])
    store.finish()
    with pytest.raises(UsageError, match="its point 0 has a=5, this sweep's has a=1"):
        run_sweep("x.py:f", SearchSpace(axes=axes), factory=True, output=str(out),
                  resume=True)


def test_parquet_streams_and_resumes(tmp_path):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (costlab[ray])")
    import pandas as pd

    space = registered_space("mobilenet_v2", SMALL, "96")
    out = tmp_path / "r.parquet"
    first = run_sweep("mobilenet_v2", space, output=str(out))
    written = out.read_bytes()
    again = run_sweep("mobilenet_v2", space, output=str(out), resume=True)
    assert again.resumed == 2 and out.read_bytes() == written
    table = pd.read_parquet(out)
    assert table["macs"].dtype == "int64" and table["macs"].tolist() == first.frame[
        "macs"].tolist()


def test_a_torn_journal_line_is_a_point_still_in_flight(tmp_path):
    out = tmp_path / "r.csv"
    columns = sweep_columns(["a"])
    store = ResultsFile(str(out), columns, {}, min_interval_s=3600)
    store.start(resume=False)
    store.add([{"point": 0, "a": 1, **sweep_failure_columns("x")}])
    store.add([{"point": 1, "a": 2, **sweep_failure_columns("y")}])
    store.close()  # as a kill leaves it: the file holds no row yet, the journal two
    journal = next((tmp_path / ".r.csv.parts").iterdir())
    with journal.open("a") as handle:
        handle.write('{"point": 2, "a": 3, "inp')  # cut short by the kill
    assert out.read_text() == ",".join(columns) + "\n"
    again = ResultsFile(str(out), columns, {})
    assert sorted(again.start(resume=True)) == [0, 1]
    assert again.value(1, "error") == "y"
