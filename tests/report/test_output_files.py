"""Output paths: checked before any work, symlinks followed, special files refused, the
suffix agreeing with the format, and files replaced whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from costlab.core.errors import UsageError
from costlab.report import output_files
from costlab.report.output_files import (atomic_path, check_directory, resolve_output,
                                         same_file, write_atomic)
from costlab.report.renderers import format_for


def test_write_atomic_replaces_whole_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old contents that are longer than the new ones")
    write_atomic(str(target), "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary left behind


def test_write_atomic_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output_files.os, "replace", broken_replace)
    with pytest.raises(UsageError, match="No space left on device"):
        write_atomic(str(target), "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failure_inside_the_block_keeps_old_file(tmp_path):
    target = tmp_path / "out.md"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(str(target)) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("render failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]


def test_symlink_is_written_through_and_stays_a_link(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    target = data / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_atomic(str(link), "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    # the temporary lived beside the target, and nothing is left in either directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "link.csv"]
    assert [p.name for p in data.iterdir()] == ["target.csv"]


def test_chain_of_symlinks_and_dangling_link(tmp_path):
    target = tmp_path / "t.json"
    (tmp_path / "b.json").symlink_to(target)  # dangling until written
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    write_atomic(str(tmp_path / "a.json"), "{}")
    assert target.read_text() == "{}"
    assert (tmp_path / "a.json").is_symlink() and (tmp_path / "b.json").is_symlink()


def test_symlink_into_a_missing_directory_is_refused(tmp_path):
    (tmp_path / "x.csv").symlink_to(tmp_path / "gone" / "x.csv")
    with pytest.raises(UsageError, match="symlink into .*gone, which does not exist"):
        resolve_output(str(tmp_path / "x.csv"))


def test_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(str(target), "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("make,words", [
    (lambda p: os.mkfifo(p), "a FIFO"),
    (lambda p: p.mkdir(), "a directory"),
])
def test_special_files_are_refused_and_left_alone(tmp_path, make, words):
    path = tmp_path / "out.csv"
    make(path)
    before = path.stat().st_mode
    with pytest.raises(UsageError, match=f"it is {words}, not a file"):
        resolve_output(str(path))
    with pytest.raises(UsageError, match=words):
        write_atomic(str(path), "x")
    assert path.stat().st_mode == before


def test_device_node_is_refused():
    with pytest.raises(UsageError, match="cannot write /dev/null: it is a character device"):
        resolve_output("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_symlink_to_a_device_is_refused(tmp_path):
    (tmp_path / "x.txt").symlink_to("/dev/null")
    with pytest.raises(UsageError, match="character device"):
        resolve_output(str(tmp_path / "x.txt"))


def test_unwritable_directory_is_found_by_a_probe(tmp_path):
    # /proc refuses new files even to root, for whom os.access always says yes
    with pytest.raises(UsageError, match=r"^cannot write /proc/x.csv: "):
        resolve_output("/proc/x.csv")
    with pytest.raises(UsageError, match="does not exist"):
        resolve_output(str(tmp_path / "nope" / "x.csv"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["", "  "])
def test_empty_path_is_refused(path):
    with pytest.raises(UsageError, match="empty path"):
        resolve_output(path)


def test_same_file_sees_through_links_and_dots(tmp_path):
    (tmp_path / "l.png").symlink_to(tmp_path / "p.png")
    assert same_file(str(tmp_path / "l.png"), str(tmp_path / "p.png"))
    assert same_file(str(tmp_path / "d" / ".." / "p.png"), str(tmp_path / "p.png"))
    assert not same_file(str(tmp_path / "q.png"), str(tmp_path / "p.png"))


def test_check_directory_creates_and_refuses_files(tmp_path):
    made = check_directory(str(tmp_path / "a" / "b"))
    assert made.is_dir() and list(made.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        check_directory(str(tmp_path / "f"))


@pytest.mark.parametrize("name,fmt", [("a.csv", "csv"), ("a.MD", "md"), ("a.json", "json"),
                                      ("a.txt", "table"), ("page.HTML", "html"),
                                      ("page.htm", "html"), ("notes.markdown", "md")])
def test_format_from_suffix(name, fmt):
    assert format_for(None, name) == fmt
    assert format_for(fmt, name) == fmt


def test_format_without_output():
    assert format_for(None, None) == "table"
    assert format_for("json", None) == "json"


@pytest.mark.parametrize("fmt,name,words", [
    ("json", "x.csv", "x.csv names csv but --format is json"),
    ("csv", "x.md", "x.md names md but --format is csv"),
    (None, "x.xyz", r"cannot tell the format of x.xyz: .xyz is not one of \.txt, \.csv, \.html, \.htm, \.json, \.md, \.markdown$"),
    ("csv", "x.xyz", "cannot tell the format of x.xyz"),
    (None, "results", "cannot tell the format of results: name it with one of"),
    ("yaml", "x.csv", "unknown format 'yaml'"),
])
def test_suffix_and_format_must_agree(fmt, name, words):
    with pytest.raises(UsageError, match=words):
        format_for(fmt, name)


def test_no_suffix_with_a_format_is_fine():
    assert format_for("csv", "results") == "csv"
