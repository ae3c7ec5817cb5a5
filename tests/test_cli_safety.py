"""The command line as a new user meets it: output paths that are checked before any work and
never clobber what they should not, and usage errors that are one line with exit 2."""

from __future__ import annotations

import os
import stat

import pytest

from costlab.core.version import __version__
from tests.cli_helpers import fails, invoke, ok


# ------------------------------------------------------------------ output safety

def test_symlink_output_writes_through_to_its_target(tmp_path):
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    ok("list", "-o", str(link))
    assert link.is_symlink()
    assert target.read_text().startswith("model,family,")


def test_fifo_output_is_refused_before_any_work(tmp_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    line = fails("analyze", "mobilenet_v1", "-o", str(fifo), code=2)
    assert line == f"error: cannot write {fifo}: it is a FIFO, not a file"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_device_output_is_refused():
    assert fails("list", "-f", "csv", "-o", "/dev/full", code=2) == \
        "error: cannot write /dev/full: it is a character device, not a file"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_directory_output_is_refused(tmp_path):
    assert "it is a directory" in fails("list", "-f", "csv", "-o", str(tmp_path), code=2)


def test_unwritable_place_fails_before_the_analysis(monkeypatch):
    import costlab.workflows.analyze as workflow

    def no_model(*args, **kwargs):
        raise AssertionError("the model was built before the output path was checked")

    monkeypatch.setattr(workflow, "resolve_target", no_model)
    assert "the model was built" in fails("analyze", "resnet50", "-f", "csv")  # the trap works
    line = fails("analyze", "resnet50", "-o", "/proc/x.csv", code=2)
    assert line.startswith("error: cannot write /proc/x.csv: ")


@pytest.mark.parametrize("args,message", [
    (["-o", "x.csv", "-f", "json"], "error: x.csv names csv but --format is json: drop one, "
                                    "or make them agree"),
    (["-o", "x.xyz"], "error: cannot tell the format of x.xyz: .xyz is not one of .txt, .csv, "
                      ".html, .htm, .json, .md, .markdown"),
    (["-o", ""], "error: -o needs a file name, got an empty one"),
    (["--plot", "p.png", "-o", "p.png"], "error: --plot and -o both name p.png: give the "
                                          "figure and the table different files"),
    (["--plot", "p.txt"], "error: cannot plot to p.txt: the name must end in .png, .svg, "
                          ".pdf"),
])
def test_contradictory_or_odd_output_names_are_usage_errors(tmp_path, monkeypatch, args,
                                                             message):
    monkeypatch.chdir(tmp_path)
    assert fails("analyze", "mobilenet_v1", *args, code=2) == message
    assert list(tmp_path.iterdir()) == []


def test_failed_run_leaves_the_old_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    fails("analyze", "no_such_model", "-o", str(out))
    assert out.read_text() == "old" and list(tmp_path.iterdir()) == [out]


# ------------------------------------------------------------------ usage errors

@pytest.mark.parametrize("args,message", [
    (["analyze", "mobilenet_v1", "-w", "abc"],
     "error: invalid value for '--width' / '-w': Input should be a valid number, unable to "
     "parse string as a number (see costlab analyze --help)"),
    (["analyze", "--bogus"], "error: no such option: --bogus (see costlab analyze --help)"),
    (["analyze"], "error: missing argument 'MODEL' (see costlab analyze --help)"),
    (["bogus"], "error: no such command 'bogus' (see costlab --help)"),
    (["analyze", "mobilenet_v1", "-w", "nan"], "error: width must be a finite number, got nan"),
    (["list", "--format", ""], "error: unknown format ''; choose from table, csv, html, json, md"),
    (["bench", "mobilenet_v1", "--max-time", "1e999"],
     "error: warm-up and measurement times must be finite numbers of seconds"),
    (["analyze", "mobilenet_v1", "-w", "inf"], "error: width must be a finite number, got inf"),
    (["sweep", "mobilenet_v1", "--width", "nan,1"],
     "error: width must be a finite number, got 'nan'"),
    (["analyze", "mobilenet_v1", "-i", "1,3,99999999999,99999999999"],
     "error: input shape 1x3x99999999999x99999999999 is too large: more than 5.76e+17 "
     "elements, which torch cannot index"),
    (["analyze", "mobilenet_v1", "-b", "4", "-i", "1,3,224,224"],
     "error: --input gives the whole input, so --batch would be ignored: write the batch and "
     "size into the shape instead"),
    (["compare", "mobilenet_v1", "-r", "192", "-i", "1,3,224,224"],
     "error: --input gives the whole input, so --resolution would be ignored: write the batch "
     "and size into the shape instead"),
])
def test_usage_errors_are_one_line_with_exit_2(args, message):
    assert fails(*args, code=2) == message


def test_version():
    assert ok("--version") == f"costlab {__version__}\n"


def test_help_shows_plain_metavars():
    text = ok("analyze", "--help")
    assert "Usage: costlab analyze [OPTIONS] MODEL\n" in text
    assert "-d, --depth N" in text and "-w, --width X" in text and "-i, --input TEXT" in text
    assert not any(mark in text for mark in ("{MODEL}", "<int>", "<list[str]>", "<str>"))
    assert "Usage: costlab report [OPTIONS] [NAME]...\n" in ok("report", "--help")
    assert "Usage: costlab compare [OPTIONS] MODEL...\n" in ok("compare", "--help")


def test_debug_shows_the_traceback():
    result = invoke("--debug", "analyze", "no_such_model")
    assert result.exit_code != 0 and "UnknownModelError" in repr(result.exception)


def test_published_comparison_is_per_image_at_any_batch():
    import csv
    import io

    rows = {b: next(csv.DictReader(io.StringIO(ok("compare", "mobilenet_v1", "-b", str(b),
                                                 "-f", "csv"))))
            for b in (1, 4)}
    assert float(rows[4]["macs_m"]) == 4 * float(rows[1]["macs_m"])
    assert rows[4]["macs_vs_published_pct"] == rows[1]["macs_vs_published_pct"]
    assert abs(float(rows[4]["macs_vs_published_pct"])) < 0.1
