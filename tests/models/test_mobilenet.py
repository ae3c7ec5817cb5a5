"""MobileNet V1 and V2 against their papers' tables, exactly where the papers are exact."""

from __future__ import annotations

import pytest

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.models import get_model_spec
from costlab.models.blocks import make_divisible
from tests.models.helpers import conv_fc_params


def test_mobilenet_v1_224():
    cost = costlab.analyze("mobilenet_v1")
    assert cost.total.macs == 568_740_352  # paper: 569M
    assert cost.total.params == 4_231_976  # with BatchNorm's scale and shift
    assert conv_fc_params(cost) == 4_210_088  # paper: 4.2M
    assert cost.total.partial is False and cost.uncounted == []


def test_mobilenet_v2_224():
    cost = costlab.analyze("mobilenet_v2")
    assert cost.total.macs == 300_774_272  # paper: 300M
    assert cost.total.params == 3_504_872  # 3.50M with BatchNorm
    assert cost.total.partial is False


@pytest.mark.parametrize("width,macs_m,params_m", [
    (1.0, 569, 4.2), (0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)])
def test_mobilenet_v1_table6_width(width, macs_m, params_m):
    cost = costlab.analyze("mobilenet_v1", width=width)
    assert round(cost.total.macs / 1e6) == macs_m
    assert round(conv_fc_params(cost) / 1e6, 1) == params_m


@pytest.mark.parametrize("resolution,macs_m", [(224, 569), (192, 418), (160, 290), (128, 186)])
def test_mobilenet_v1_table7_resolution(resolution, macs_m):
    cost = costlab.analyze("mobilenet_v1", resolution=resolution)
    # the table rounds 568.7M up to 569 but prints 290.7M as 290: within 1M of every row
    assert abs(cost.total.macs / 1e6 - macs_m) < 1
    assert cost.info.input_shapes == ((1, 3, resolution, resolution),)


@pytest.mark.parametrize("width,resolution,macs_m", [
    (1.4, 224, 582), (1.0, 224, 301), (0.75, 224, 209), (0.5, 224, 97), (0.35, 224, 59),
    (1.0, 192, 221), (1.0, 160, 154), (1.0, 128, 99), (1.0, 96, 56)])
def test_mobilenet_v2_width_resolution_grid(width, resolution, macs_m):
    # the official checkpoints' table (the paper's Table 4 prints 300M and 585M for two rows)
    cost = costlab.analyze("mobilenet_v2", width=width, resolution=resolution)
    assert round(cost.total.macs / 1e6) == macs_m


def test_mobilenet_v2_channel_rules():
    model = get_model_spec("mobilenet_v2").build(width=0.35)
    convs = [m for m in model.modules() if m.__class__.__name__ == "Conv2d"]
    assert all(c.out_channels % 8 == 0 for c in convs)
    assert model.classifier[1].in_features == 1280  # last conv never narrowed below 1280
    wide = get_model_spec("mobilenet_v2").build(width=1.4)
    assert wide.classifier[1].in_features == 1792
    assert make_divisible(32 * 0.35) == 16 and make_divisible(16 * 0.35) == 8


def test_mobilenet_v2_residuals_and_structure():
    cost = costlab.analyze("mobilenet_v2")
    adds = [r for r in cost.layers if r.op == "add"]
    assert len(adds) == 10  # blocks with stride 1 and equal channels
    kinds = [r.category for r in cost.layers if r.macs]
    assert kinds.count(OpCategory.DEPTHWISE) == 17


def test_same_numbers_on_meta_and_cpu():
    for name in ("mobilenet_v1", "mobilenet_v2"):
        meta = costlab.analyze(name, device="meta")
        cpu = costlab.analyze(name, device="cpu")
        assert meta.total == cpu.total
        assert [(r.op, r.macs, r.flops, r.bytes_read, r.bytes_written) for r in meta.layers] == \
               [(r.op, r.macs, r.flops, r.bytes_read, r.bytes_written) for r in cpu.layers]


def test_batch_scales_costs_but_not_params():
    one = costlab.analyze("mobilenet_v1")
    four = costlab.analyze("mobilenet_v1", batch=4)
    assert four.total.macs == 4 * one.total.macs
    assert four.total.params == one.total.params


def test_peak_activation_mobilenet_v1():
    # at 112x112: a 64-channel conv output and its BatchNorm output alive together
    cost = costlab.analyze("mobilenet_v1")
    assert cost.total.peak_activation_bytes == 4 * 2 * 64 * 112 * 112
