"""The packaged settings and speeds of ShuffleNet V2's Tables 1-4."""

from __future__ import annotations

from pathlib import Path

import pytest

from costlab.references import guideline_experiment, guideline_experiments

SHARED = Path(__file__).resolve().parents[2] / "shared" / "references" / \
    "shufflenet_v2_experiments.csv"


def test_every_row_loads_with_its_channels_at_its_scale():
    rows = guideline_experiments()
    assert len(rows) == 102
    assert {r.guideline for r in rows} == {"G1", "G2", "G3", "G4"}
    row = guideline_experiment("G1", "c1:c2=1:6", "gpu", 2)
    assert (row.channels, row.speed, row.unit) == ((104, 624), 489.0, "batches/s")
    assert guideline_experiment("G2", "g=8", "arm", 1).channels == (180,)


def test_g3_and_g4_widths_map_to_scales_1_2_4():
    assert [guideline_experiment("G3", "1-fragment", "gpu", s).channels for s in (1, 2, 4)] \
        == [(128,), (256,), (512,)]
    assert [guideline_experiment("G3", "1-fragment", "arm", s).speed for s in (1, 2, 4)] \
        == [40.2, 10.1, 2.3]
    row = guideline_experiment("G4", "relu=no shortcut=no", "arm", 4)
    assert (row.channels, row.speed) == ((128,), 5.4)


def test_a_missing_setting_is_a_key_error():
    with pytest.raises(KeyError, match="G3"):
        guideline_experiment("G3", "1-fragment", "gpu", 8)


@pytest.mark.skipif(not SHARED.exists(), reason="shared/references not beside this checkout")
def test_packaged_copy_matches_shared_references():
    packaged = Path(__file__).resolve().parents[1] / "costlab" / "references" / \
        "shufflenet_v2_experiments.csv"
    assert packaged.read_text() == SHARED.read_text()
