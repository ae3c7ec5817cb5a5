from __future__ import annotations

import json

import pytest

import costlab
from costlab.core.errors import UsageError
from costlab.report import export
from costlab.report.renderers import render


def test_write_atomic_replaces_whole_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old contents that are longer than the new ones")
    export.write_atomic(str(target), "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary left behind


def test_write_atomic_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "replace", broken_replace)
    with pytest.raises(UsageError, match="No space left on device"):
        export.write_atomic(str(target), "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_check_writable_rejects_missing_dir_and_directories(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        export.check_writable(str(tmp_path / "nope" / "x.csv"))
    with pytest.raises(UsageError, match="is a directory"):
        export.check_writable(str(tmp_path))


@pytest.mark.parametrize("name,fmt", [("a.csv", "csv"), ("a.MD", "md"), ("a.json", "json"),
                                      ("a.txt", "table"), ("a", "table"),
                                      ("page.HTML", "html"), ("page.htm", "html")])
def test_format_from_suffix(name, fmt):
    assert export.format_for(None, name) == fmt
    assert export.format_for("json", name) == "json"


def test_analysis_payload_round_trip():
    cost = costlab.analyze("mobilenet_v1")
    payload = json.loads(render(export.analysis_document(cost, depth=1), "json"))
    assert payload["totals"]["flops"] == cost.total.flops
    assert len(payload["layers"]) == len(cost.layers)
    assert [m["module"] for m in payload["modules"]] == ["features", "pool", "classifier"]
    assert payload["conventions"][0].startswith("MACs: multiply-accumulates")


def test_uncounted_ops_reach_every_format():
    import torch
    from torch import nn

    class Spectral(nn.Module):
        def forward(self, x):
            return torch.fft.rfft(x).real

    cost = costlab.analyze(Spectral(), input_shape=(2, 8))
    assert "Uncounted ops" in render(export.analysis_document(cost, depth=1), "md")
    assert "_fft_r2c x1" in export.uncounted_text(cost)
    payload = json.loads(render(export.analysis_document(cost, depth=1), "json"))
    assert payload["uncounted"] == [{"op": "_fft_r2c", "calls": 1, "modules": [""]}]
    assert payload["totals"]["partial"] is True
    csv = render(export.analysis_document(cost, depth=1), "csv")
    assert "no formula: uncounted" in csv


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from costlab.report.export import write_atomic

    umask = os.umask(0o022)
    try:
        path = tmp_path / "out.md"
        write_atomic(str(path), "text")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0o600
        assert path.read_text() == "text" and list(tmp_path.iterdir()) == [path]
    finally:
        os.umask(umask)
