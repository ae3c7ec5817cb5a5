"""ShuffleNet V1 and V2 against their papers' tables and the authors' released numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.errors import UsageError
from costlab.models import get_model_spec
from costlab.models.shufflenet import channel_shuffle
from costlab.references import lookup
from tests.models.helpers import build


def within(value: float, published_millions: float, tolerance: float = 0.015) -> bool:
    return abs(value / 1e6 - published_millions) <= tolerance * published_millions


def published_row(model: str, **knobs):
    row = lookup(model, get_model_spec(model).resolve_knobs(knobs), 224)
    assert row is not None, f"no published row for {model} {knobs}: knob names must match"
    return row


# knobs, costlab's exact MACs and params (params with BatchNorm, as the authors' README
# counts them), published MACs (M) and params (M; None where published.csv has none)
V1_ROWS = [
    ({"groups": 1}, 143_078_976, 1_530_936, 143, None),
    ({"groups": 2}, 140_836_512, 1_732_848, 140, None),
    ({"groups": 3}, 137_460_672, 1_864_728, 137, 1.9),
    ({"groups": 4}, 134_339_776, 1_967_344, 133, None),
    ({"groups": 8}, 138_365_952, 2_433_768, 137, 2.4),
    ({"groups": 3, "scale": 0.5}, 37_589_856, 717_324, 38, 0.7),
    ({"groups": 3, "scale": 1.5}, 292_443_552, 3_441_168, 292, 3.4),
    ({"groups": 3, "scale": 2.0}, 524_045_184, 5_449_776, 524, 5.4),
]

# published params rounded to 0.1M that costlab misses by more than 1.5%: pinned above
PARAMS_ROUNDED_ONLY = {("shufflenet_v1", 3, 1.0), ("shufflenet_v1", 3, 0.5),
                       ("shufflenet_v2", None, 0.5)}


@pytest.mark.parametrize("knobs,macs,params,published_macs,published_params", V1_ROWS)
def test_shufflenet_v1_published(knobs, macs, params, published_macs, published_params):
    """Table 2 (groups at 1x) and Table 5 (g=3 at 0.5x, 1.5x, 2x); params from the authors'
    README. Every MACs row is within 1.5% (g=4 and g=8 at 1x are 1.0% above the paper).

    Params: the README prints one decimal. 1.86M (g=3, 1x) and 0.72M (0.5x) round to its
    1.9M and 0.7M but are 1.9% and 2.5% from them, so there costlab's own counts are pinned
    and only the rounding is checked. Counted without BatchNorm they would be 1.84M, which
    does not round to 1.9M: the README counts BatchNorm, as costlab does.
    """
    cost = costlab.analyze("shufflenet_v1", **knobs)
    assert cost.total.macs == macs
    assert cost.total.params == params
    assert cost.total.partial is False and cost.uncounted == []
    row = published_row("shufflenet_v1", **knobs)
    assert (row.macs_millions, row.params_millions) == (published_macs, published_params)
    assert within(macs, published_macs)
    if published_params is not None:
        assert round(params / 1e6, 1) == published_params
        key = ("shufflenet_v1", knobs["groups"], knobs.get("scale", 1.0))
        assert within(params, published_params) is (key not in PARAMS_ROUNDED_ONLY)


V2_ROWS = [
    (0.5, 40_476_448, 1_366_792, 41, 1.4),
    (1.0, 144_907_992, 2_278_604, 146, 2.3),
    (1.5, 295_759_392, 3_503_624, 299, 3.5),
    (2.0, 583_253_464, 7_393_996, 591, 7.4),
]


@pytest.mark.parametrize("scale,macs,params,published_macs,published_params", V2_ROWS)
def test_shufflenet_v2_published(scale, macs, params, published_macs, published_params):
    """Table 5 FLOPs (multiply-adds) and Table 8 params. costlab's MACs are 0.8-1.3% below
    the paper's (the paper's counter is unpublished); params are torchvision's counts.
    0.5x: 1.37M rounds to the paper's 1.4M but is 2.4% from it, so it is pinned."""
    cost = costlab.analyze("shufflenet_v2", scale=scale)
    assert cost.total.macs == macs
    assert cost.total.params == params
    assert cost.total.partial is False and cost.uncounted == []
    row = published_row("shufflenet_v2", scale=scale)
    assert (row.macs_millions, row.params_millions) == (published_macs, published_params)
    assert within(macs, published_macs)
    assert round(params / 1e6, 1) == published_params
    assert within(params, published_params) is (("shufflenet_v2", None, scale)
                                                not in PARAMS_ROUNDED_ONLY)


def convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_shufflenet_v1_structure():
    model = build("shufflenet_v1", groups=3)
    units = list(model.stages)
    assert len(units) == 16
    assert [u.stride for u in units] == [2, 1, 1, 1, 2] + [1] * 7 + [2, 1, 1, 1]
    assert [u.expand.conv.out_channels for u in units if u.stride == 2] == [240 - 24,
                                                                            480 - 240,
                                                                            960 - 480]
    assert {u.compress.conv.out_channels for u in units} == {60, 120, 240}  # out / 4
    assert model.stem[0].conv.out_channels == 24
    # stage 2's first 1x1 layer is ungrouped; every other pointwise layer has 3 groups
    pointwise = [c for c in convs(model) if c.kernel_size == (1, 1)]
    assert [c.groups for c in pointwise] == [1] + [3] * 31
    assert model.classifier.in_features == 960 and model.classifier.bias is None


def test_shufflenet_v1_ops():
    cost = costlab.analyze("shufflenet_v1")
    ops = [r.op for r in cost.layers]
    assert ops.count("add") == 13  # stride-1 units
    assert ops.count("avg_pool2d") == 3 and ops.count("cat") == 3  # stride-2 units
    assert ops.count("clone") == 16  # one shuffle per unit, a real copy
    kinds = [r.category for r in cost.layers if r.macs]
    assert kinds.count(OpCategory.GROUPED) == 31 and kinds.count(OpCategory.DEPTHWISE) == 16
    shuffles = [r for r in cost.layers if r.op == "clone"]
    assert all(r.category == OpCategory.DATA_MOVEMENT and r.bytes_written > 0 for r in shuffles)
    # g=1 has nothing to shuffle and no grouped convs
    plain = costlab.analyze("shufflenet_v1", groups=1)
    assert [r.op for r in plain.layers].count("clone") == 0
    assert OpCategory.GROUPED not in {r.category for r in plain.layers}


@pytest.mark.parametrize("groups,scale,stem", [
    (3, 0.5, 12), (3, 1.5, 24), (3, 2.0, 48), (8, 0.5, 16), (8, 0.25, 16), (3, 0.25, 12)])
def test_shufflenet_v1_stem_widths(groups, scale, stem):
    model = build("shufflenet_v1", groups=groups, scale=scale)
    assert model.stem[0].conv.out_channels == stem


def test_shufflenet_v1_every_setting_builds():
    # bottlenecks rounded to multiples of g where out/4 is not one (g=4 at 0.5x: 34 -> 36)
    for groups in (1, 2, 3, 4, 8):
        for scale in (0.25, 0.5, 1.0, 1.5, 2.0):
            model = build("shufflenet_v1", groups=groups, scale=scale)
            assert all(c.in_channels % c.groups == 0 and c.out_channels % c.groups == 0
                       for c in convs(model))
    model = build("shufflenet_v1", groups=4, scale=0.5)
    assert model.stages[0].compress.conv.out_channels == 36


def test_shufflenet_v2_structure():
    model = build("shufflenet_v2")
    units = list(model.stages)
    assert len(units) == 16
    assert [u.stride for u in units] == [2, 1, 1, 1, 2] + [1] * 7 + [2, 1, 1, 1]
    # stride 1: the branch sees half the channels; stride 2: both branches see all of them
    assert [u.branch[0].conv.in_channels for u in units[:5]] == [24, 58, 58, 58, 116]
    assert units[0].shortcut[0].conv.groups == 24  # the shortcut's depthwise conv
    assert model.conv5.conv.in_channels == 464 and model.conv5.conv.out_channels == 1024
    assert all(c.groups in (1, c.in_channels) for c in convs(model))  # no group convs
    wide = build("shufflenet_v2", scale=2.0)
    assert wide.conv5.conv.in_channels == 976 and wide.classifier.in_features == 2048


def test_shufflenet_v2_ops():
    cost = costlab.analyze("shufflenet_v2")
    ops = [r.op for r in cost.layers]
    assert ops.count("cat") == 16 and ops.count("clone") == 16 and ops.count("add") == 0
    kinds = [r.category for r in cost.layers if r.macs]
    assert kinds.count(OpCategory.DEPTHWISE) == 19  # 16 units + 3 stride-2 shortcuts
    assert kinds.count(OpCategory.POINTWISE) == 36  # 2 per unit, 1 per shortcut, conv5


def test_channel_shuffle_order():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("model,knob,value,allowed", [
    ("shufflenet_v1", "groups", 5, "1, 2, 3, 4, 8"),
    ("shufflenet_v1", "scale", 0.75, "0.25, 0.5, 1.0, 1.5, 2.0"),
    ("shufflenet_v2", "scale", 0.25, "0.5, 1.0, 1.5, 2.0"),
])
def test_bad_knobs(model, knob, value, allowed):
    with pytest.raises(UsageError, match=f"allowed: {allowed}$"):
        costlab.analyze(model, **{knob: value})
