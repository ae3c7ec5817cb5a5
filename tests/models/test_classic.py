"""VGG, AlexNet and SqueezeNet against their papers' tables (and torchvision's counts)."""

from __future__ import annotations


import pytest
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.errors import UsageError
from costlab.models.classic import Fire
from costlab.references import lookup
from tests.models.helpers import analyzed, build

CONV_KINDS = (OpCategory.CONV, OpCategory.POINTWISE)
# FC-4096, FC-4096, FC-1000 on a 7x7x512 (VGG) or 6x6x256 (AlexNet) map
VGG_FC_MACS = 512 * 7 * 7 * 4096 + 4096 * 4096 + 4096 * 1000
ALEXNET_FC_PARAMS = (256 * 6 * 6 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000


def conv_macs(cost) -> int:
    return sum(r.macs for r in cost.layers if r.category in CONV_KINDS)


# --- VGG -----------------------------------------------------------------------------------

# name, MACs, params (torchvision's, to the unit), conv layers (Table 1)
VGG_COSTS = [
    ("vgg11", 7_609_090_048, 132_863_336, 8),
    ("vgg13", 11_308_466_176, 133_047_848, 10),
    ("vgg16", 15_470_264_320, 138_357_544, 13),
    ("vgg19", 19_632_062_464, 143_667_240, 16),
]


@pytest.mark.parametrize("name,macs,params,conv_layers", VGG_COSTS)
def test_vgg_exact_costs_and_depth(name, macs, params, conv_layers):
    cost = analyzed(name)
    assert cost.total.macs == macs
    assert cost.total.params == params
    assert cost.total.macs - conv_macs(cost) == VGG_FC_MACS == 123_633_664
    assert cost.total.partial is False and cost.uncounted == []
    model = build(name)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == conv_layers and conv_layers + 3 == int(name[3:])  # the "weight layers"
    assert all(c.kernel_size == (3, 3) and c.bias is not None for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 5
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_vgg16_published_row():
    """VGG-16: costlab counts the whole network, 15.47G MACs; the published 15.3G counts
    the conv layers only (the MobileNets row's note). The three FC layers add 0.124G (a
    1.1% difference). The conv part alone is checked against the published row, the
    params (138M, conv and FC weights and biases) as they are."""
    entry = lookup("vgg16", {"num_classes": 1000}, 224)
    assert entry is not None and entry.macs_millions == 15300
    cost = analyzed("vgg16")
    assert cost.total.macs == 15_470_264_320  # costlab's number: conv + FC
    assert conv_macs(cost) == 15_346_630_656
    assert conv_macs(cost) / 1e6 == pytest.approx(entry.macs_millions, rel=0.015)
    assert cost.total.params / 1e6 == pytest.approx(entry.params_millions, rel=0.015)


def test_vgg_configs_d_and_e_add_convs_to_the_last_three_stages():
    channels = {name: [m.out_channels for m in build(name).features if isinstance(m, nn.Conv2d)]
                for name in ("vgg11", "vgg16", "vgg19")}
    assert channels["vgg11"] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert channels["vgg16"] == [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert channels["vgg19"] == [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8
    last = [r for r in analyzed("vgg16").layers if r.category in CONV_KINDS][-1]
    assert last.output_shapes[0] == (1, 512, 14, 14)  # conv5_3, before the fifth pool


# --- AlexNet -------------------------------------------------------------------------------

def test_alexnet_costs_against_the_published_row():
    """MACs within 1.5% of MobileNets' 720M; params pinned at torchvision's 61,100,840,
    1.8% above the published 60M. The "60 million" is the 2012 paper's round figure: its
    own two-tower network (96-256-384-384-256 filters, conv 2, 4 and 5 in groups of 2)
    has 60,965,224 params, and both layouts share the FC layers that hold 58.6M of them.
    """
    entry = lookup("alexnet", {"num_classes": 1000}, 224)
    cost = analyzed("alexnet")
    assert cost.total.macs == 714_188_480
    assert cost.total.params == 61_100_840
    assert cost.total.partial is False and cost.uncounted == []
    assert cost.total.macs / 1e6 == pytest.approx(entry.macs_millions, rel=0.015)
    assert cost.total.params / 1e6 == pytest.approx(entry.params_millions, rel=0.02)
    fc = sum(r.params for r in cost.layers if r.category == OpCategory.MATMUL)
    assert fc == ALEXNET_FC_PARAMS == 58_631_144
    two_tower_convs = ((11 * 11 * 3 + 1) * 96 + (5 * 5 * 48 + 1) * 256 + (3 * 3 * 256 + 1) * 384
                       + (3 * 3 * 192 + 1) * 384 + (3 * 3 * 192 + 1) * 256)
    assert two_tower_convs + ALEXNET_FC_PARAMS == 60_965_224


def test_alexnet_layers():
    model = build("alexnet")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 192, 384, 256, 256]
    assert [c.kernel_size[0] for c in convs] == [11, 5, 3, 3, 3]
    assert convs[0].stride == (4, 4) and convs[0].padding == (2, 2)
    cost = analyzed("alexnet")
    sizes = [r.output_shapes[0][2] for r in cost.layers if r.category == OpCategory.CONV]
    assert sizes == [55, 27, 13, 13, 13]
    assert [m.out_features for m in model.classifier if isinstance(m, nn.Linear)] == \
           [4096, 4096, 1000]


# --- SqueezeNet ----------------------------------------------------------------------------

def test_squeezenet_v1_0_published_params():
    """Table 1's 1,248,424 params exactly (conv weights and biases, no FC)."""
    entry = lookup("squeezenet", {"version": "v1.0", "num_classes": 1000}, 224)
    assert entry is not None and entry.params_millions == 1.25
    cost = analyzed("squeezenet")
    assert cost.total.params == 1_248_424
    assert cost.total.params / 1e6 == pytest.approx(entry.params_millions, rel=0.015)
    assert cost.total.partial is False and cost.uncounted == []


@pytest.mark.parametrize("version,macs,params", [
    ("v1.0", 818_924_576, 1_248_424), ("v1.1", 349_151_936, 1_235_496)])
def test_squeezenet_exact_costs(version, macs, params):
    """MACs at 224 (the published MACs vary: 1700M in MobileNets Table 9, 833M in
    ShuffleNet Table 6; costlab's 819M is torchvision's 0.82 GFLOPS); params are
    torchvision's to the unit. v1.1 costs 2.35x less."""
    cost = analyzed("squeezenet", version=version)
    assert cost.total.macs == macs and cost.total.params == params
    assert all(r.category in CONV_KINDS for r in cost.layers if r.macs)  # no FC layer


def test_squeezenet_v1_1_has_no_published_row():
    assert lookup("squeezenet", {"version": "v1.1", "num_classes": 1000}, 224) is None


@pytest.mark.parametrize("version,stem,pool_after", [
    ("v1.0", (96, 7), [0, 3, 7]), ("v1.1", (64, 3), [0, 2, 4])])
def test_squeezenet_layout(version, stem, pool_after):
    model = build("squeezenet", version=version)
    assert (model.features[0].out_channels, model.features[0].kernel_size[0]) == stem
    fires = [m for m in model.features if isinstance(m, Fire)]
    assert [f.out_channels for f in fires] == [128, 128, 256, 256, 384, 384, 512, 512]
    assert [f.squeeze[0].out_channels for f in fires] == [16, 16, 32, 32, 48, 48, 64, 64]
    # which fire modules (by count so far, conv1 = 0) each max pool follows
    pools, seen = [], 0
    for m in list(model.features)[2:]:
        if isinstance(m, Fire):
            seen += 1
        elif isinstance(m, nn.MaxPool2d):
            pools.append(seen)
    assert pools == pool_after
    assert model.classifier.conv.in_channels == 512 and model.classifier.conv.kernel_size == (1, 1)
    final = [r for r in analyzed("squeezenet", version=version).layers
             if r.category in CONV_KINDS][-1]
    assert final.input_shapes[0][2:] == (13, 13)  # conv10 on the 13x13 grid


def test_squeezenet_bad_version_names_the_allowed_values():
    with pytest.raises(UsageError, match="allowed: v1.0, v1.1"):
        costlab.analyze("squeezenet", version="1.2")


@pytest.mark.parametrize("name", ["vgg16", "alexnet"])
def test_bad_num_classes(name):
    with pytest.raises(UsageError, match="num_classes must be > 0"):
        costlab.analyze(name, num_classes=0)
