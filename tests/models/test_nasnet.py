"""NASNet-A Mobile and AmoebaNet-A (mobile) against their published numbers, and their
cells on their own."""

from __future__ import annotations

import pytest
import torch

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.errors import UsageError
from costlab.models import get_model_spec
from costlab.models.nasnet import (AmoebaNormalCell, AmoebaReductionCell, Cell,
                                   FactorizedReduction, NASNetNormalCell, NASNetReductionCell)
from costlab.references import lookup
from tests.models.helpers import build

MODELS = ("nasnet_a_mobile", "amoebanet_a_mobile")


@pytest.fixture(scope="module")
def costs():
    # one analysis per model: each traces ~900 ops, about a second on meta
    return {name: costlab.analyze(name) for name in MODELS}


def bn_channels(cost) -> int:
    """Channels normalized by BatchNorm (each has a scale and a shift)."""
    return sum(r.params for r in cost.layers if r.category == OpCategory.NORM) // 2


def within(value: float, published_millions: float, tolerance: float = 0.015) -> bool:
    return abs(value / 1e6 - published_millions) <= tolerance * published_millions


@pytest.mark.parametrize("name,macs,params,published_macs,published_params", [
    ("nasnet_a_mobile", 563_638_816, 5_289_978, 564, 5.3),
    ("amoebanet_a_mobile", 554_687_204, 5_086_930, 555, 5.1),
])
def test_published(costs, name, macs, params, published_macs, published_params):
    """MobileNetV2's Table 4 (NASNet-A, 564M / 5.3M) and AmoebaNet-A's mobile row
    (N=4, F=50: 555M / 5.1M). MACs are 0.06% below both; params (with BatchNorm's scale
    and shift) 0.2% and 0.3% below."""
    cost = costs[name]
    assert cost.total.macs == macs
    assert cost.total.params == params
    assert cost.total.partial is False and cost.uncounted == []
    row = lookup(name, get_model_spec(name).resolve_knobs({}), 224)
    assert (row.macs_millions, row.params_millions) == (published_macs, published_params)
    assert within(cost.total.macs, published_macs)
    assert within(cost.total.params, published_params)


def test_nasnet_params_as_keras_counts_them(costs):
    """Keras' NASNetMobile summary prints 5,326,716 params: conv and FC weights plus four
    numbers per BatchNorm channel (scale, shift, moving mean and variance). costlab's
    network gives exactly that, so its layers match the reference one for one."""
    cost = costs["nasnet_a_mobile"]
    channels = bn_channels(cost)
    assert channels == 18_369
    assert cost.total.params - 2 * channels + 4 * channels == 5_326_716


def test_cell_outputs_and_head():
    nasnet = build("nasnet_a_mobile")
    # stem cells 4 x F/4, 4 x F/2; normal cells 6F; reduction cells 4 x 2F, 4 x 4F
    assert [c.out_channels for c in nasnet.cells] == \
        [44, 88] + [264] * 4 + [352] + [528] * 4 + [704] + [1056] * 4
    assert nasnet.classifier.in_features == 1056  # "4 @ 1056"
    amoeba = build("amoebanet_a_mobile")
    # reduction cells concatenate 5 states, normal cells 4
    assert [c.out_channels for c in amoeba.cells] == \
        [60, 125] + [200] * 4 + [500] + [400] * 4 + [1000] + [800] * 4
    assert amoeba.classifier.in_features == 800
    assert [type(c).__name__ for c in amoeba.cells[:3]] == \
        ["AmoebaReductionCell", "AmoebaReductionCell", "AmoebaNormalCell"]


@pytest.mark.parametrize("name,depthwise,pointwise,dense", [
    # 5 (NASNet) or 4 (AmoebaNet) separable ops per cell, each two separable convs;
    # AmoebaNet's dense convs: the stem and each reduction cell's 1x7 and 7x1
    ("nasnet_a_mobile", 16 * 10, 195, 1),
    ("amoebanet_a_mobile", 16 * 8, 173, 1 + 4 * 2),
])
def test_op_counts(costs, name, depthwise, pointwise, dense):
    cost = costs[name]
    kinds = [r.category for r in cost.layers if r.macs]
    assert kinds.count(OpCategory.DEPTHWISE) == depthwise
    assert kinds.count(OpCategory.POINTWISE) == pointwise
    assert kinds.count(OpCategory.CONV) == dense
    ops = [r.op for r in cost.layers]
    assert ops.count("add") == 16 * 5  # five blocks per cell, 16 cells
    # one concat per cell, one per factorized reduction: the second stem cell, the first
    # normal cell and the first normal cell after each reduction
    assert ops.count("cat") == 16 + 4
    assert ops.count("constant_pad_nd") == 4


def test_stem_has_no_padding(costs):
    first = costs["nasnet_a_mobile"].layers[0]
    assert first.op == "convolution" and first.output_shapes[0] == (1, 32, 111, 111)
    assert costs["nasnet_a_mobile"].layers[-1].output_shapes[0] == (1, 1000)


