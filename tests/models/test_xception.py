"""Xception against its paper's Figure 5 and the published row."""

from __future__ import annotations

from functools import cache

import pytest
import torch
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.errors import UsageError
from costlab.models import get_model_spec
from costlab.models.xception import SeparableConvBN, XceptionBlock
from costlab.references import lookup


@cache
def analyzed():
    return costlab.analyze("xception")


def build(**knobs) -> nn.Module:
    with torch.device("meta"):  # shapes only: fast
        return get_model_spec("xception").build(**knobs)


def test_xception_exact_costs():
    cost = analyzed()
    assert cost.total.macs == 8_357_403_496
    assert cost.total.params == 22_855_952  # timm's xception, to the unit
    assert cost.total.partial is False and cost.uncounted == []
    assert cost.info.input_shapes == ((1, 3, 299, 299),)


def test_xception_published_row_within_1_5_percent():
    entry = lookup("xception", {"num_classes": 1000}, 299)
    assert entry is not None and (entry.macs_millions, entry.params_millions) == (8400, 23)
    cost = analyzed()
    assert cost.total.macs / 1e6 == pytest.approx(entry.macs_millions, rel=0.015)
    assert cost.total.params / 1e6 == pytest.approx(entry.params_millions, rel=0.015)


def test_xception_36_conv_layers():
    """Section 4.2: "36 convolutional layers forming the feature extraction base": two
    plain convs and 34 separable ones (6 entry, 24 middle, 2 + 2 exit)."""
    model = build()
    separable = [m for m in model.modules() if isinstance(m, SeparableConvBN)]
    assert len(separable) == 34
    cost = analyzed()
    depthwise = [r for r in cost.layers if r.category == OpCategory.DEPTHWISE]
    assert len(depthwise) == 34
    stem = [r for r in cost.layers if r.category == OpCategory.CONV]
    assert [r.output_shapes[0][1:] for r in stem] == [(32, 149, 149), (64, 147, 147)]


def test_xception_flows():
    model = build()
    blocks = [model.entry_flow[2], model.entry_flow[3], model.entry_flow[4],
              *model.middle_flow, model.exit_block]
    assert all(isinstance(b, XceptionBlock) for b in blocks)
    assert [b.out_channels for b in blocks] == [128, 256, 728] + [728] * 8 + [1024]
    assert [b.shortcut is not None for b in blocks] == [True] * 3 + [False] * 8 + [True]
    # every separable conv but the very first follows a ReLU (Figure 5)
    assert not isinstance(model.entry_flow[2].branch[0], nn.ReLU)
    assert all(isinstance(b.branch[0], nn.ReLU) for b in blocks[1:])
    assert all(len([m for m in b.branch if isinstance(m, SeparableConvBN)]) == 3
               for b in model.middle_flow)
    cost = analyzed()
    adds = [r for r in cost.layers if r.op == "add"]
    assert len(adds) == 12  # a residual per block
    assert [a.output_shapes[0][1:] for a in adds[:3]] == [(128, 74, 74), (256, 37, 37),
                                                        (728, 19, 19)]
    assert adds[-1].output_shapes[0][1:] == (1024, 10, 10)
    shortcuts = [r for r in cost.layers if r.module.endswith("shortcut.conv")]
    assert [r.attrs["stride"] for r in shortcuts] == [(2, 2)] * 4
    assert model.fc.in_features == 2048


def test_separable_conv_has_bn_only_after_the_pointwise():
    conv = SeparableConvBN(728, 1024)
    assert conv.depthwise.groups == 728 and conv.depthwise.bias is None
    assert conv.pointwise.kernel_size == (1, 1) and conv.pointwise.bias is None
    assert [type(m) for m in conv] == [nn.Conv2d, nn.Conv2d, nn.BatchNorm2d]
    assert sum(p.numel() for p in conv.parameters()) == 728 * 9 + 728 * 1024 + 2 * 1024


def test_xception_bad_knob():
    with pytest.raises(UsageError, match="num_classes must be > 0"):
        costlab.analyze("xception", num_classes=0)
