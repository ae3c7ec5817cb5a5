"""ResNet (v1 and v1.5), ResNeXt-50 and SE-ResNet-50 against their papers' tables."""

from __future__ import annotations


import pytest
import torch
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.errors import UsageError
from costlab.models.resnet import BasicBlock, Bottleneck
from costlab.references import lookup
from tests.models.helpers import analyzed, build, conv_fc_params


# name, layout, MACs, params with BatchNorm, params without (exact costlab numbers; the
# params with BatchNorm are torchvision's for every model it has)
COSTS = [
    ("resnet18", "v1.5", 1_814_073_344, 11_689_512, 11_679_912),
    ("resnet34", "v1.5", 3_663_761_408, 21_797_672, 21_780_648),
    ("resnet50", "v1.5", 4_089_184_256, 25_557_032, 25_503_912),
    ("resnet50", "v1", 3_857_973_248, 25_557_032, 25_503_912),
    ("resnet101", "v1.5", 7_801_405_440, 44_549_160, 44_443_816),
    ("resnet101", "v1", 7_570_194_432, 44_549_160, 44_443_816),
    ("resnet152", "v1.5", 11_513_626_624, 60_192_808, 60_041_384),
    ("resnet152", "v1", 11_282_415_616, 60_192_808, 60_041_384),
    ("resnext50_32x4d", None, 4_230_479_872, 25_028_904, 24_960_680),
    ("se_resnet50", None, 3_860_488_192, 28_088_024, 28_034_904),
]


@pytest.mark.parametrize("name,layout,macs,params,params_no_bn", COSTS)
def test_exact_costs(name, layout, macs, params, params_no_bn):
    cost = analyzed(name, layout=layout)
    assert cost.total.macs == macs
    assert cost.total.params == params
    assert conv_fc_params(cost) == params_no_bn
    assert cost.total.partial is False and cost.uncounted == []


@pytest.mark.parametrize("name,layout,check_macs", [
    ("resnet18", "v1", True), ("resnet34", "v1", False), ("resnet50", "v1", False),
    ("resnet101", "v1", True), ("resnet152", "v1", True),
    ("resnext50_32x4d", None, True), ("se_resnet50", None, True)])
def test_published_rows_within_1_5_percent(name, layout, check_macs):
    """The published rows (params with BatchNorm, torchvision's convention).

    ResNet-34's and ResNet-50's MACs are not checked here but pinned in test_exact_costs
    and bounded in test_resnet_table1_prints_one_decimal: Table 1 prints one decimal, and
    costlab's 3.66G and 3.86G appear there as 3.6 and 3.8 (cut, not rounded: 1.8% and
    1.5% above), while 7.57G and 11.28G appear as 7.6 and 11.3. The architecture is not in
    doubt: SENet's Table 2 restates ResNet-50 as 3.86 GFLOPs, and the params are
    torchvision's to the unit.
    """
    entry = lookup(name, {"layout": layout} if layout else {}, 224)
    assert entry is not None and entry.model == name
    cost = analyzed(name, layout=layout)
    if check_macs:
        assert cost.total.macs / 1e6 == pytest.approx(entry.macs_millions, rel=0.015)
    assert cost.total.params / 1e6 == pytest.approx(entry.params_millions, rel=0.015)


@pytest.mark.parametrize("name,published_g", [("resnet34", 3.6), ("resnet50", 3.8)])
def test_resnet_table1_prints_one_decimal(name, published_g):
    macs_g = analyzed(name, layout="v1").total.macs / 1e9
    assert published_g < macs_g < published_g + 0.1  # the printed digit, cut


def test_published_rows_are_for_layout_v1_only():
    assert lookup("resnet50", {"layout": "v1", "num_classes": 1000}, 224).macs_millions == 3800
    assert lookup("resnet50", {"layout": "v1.5", "num_classes": 1000}, 224) is None


def test_v1_and_v1_5_differ_by_the_first_1x1_at_full_resolution():
    # v1.5 runs the first 1x1 of conv3_1, conv4_1 and conv5_1 on the un-strided map, 4x
    # the positions of v1; the rest is equal. Each of the three costs in x width x H x W
    # in v1.5, the same product at every stage (256x128 at 56x56, 512x256 at 28x28, ...).
    full = 256 * 128 * 56 * 56
    for name in ("resnet50", "resnet101", "resnet152"):
        diff = analyzed(name, layout="v1.5").total.macs - analyzed(name, layout="v1").total.macs
        assert diff == 3 * full * 3 // 4
    # basic blocks have no 1x1 to stride: both layouts are one network
    for name in ("resnet18", "resnet34"):
        assert analyzed(name, layout="v1").total == analyzed(name, layout="v1.5").total


@pytest.mark.parametrize("layout,strided_kernel", [("v1", (1, 1)), ("v1.5", (3, 3))])
def test_stride_placement_in_downsampling_bottleneck(layout, strided_kernel):
    cost = analyzed("resnet50", layout=layout)
    strided = [r for r in cost.layers if r.op == "convolution" and r.attrs["stride"] == (2, 2)
               and ".shortcut." not in r.module and not r.module.startswith("stem")]
    assert [r.module.split(".")[0] for r in strided] == ["layer2", "layer3", "layer4"]
    assert {r.attrs["kernel"] for r in strided} == {strided_kernel}


