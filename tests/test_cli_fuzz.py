"""Every subcommand driven with malformed options and paths (hypothesis): each run must end
in one ``error:`` line and a non-zero exit, never a traceback, and must change no file outside
the test's temporary directory (nor the special files inside it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import invoke

ROOT = Path(__file__).resolve().parents[1]

NUMBER = ["abc", "nan", "-1", "0.5", "", "1,2"]
REAL = ["abc", "nan", "inf", "-inf", "-1", "", "1e999"]
SHAPE = ["", "1,,3", "abc", "1,3,-2,4", "1,3,0,4", "1,3,224,224:float99",
         "99999999999,99999999999,99999999999", "1;3"]
PATH = ["", "/proc/x.csv", "/dev/full", "{tmp}/fifo.csv", "{tmp}/dir", "{tmp}/nodir/x.csv",
        "x.xyz"]
# option -> malformed values; an option not listed gets its kind's list (N or X)
VALUES = {
    "--format": ["yaml", "", "cvs"],
    "--output": PATH,
    "--plot": PATH + ["{tmp}/p.txt", "{tmp}/keep.csv"],
    "--out-dir": ["", "/proc/costlab", "{tmp}/keep.csv", "/dev/null"],
    "--input": SHAPE,
    "--knob": ["width", "=1", "nosuch=1", "width=abc", "width=nan"],
    "--kwargs": ["{", "[]", "1"],
    "--kwargs-inputs": ["{", "[]", '{"mask": 1}', '{"mask": "1,,2"}'],
    "--dtype": ["float99", ""],
    "--device": ["gpu", "cuda:99", "", "tpu"],
    "--latency-device": ["gpu", ""],
    "--hardware": ["nosuch", "{tmp}/nope.json", "{tmp}/keep.csv"],
    "--check": ["nosuch", ""],
    "--remote-costlab": [""],
    "--width@sweep": ["nan,1", "1,,2", "abc", "-1", "inf"],
    "--resolution@sweep": ["nan", "1,,2", "abc", "-1", "0"],
    "--knob@sweep": ["width", "width=", "nosuch=1"],
}
MODELS = ["no_such_model", "", "x.py:Nope", "{tmp}/missing.py:M", "{tmp}/corrupt.pt2",
          "{tmp}/keep.csv", "torchvision:", "timm:"]
# options never driven: any value is valid (a name), or a valid one starts long work
SKIPPED = {"--name", "--help"}


def commands() -> dict:
    import typer.main

    from costlab.cli import app

    group = typer.main.get_command(app)
    return {name: command for name, command in group.commands.items() if not command.hidden}


def malformed(command_name: str, command) -> list[tuple[str, ...]]:
    """(flag, value) pairs that are wrong for this command, and bare wrong words."""
    pairs: list[tuple[str, ...]] = [("--bogus",), ("--bogus", "1")]
    for param in command.params:
        if param.param_type_name != "option" or getattr(param, "is_flag", False):
            continue
        flag = max(param.opts, key=len)
        if flag in SKIPPED:
            continue
        values = VALUES.get(f"{flag}@{command_name}") or VALUES.get(flag) or \
            (REAL if param.metavar == "X" else NUMBER)
        pairs += [(flag, v) for v in values]
    return pairs


def positional(command) -> list[list[str]]:
    names = [p for p in command.params if p.param_type_name == "argument"]
    if not names:
        return [[]]
    if names[0].name == "names":  # report
        return [["no_such_report"], ["mobilenet_v1_vs_v2", "no_such_report"], []]
    return [["mobilenet_v1"]] + [[m] for m in MODELS]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A working directory holding the special files the values name."""
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "dir").mkdir()
    (tmp_path / "keep.json").write_text('{"keep": true}')
    (tmp_path / "keep.csv").write_text("keep\n")
    (tmp_path / "corrupt.pt2").write_bytes(b"PK\x03\x04 not a zip")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (not .git or caches) with its size and mtime."""
    state = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", "__pycache__", ".hypothesis",
                                                 ".pytest_cache")]
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            state[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns)
    return state


@pytest.mark.parametrize("name", sorted(commands()))
def test_malformed_input_is_one_error_line_and_changes_nothing(name, sandbox):
    command = commands()[name]
    pairs = malformed(name, command)
    before = tree_state(ROOT)
    kept = {p: p.read_bytes() for p in (sandbox / "keep.json", sandbox / "keep.csv")}

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(args=st.sampled_from(positional(command)),
           wrong=st.lists(st.sampled_from(pairs), min_size=1, max_size=2))
    def run(args, wrong):
        argv = [name, *args] + [part.replace("{tmp}", str(sandbox))
                                for pair in wrong for part in pair]
        argv = [a.replace("{tmp}", str(sandbox)) for a in argv]
        result = invoke(*argv)
        shown = result.stdout + result.stderr
        assert "Traceback" not in shown, argv
        assert result.exit_code in (1, 2), (argv, result.exit_code, shown)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, result.stderr)
        assert isinstance(result.exception, (SystemExit, type(None))), (argv, result.exception)

    run()
    assert tree_state(ROOT) == before
    assert {p: p.read_bytes() for p in kept} == kept
    assert stat.S_ISFIFO((sandbox / "fifo.csv").stat().st_mode)
    assert (sandbox / "dir").is_dir() and list((sandbox / "dir").iterdir()) == []
    assert sorted(p.name for p in sandbox.iterdir()) == [
        "corrupt.pt2", "dir", "fifo.csv", "keep.csv", "keep.json"]