def cell_macs(cell: Cell, prev: tuple[int, ...], prev_prev: tuple[int, ...] | None = None):
    inputs = (torch.zeros(prev),) if prev_prev is None else (torch.zeros(prev),
                                                             torch.zeros(prev_prev))
    cost = costlab.analyze(cell, inputs=inputs)  # small cells run on the CPU
    assert cost.total.partial is False
    return cost


def test_normal_cells_by_hand():
    """F channels in and out of every op, 7x7 maps (HW = 49): the cell's 1x1 conv costs
    F^2 per pixel and a 'sep k' op 2 (k^2 F + F^2). NASNet-A: seps 5, 3, 5, 3, 3;
    AmoebaNet-A: seps 3, 3, 5 (pools and identities cost no MACs)."""
    f, hw = 8, 49
    nasnet = cell_macs(NASNetNormalCell(f, f, f), (1, f, 7, 7), (1, f, 7, 7))
    assert nasnet.total.macs == hw * (f * f + 2 * (25 * f + f * f) * 2
                                      + 2 * (9 * f + f * f) * 3) == 94_864
    assert nasnet.layers[-1].output_shapes[0] == (1, 6 * f, 7, 7)
    amoeba = cell_macs(AmoebaNormalCell(f, f, f), (1, f, 7, 7), (1, f, 7, 7))
    assert amoeba.total.macs == hw * (f * f + 2 * (9 * f + f * f) * 3
                                      + 2 * (25 * f + f * f)) == 68_992
    assert amoeba.layers[-1].output_shapes[0] == (1, 4 * f, 7, 7)


def test_reduction_cells_by_hand():
    """8x8 in, 4x4 out: the 1x1 conv runs at 64 pixels, every op at 16. NASNet-A: seps
    5, 7, 7, 5, 3. AmoebaNet-A: seps 3, 7, 3, 7 and the 1x7-7x1 op with its F/4 bottleneck
    (1x1 at 8x8, 1x7 at 8x4, 7x1 and 1x1 at 4x4)."""
    f = 8
    nasnet = cell_macs(NASNetReductionCell(f, f, f), (1, f, 8, 8), (1, f, 8, 8))
    assert nasnet.total.macs == 64 * f * f + 16 * 2 * ((25 + 49 + 49 + 25 + 9) * f
                                                       + 5 * f * f) == 54_528
    assert nasnet.layers[-1].output_shapes[0] == (1, 4 * f, 4, 4)
    amoeba = cell_macs(AmoebaReductionCell(f, f, f), (1, f, 8, 8), (1, f, 8, 8))
    mid = f // 4
    conv1x7_7x1 = 64 * f * mid + 32 * 7 * mid * mid + 16 * 7 * mid * mid + 16 * mid * f
    assert amoeba.total.macs == 64 * f * f + 16 * 2 * ((9 + 49 + 9 + 49) * f + 4 * f * f) \
        + conv1x7_7x1 == 44_608
    assert amoeba.layers[-1].output_shapes[0] == (1, 5 * f, 4, 4)


def test_cells_adapt_their_inputs():
    # prev_prev at twice the resolution: factorized reduction; other channels: a 1x1 conv
    cell = NASNetNormalCell(24, 16, 8, prev_prev_stride=2)
    assert isinstance(cell.preprocess_prev[1], FactorizedReduction)
    out = cell(torch.randn(2, 24, 6, 6), torch.randn(2, 16, 12, 12))
    assert out.shape == (2, 48, 6, 6)
    cell = AmoebaNormalCell(24, 16, 8)
    assert cell.preprocess_prev.conv.in_channels == 16
    assert cell(torch.randn(1, 24, 5, 5), torch.randn(1, 16, 5, 5)).shape == (1, 32, 5, 5)
    # one input (the first stem cell): the raw input is h_{i-1}, odd sizes halve by ceil
    cell = NASNetReductionCell(3, None, 4)
    assert cell(torch.randn(1, 3, 11, 11)).shape == (1, 16, 6, 6)
    with pytest.raises(ValueError, match="prev_prev_stride"):
        AmoebaReductionCell(8, 8, 8, prev_prev_stride=3)


def test_factorized_reduction_splits_odd_filters():
    # AmoebaNet's second stem cell: 25 filters, 12 on the first path, 13 on the shifted one
    reduction = FactorizedReduction(32, 25)
    assert (reduction.path1.out_channels, reduction.path2.out_channels) == (12, 13)
    assert reduction(torch.randn(1, 32, 111, 111)).shape == (1, 25, 56, 56)
    assert reduction(torch.randn(1, 32, 56, 56)).shape == (1, 25, 28, 28)


def test_knobs_scale_the_network():
    model = build("nasnet_a_mobile", cells=2, filters=32)
    assert len(model.cells) == 2 + 3 * 2 + 2
    assert model.classifier.in_features == 24 * 32
    assert build("amoebanet_a_mobile", filters=40).classifier.in_features == 640


@pytest.mark.parametrize("name", MODELS)
def test_bad_knobs(name):
    with pytest.raises(UsageError, match="filters must be >= 4"):
        costlab.analyze(name, filters=3)
    with pytest.raises(UsageError, match="cells must be > 0"):
        costlab.analyze(name, cells=0)
    with pytest.raises(UsageError, match="filters must be a int"):
        costlab.analyze(name, filters="wide")
