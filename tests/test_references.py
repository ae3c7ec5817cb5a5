from __future__ import annotations

from pathlib import Path

import pytest

from costlab.references import lookup, published

SHARED = Path(__file__).resolve().parents[2] / "shared" / "references" / "published.csv"


def test_lookup_matches_knobs_and_resolution():
    v2 = lookup("mobilenet_v2", {"width": 1.0, "num_classes": 1000}, 224)
    assert v2 is not None and v2.macs_millions == 300 and v2.top1_percent == 72.0
    wide = lookup("mobilenet_v2", {"width": 1.4, "num_classes": 1000}, 224)
    assert wide is not None and wide.macs_millions == 585
    assert lookup("mobilenet_v2", {"width": 0.75}, 224) is None
    assert lookup("mobilenet_v1", {"width": 1.0}, 192) is None
    assert lookup("efficientnet_b3", {}, 300).params_millions == 12


def test_every_row_parses():
    rows = published()
    assert len(rows) > 40
    assert all(r.source for r in rows)


@pytest.mark.skipif(not SHARED.exists(), reason="shared/references not beside this checkout")
def test_packaged_copy_matches_shared_references():
    packaged = Path(__file__).resolve().parents[1] / "costlab" / "references" / "published.csv"
    assert packaged.read_text() == SHARED.read_text()
