"""DenseNet-121 against Huang et al. 2017, Table 1."""

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
from costlab.models.densenet import DenseBlock, DenseLayer, Transition
from costlab.references import lookup

BLOCKS = (6, 12, 24, 16)
K = 32


@cache
def analyzed():
    return costlab.analyze("densenet121")


def build() -> nn.Module:
    with torch.device("meta"):  # shapes only: fast
        return get_model_spec("densenet121").build()


def test_exact_costs():
    """The paper gives no MACs: costlab's 2.834G is torchvision's "2.83 GFLOPs" (it counts
    multiply-adds). Params are torchvision's 7,978,856 to the unit."""
    cost = analyzed()
    assert cost.total.macs == 2_834_161_664
    assert cost.total.params == 7_978_856
    norm_params = sum(r.params for r in cost.layers if r.category == OpCategory.NORM)
    assert cost.total.params - norm_params == 7_895_208
    assert cost.total.partial is False and cost.uncounted == []


def test_published_row_within_1_5_percent():
    entry = lookup("densenet121", {"num_classes": 1000}, 224)
    assert entry is not None and entry.macs_millions is None
    assert analyzed().total.params / 1e6 == pytest.approx(entry.params_millions, rel=0.015)


def test_table1_channels_and_layers():
    model = build()
    features = dict(model.features.named_children())
    blocks = [features[f"denseblock{i}"] for i in range(1, 5)]
    assert tuple(len(b) for b in blocks) == BLOCKS
    # each block adds layers x k; each transition halves (compression 0.5)
    assert [b.out_channels for b in blocks] == [256, 512, 1024, 1024]
    transitions = [features[f"transition{i}"] for i in range(1, 4)]
    assert [t.out_channels for t in transitions] == [128, 256, 512]
    assert "transition4" not in features
    assert all(layer.bottleneck.conv.out_channels == 4 * K and layer.conv.conv.out_channels == K
               for b in blocks for layer in b)
    assert model.classifier.in_features == 1024 and model.classifier.out_features == 1000
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == 121  # the "121 layers": convs and the FC
    assert all(c.bias is None for c in convs)


def test_grid_sizes_and_pools():
    cost = analyzed()
    pools = [r for r in cost.layers if r.op == "avg_pool2d"]
    assert [r.output_shapes[0][-2:] for r in pools] == [(28, 28), (14, 14), (7, 7)]
    last_conv = [r for r in cost.layers if r.op == "convolution"][-1]
    assert last_conv.output_shapes[0] == (1, K, 7, 7)


def test_concatenation_is_counted_as_data_movement():
    cost = analyzed()
    cats = [r for r in cost.layers if r.op == "cat"]
    assert len(cats) == sum(BLOCKS)  # one per dense layer
    assert all(r.category == OpCategory.DATA_MOVEMENT and r.macs == 0 for r in cats)
    # layer i of a block writes its input and k new maps: (c0 + i k) x H x W floats
    expected = 0
    for layers, c0, side in zip(BLOCKS, (64, 128, 256, 512), (56, 28, 14, 7)):
        expected += sum((c0 + i * K) * side * side * 4 for i in range(1, layers + 1))
    assert sum(r.bytes_written for r in cats) == expected == 40_692_736


def test_blocks_build_on_their_own():
    with torch.device("meta"):
        x = torch.zeros(1, 64, 56, 56)
        assert DenseLayer(64)(x).shape == (1, 96, 56, 56)
        block = DenseBlock(64, 6)
        assert block(x).shape == (1, 256, 56, 56) and block.out_channels == 256
        assert DenseBlock(64, 3, growth_rate=12, bottleneck_size=2)(x).shape == (1, 100, 56, 56)
        assert Transition(64, 32)(x).shape == (1, 32, 28, 28)


def test_bad_knobs_raise_usage_errors():
    with pytest.raises(UsageError, match="num_classes must be > 0"):
        costlab.analyze("densenet121", num_classes=0)
    with pytest.raises(UsageError, match="its knobs: num_classes"):
        costlab.analyze("densenet121", growth_rate=12)