@pytest.mark.parametrize("name,depths,block_type,out_channels", [
    ("resnet18", (2, 2, 2, 2), BasicBlock, 512), ("resnet34", (3, 4, 6, 3), BasicBlock, 512),
    ("resnet50", (3, 4, 6, 3), Bottleneck, 2048),
    ("resnet101", (3, 4, 23, 3), Bottleneck, 2048),
    ("resnet152", (3, 8, 36, 3), Bottleneck, 2048)])
def test_resnet_table1_structure(name, depths, block_type, out_channels):
    model = build(name)
    stages = [model.layer1, model.layer2, model.layer3, model.layer4]
    assert tuple(len(s) for s in stages) == depths
    assert all(type(b) is block_type for s in stages for b in s)
    assert model.fc.in_features == out_channels and model.fc.out_features == 1000
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == len(convs)
    # projections only where the shape changes: 3 for basic nets, 4 with bottlenecks
    projections = [b for s in stages for b in s if b.shortcut is not None]
    assert len(projections) == (3 if block_type is BasicBlock else 4)
    cost = analyzed(name, layout="v1.5")  # the default layout
    assert sum(r.op == "add" for r in cost.layers) == sum(depths)  # one residual per block
    assert len(convs) + 1 == int(name[len("resnet"):]) + len(projections)  # the "N layers"


def test_resnext_grouped_bottlenecks():
    model = build("resnext50_32x4d")
    stages = [model.layer1, model.layer2, model.layer3, model.layer4]
    assert tuple(len(s) for s in stages) == (3, 4, 6, 3)
    for stage, width, out in zip(stages, (128, 256, 512, 1024), (256, 512, 1024, 2048)):
        for block in stage:
            assert block.conv1.conv.out_channels == width
            assert block.conv2.conv.groups == 32 and block.conv2.conv.in_channels == width
            assert block.conv3.conv.out_channels == out
    cost = analyzed("resnext50_32x4d")
    grouped = [r for r in cost.layers if r.category == OpCategory.GROUPED]
    assert len(grouped) == 16
    strided = [r for r in cost.layers if r.op == "convolution" and r.attrs["stride"] == (2, 2)
               and r.module.startswith("layer") and ".shortcut." not in r.module]
    assert [r.module for r in strided] == ["layer2.0.conv2.conv", "layer3.0.conv2.conv",
                                           "layer4.0.conv2.conv"]  # torchvision's layout


def test_se_resnet50_is_resnet50_v1_plus_squeeze_excite():
    se_blocks = [(3, 256), (4, 512), (6, 1024), (3, 2048)]  # (blocks, channels) per stage
    se_params = sum(n * (2 * c * (c // 16) + c // 16 + c) for n, c in se_blocks)
    se_macs = sum(n * 2 * c * (c // 16) for n, c in se_blocks)  # FCs on a 1x1 map
    se = analyzed("se_resnet50")
    plain = analyzed("resnet50", layout="v1")  # the same stride placement: only SE differs
    assert se.total.params - plain.total.params == se_params == 2_530_992
    assert se.total.macs - plain.total.macs == se_macs == 2_514_944
    model = build("se_resnet50")
    gates = [m for m in model.modules() if isinstance(m, nn.Sigmoid)]
    assert len(gates) == 16
    assert model.layer4[0].se.fc1.out_channels == 128 and model.layer1[0].se.fc1.out_channels == 16


def test_blocks_build_on_their_own():
    with torch.device("meta"):  # shapes only: fast
        x = torch.zeros(1, 64, 56, 56)
        assert BasicBlock(64, 128, 2)(x).shape == (1, 128, 28, 28)
        assert Bottleneck(64, 256)(x).shape == (1, 256, 56, 56)
        assert Bottleneck(64, 256, 2, stride_in_1x1=True)(x).shape == (1, 256, 28, 28)
        grouped = Bottleneck(64, 256, width=128, groups=32, se_reduction=16)
        assert grouped(x).shape == (1, 256, 56, 56)
    assert grouped.conv2.conv.groups == 32 and grouped.se.fc1.out_channels == 16
    assert BasicBlock(64, 64).shortcut is None and Bottleneck(256, 256).shortcut is None
    with pytest.raises(ValueError, match="divisible by groups"):
        Bottleneck(64, 256, width=100, groups=32)


def test_num_classes_knob():
    model = build("resnet50", num_classes=10)
    assert model.fc.out_features == 10


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet152"])
def test_bad_layout_names_the_allowed_values(name):
    with pytest.raises(UsageError, match="allowed: v1.5, v1"):
        costlab.analyze(name, layout="v2")


def test_resnext_and_se_have_no_layout_knob():
    for name in ("resnext50_32x4d", "se_resnet50"):
        with pytest.raises(UsageError, match="no knob 'layout'"):
            costlab.analyze(name, layout="v1")
