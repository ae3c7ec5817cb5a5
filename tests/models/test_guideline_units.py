"""The micro-benchmarks of ShuffleNet V2's Tables 1-4: shapes, exact MACs, matched FLOPs."""

from __future__ import annotations

import pytest
import torch

import costlab
from costlab.bench.guideline_experiments import BENCHMARKS, benchmark
from costlab.workflows.empirical import count_variants, flops_frame
from costlab.models import get_model_spec
from tests.models.helpers import analyzed

HW = 56 * 56


def test_g1_uses_the_papers_channels_and_counts_two_1x1_convs_per_block():
    cost = analyzed("g1_channel_ratio", ratio=12, platform="gpu", scale=1)
    assert cost.info.input_shapes == ((1, 36, 56, 56),)
    assert cost.total.macs == 10 * 2 * HW * 36 * 432 == 975_421_440
    assert cost.total.flops == 2 * cost.total.macs  # bare convs: nothing but multiply-adds
    arm = analyzed("g1_channel_ratio", ratio=1, platform="arm", scale=4)
    assert arm.info.input_shapes == ((1, 128, 56, 56),)
    assert arm.total.macs == 10 * 2 * HW * 128 * 128


def test_g2_group_convs_divide_macs_by_groups():
    cost = analyzed("g2_group_conv", groups=8, platform="gpu", scale=2)
    assert cost.info.input_shapes == ((1, 720, 56, 56),)
    assert cost.total.macs == 10 * HW * 720 * 720 // 8 == 2_032_128_000
    assert analyzed("g2_group_conv").total.macs == 10 * HW * 128 * 128 == 513_802_240


def test_g2_arm_g8_rounds_180_to_a_multiple_of_8():
    cost = analyzed("g2_group_conv", groups=8, platform="arm", scale=1)
    assert cost.info.input_shapes == ((1, 184, 56, 56),)
    assert cost.total.macs == 10 * HW * 184 * 184 // 8


def test_g3_series_and_parallel_blocks():
    series = analyzed("g3_fragments", fragments="2-series", platform="gpu", scale=1)
    assert series.info.input_shapes == ((1, 91, 56, 56),)  # round(128 / sqrt 2)
    assert series.total.macs == 10 * 2 * HW * 91 * 91
    parallel = analyzed("g3_fragments", fragments="4-parallel", platform="gpu", scale=1)
    assert parallel.info.input_shapes == ((1, 128, 56, 56),)
    assert parallel.total.macs == 10 * 4 * HW * 128 * 32
    ops = [r.op for r in parallel.layers]
    assert ops.count("convolution") == 40 and ops.count("cat") == 10


def test_g3_parallel_block_computes_what_one_conv_computes():
    """k branches c -> c/k concatenated are one c -> c conv split in k: fragmentation alone."""
    torch.manual_seed(0)
    model = get_model_spec("g3_fragments").build(fragments="4-parallel", platform="arm")
    block = model[0]
    whole = torch.nn.Conv2d(64, 64, 1, bias=False)
    with torch.no_grad():
        whole.weight.copy_(torch.cat([b.weight for b in block.branches]))
        x = torch.randn(1, 64, 8, 8)
        torch.testing.assert_close(block(x), whole(x))


def test_g4_bottleneck_variants_share_macs_and_differ_in_elementwise_ops():
    macs = 10 * HW * (128 * 32 + 9 * 32 * 32 + 32 * 128)
    full = analyzed("g4_elementwise", relu=True, shortcut=True)
    bare = analyzed("g4_elementwise", relu=False, shortcut=False)
    assert full.info.input_shapes == ((1, 128, 56, 56),)
    assert full.total.macs == bare.total.macs == macs == 545_914_880
    # 3 ReLUs (32, 32 and 128 channels) and one add (128) per unit, one FLOP per element
    assert full.total.flops - bare.total.flops == 10 * HW * (32 + 32 + 128 + 128)
    assert {r.op for r in bare.layers} == {"convolution"}


def test_g4_without_shortcut_has_no_add():
    cost = analyzed("g4_elementwise", relu=True, shortcut=False)
    ops = [r.op for r in cost.layers]
    assert not any("add" in op for op in ops)
    assert sum("relu" in op for op in ops) == 30


@pytest.mark.parametrize("guideline", ["G1", "G2", "G3"])
def test_flops_within_1pct_where_the_papers_channels_allow(guideline):
    """Deviation of each variant's MACs from the baseline's, in %, at the GPU channels of
    scale 1: the paper's integer channel counts match FLOPs to these, not all within 1%."""
    expected = {
        "G1": [0.0, -1.123, -0.977, -5.078],  # 128^2, 90*180, 52*312, 36*432
        "G2": [0.0, -1.123, 0.0, -1.123],  # 128^2, 180^2/2, 256^2/4, 360^2/8
        "G3": [0.0, 1.086, 0.0, 0.0, 0.0],  # 128^2, 2*91^2, 4*64^2, 2*128*64, 4*128*32
    }[guideline]
    counts = count_variants(benchmark(guideline), "gpu", 1)
    assert [round(c.macs_vs_baseline_pct, 3) for c in counts] == expected


def test_flops_match_within_1pct_at_larger_scales_except_g1s_ratios():
    frame = flops_frame(platforms=("gpu", "arm"), scales=(1, 2, 4))
    assert len(frame) == 2 * 3 * (4 + 4 + 5 + 4)  # platforms x scales x variants
    off = frame[~frame.within_1pct & (frame.guideline != "G4")]
    # the rows that miss 1%: G1's 1:2 and 1:12 everywhere (the paper's own channels), the
    # 1.12% of 90 = round(128/sqrt 2) and its like at small widths, ARM's g=8 at 184
    assert set(off.setting) == {"c1:c2=1:2", "c1:c2=1:12", "g=2", "g=8", "2-fragment-series"}
    assert (off.macs_vs_baseline_pct.abs() < 5.5).all()
    g2_g3 = frame[frame.guideline.isin(["G2", "G3"]) & (frame.scale > 1)]
    assert (g2_g3.macs_vs_baseline_pct.abs() <= 1.13).all()
    g4 = frame[frame.guideline == "G4"]
    assert (g4.macs_vs_baseline_pct == 0).all()


def test_every_variant_builds_on_cpu_and_runs():
    for bench in BENCHMARKS:
        for variant in bench.variants:
            prepared = costlab.api.prepare(variant.model, platform="arm", **variant.knobs)
            with torch.inference_mode():
                out = prepared()
            assert out.shape == prepared.args[0].shape
