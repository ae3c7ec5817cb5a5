from __future__ import annotations

import json

import pytest

import costlab
from costlab.core.errors import UsageError
from costlab.report import export
from costlab.report.renderers import render


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

    from costlab.report.output_files import write_atomic

    umask = os.umask(0o022)
    try:
        path = tmp_path / "out.md"
        write_atomic(str(path), "text")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0o600
        assert path.read_text() == "text" and list(tmp_path.iterdir()) == [path]
    finally:
        os.umask(umask)
