"""Several boards at once: ``bench --device ssh://a --device ssh://b``, one process per board.

The boards are this machine behind a stand-in ``ssh`` (COSTLAB_SSH) that runs the remote
command here and logs when each board's run began and ended, so the test sees the real
``costlab serve-bench`` reply and whether the boards were timed at the same time.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from costlab.core.errors import UsageError
from costlab.workflows.fleet import check_boards

ROOT = Path(__file__).resolve().parents[2]

FAKE_SSH = textwrap.dedent('''\
    #!{python}
    """ssh for the tests: skip the options, run the remote words here with sh."""
    import subprocess, sys, time
    args = sys.argv[1:]
    while args[0] != "--":
        args = args[2:] if args[0] == "-o" else args[1:]
    host, words = args[1], args[2:]
    with open("{log}", "a") as log:
        log.write(f"{{host}} start {{time.time()}}\\n")
    done = subprocess.run(["sh", "-c", " ".join(words)])
    with open("{log}", "a") as log:
        log.write(f"{{host}} end {{time.time()}}\\n")
    sys.exit(done.returncode)
''')


def _stand_in_boards(tmp_path):
    """A stand-in ssh that logs each board's run, and the environment that uses it."""
    log = tmp_path / "ssh.log"
    ssh = tmp_path / "ssh"
    ssh.write_text(FAKE_SSH.format(python=sys.executable, log=log))
    ssh.chmod(0o755)
    remote = shlex.join(["env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "costlab"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COSTLAB_SSH": str(ssh),
           "COSTLAB_REMOTE_COMMAND": remote}
    return log, env


def _overlapped(log, first: str, second: str) -> bool:
    """Whether the two boards' runs (from the stand-in's log) overlapped in time."""
    times: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        host, event, when = line.split()
        times.setdefault(host, {})[event] = float(when)
    a, b = times[first], times[second]
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_several_devices_must_all_be_boards():
    with pytest.raises(UsageError, match="cpu is not one"):
        check_boards(["ssh://a", "cpu"])
    with pytest.raises(UsageError, match="given twice"):
        check_boards(["ssh://a", "ssh://a"])
    assert check_boards(["cpu"]) == ["cpu"]


def test_boards_are_timed_at_once_and_rows_tagged_with_their_host(tmp_path):
    log, env = _stand_in_boards(tmp_path)
    done = subprocess.run([sys.executable, "-m", "costlab", "bench", "block:conv3x3",
                           "--device", "ssh://pi@board-a", "--device", "ssh://pi@board-b:2222",
                           "--quick", "--no-memory", "-f", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)["reports"]
    assert [r["host"] for r in reports] == ["ssh://pi@board-a", "ssh://pi@board-b:2222"]
    assert all(r["model"] == "block:conv3x3" and r["stats"]["median_ms"] > 0 for r in reports)
    assert _overlapped(log, "board-a", "board-b")


def test_compare_latency_times_each_board_at_once_with_a_table_each(tmp_path):
    log, env = _stand_in_boards(tmp_path)
    done = subprocess.run([sys.executable, "-m", "costlab", "compare", "block:conv3x3",
                           "block:conv5x5", "--latency", "--latency-device", "ssh://pi@board-a",
                           "--latency-device", "ssh://pi@board-b", "--quick", "--rounds", "1",
                           "--threads", "1", "-f", "json"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    boards = json.loads(done.stdout)["board_latency"]
    assert [b["host"] for b in boards] == ["ssh://pi@board-a", "ssh://pi@board-b"]
    for board in boards:
        assert [r["model"] for r in board["reports"]] == ["block:conv3x3", "block:conv5x5"]
        assert all(r["host"] == board["host"] and r["stats"]["median_ms"] > 0
                   for r in board["reports"])
        assert [m["host"] for m in board["models"]] == [board["host"]] * 2
        assert board["models"][0]["latency_ratio"] == 1.0
    assert _overlapped(log, "board-a", "board-b")


def test_compare_latency_on_boards_refuses_what_cannot_travel(tmp_path):
    _, env = _stand_in_boards(tmp_path)
    model = tmp_path / "net.py"
    model.write_text("import torch\nclass Net(torch.nn.Linear):\n"
                     "    def __init__(self):\n        super().__init__(4, 4)\n")
    for argv, words in (
            ([f"{model}:Net", f"{model}:Net", "--input", "1,4", "--latency-device",
              "ssh://pi@a"], "compare --latency on a board takes registered names"),
            (["block:conv3x3", "--latency-device", "ssh://pi@a", "--latency-device", "cpu"],
             "cpu is not one")):
        done = subprocess.run([sys.executable, "-m", "costlab", "compare", *argv, "--latency",
                               "--quick"], capture_output=True, text=True, env=env, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: ")
        assert words in lines[0], lines
