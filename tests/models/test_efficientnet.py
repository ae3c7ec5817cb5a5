"""EfficientNet B0-B7 against Tables 1 and 2 of Tan and Le 2019."""

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
from costlab.references import lookup


def built(name: str, **knobs) -> nn.Module:
    with torch.device("meta"):  # no weights to allocate or initialize
        return get_model_spec(name).build(**knobs)


@cache
def analyzed(name: str):
    return costlab.analyze(name)


# variant, resolution, exact MACs, exact params (BatchNorm included, as the official
# count; every one equals torchvision's count for its port of the official weights),
# and whether each is within 1.5% of Table 2
ROWS = [
    ("b0", 224, 385_814_752, 5_288_548, True, True),
    ("b1", 240, 686_802_832, 7_794_184, False, True),
    ("b2", 260, 993_561_872, 9_109_994, True, True),
    ("b3", 300, 1_827_141_392, 12_233_232, False, False),
    ("b4", 380, 4_393_771_024, 19_341_616, False, False),
    ("b5", 456, 10_266_384_752, 30_389_784, False, True),
    ("b6", 528, 19_067_593_536, 43_040_704, True, True),
    ("b7", 600, 37_745_884_192, 66_347_960, False, True),
]


@pytest.mark.parametrize("variant,resolution,macs,params,macs_close,params_close", ROWS)
def test_costs_against_table_2(variant, resolution, macs, params, macs_close, params_close):
    """Exact costs, and Table 2's row within 1.5% where costlab reproduces it.

    Pinned where it does not: Table 2 prints two significant digits, so B3's 1.83B
    (printed 1.8B) and the params of B3 (12.2M, printed 12M) and B4 (19.3M, printed 19M)
    are the printed numbers before rounding (asserted below). B1 (0.687B against 0.70B),
    B4 (4.39B against 4.2B), B5 (10.27B against 9.9B) and B7 (37.7B against 37B) are not
    reproducible from the released architecture, whose params costlab matches exactly;
    the paper does not say how it counted. Every model is counted at its own resolution.
    """
    name = f"efficientnet_{variant}"
    cost = analyzed(name)
    assert cost.info.input_shapes == ((1, 3, resolution, resolution),)
    assert cost.total.macs == macs
    assert cost.total.params == params
    assert cost.total.partial is False and cost.uncounted == []

    entry = lookup(name, {"num_classes": 1000}, resolution)
    assert entry is not None
    macs_ratio = cost.total.macs / 1e6 / entry.macs_millions
    params_ratio = cost.total.params / 1e6 / entry.params_millions
    assert (abs(macs_ratio - 1) <= 0.015) is macs_close
    assert (abs(params_ratio - 1) <= 0.015) is params_close
    if variant in ("b3", "b4"):
        assert round(cost.total.params / 1e6) == entry.params_millions
    if variant == "b3":
        assert round(cost.total.macs / 1e8) * 100 == entry.macs_millions


def stages(model: nn.Module) -> list[nn.Sequential]:
    return list(model.features[1:-1])


@pytest.mark.parametrize("variant,stem,outs,repeats,head,dropout", [
    ("b0", 32, [16, 24, 40, 80, 112, 192, 320], [1, 2, 2, 3, 3, 4, 1], 1280, 0.2),
    # width 1.4: 22.4 -> 24, 33.6 -> 32, 156.8 -> 160, 268.8 -> 272; depth 1.8, rounded up
    ("b4", 48, [24, 32, 56, 112, 160, 272, 448], [2, 4, 4, 6, 6, 8, 2], 1792, 0.4),
    ("b7", 64, [32, 48, 80, 160, 224, 384, 640], [4, 7, 7, 10, 10, 13, 4], 2560, 0.5),
])
def test_compound_scaling(variant, stem, outs, repeats, head, dropout):
    model = built(f"efficientnet_{variant}")
    assert model.features[0].conv.out_channels == stem
    assert [s[-1].conv.project.conv.out_channels for s in stages(model)] == outs
    assert [len(s) for s in stages(model)] == repeats
    assert model.features[-1].conv.out_channels == head
    assert model.classifier[0].p == dropout
    assert model.classifier[1].in_features == head


def test_b0_table_1_blocks():
    model = built("efficientnet_b0")
    blocks = [b for s in stages(model) for b in s]
    assert [b.conv.dw.conv.out_channels for b in blocks] == \
           [32, 96, 144, 144, 240, 240, 480, 480, 480, 672, 672, 672, 1152, 1152, 1152, 1152]
    assert [b.conv.dw.conv.kernel_size[0] for b in blocks] == \
           [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
    # SE squeezes to a quarter of the block's input, not of its expansion
    assert [b.conv.se.fc1.out_channels for b in blocks] == \
           [8, 4, 6, 6, 10, 10, 20, 20, 20, 28, 28, 28, 48, 48, 48, 48]
    assert "expand" not in blocks[0].conv._modules  # MBConv1


def test_b0_ops():
    cost = analyzed("efficientnet_b0")
    counts = {op: sum(r.op == op for r in cost.layers) for op in ("silu", "sigmoid", "add")}
    # SiLU: stem, 15 expansions, 16 depthwise, 16 SE, head; a sigmoid gate per block;
    # residuals in the 9 blocks that keep stride 1 and channels
    assert counts == {"silu": 49, "sigmoid": 16, "add": 9}
    depthwise = [r for r in cost.layers if r.category == OpCategory.DEPTHWISE]
    assert len(depthwise) == 16
    assert sum(r.attrs["kernel"] == (5, 5) for r in depthwise) == 9


def test_registry_entries():
    for variant, resolution, *_ in ROWS:
        spec = get_model_spec(f"efficientnet_{variant}")
        assert spec.default_input() == (3, resolution, resolution)
        assert [k.name for k in spec.knobs] == ["num_classes"]
        assert spec.family == "efficientnet" and "Table 1" in spec.reference
        assert spec.summary.startswith(f"EfficientNet-{variant.upper()}:")


def test_num_classes():
    cost = costlab.analyze("efficientnet_b0", num_classes=10)
    assert cost.total.params == 5_288_548 - 1281 * 990


def test_bad_knobs():
    with pytest.raises(UsageError, match="num_classes must be > 0"):
        costlab.analyze("efficientnet_b0", num_classes=0)
    with pytest.raises(UsageError, match=r"no knob 'width' \(its knobs: num_classes\)"):
        costlab.analyze("efficientnet_b0", width=1.1)
