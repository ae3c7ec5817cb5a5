"""The ShuffleNet V2 guideline audit: the paper's own reading of four networks (Section 3),
exact memory-access numbers of single layers, and the thresholds' meaning."""

from __future__ import annotations

import math
from functools import cache

import pytest

import costlab
from costlab.analysis.guidelines import (ARITHMETIC_CATEGORIES, THRESHOLDS, ConvGeometry,
                                         GuidelineAudit, Thresholds, arithmetic_bytes, audit,
                                         block_rows, folded_norms)
from costlab.core.records import ModelCost


@cache
def analyzed(name: str) -> ModelCost:
    return costlab.analyze(name)


@cache
def audited(name: str) -> GuidelineAudit:
    return audit(analyzed(name))


def layer(name: str, module: str):
    [record] = [r for r in analyzed(name).layers
                if r.module == module and r.op == "convolution"]
    return record


def offender(name: str, guideline: str, module: str) -> dict:
    [row] = [o for o in audited(name)[guideline].offenders if o["module"] == module]
    return row


# ----------------------------------------------------------- the paper's reading

@pytest.mark.parametrize("name, verdicts", [
    # Section 3, "Discussion": each network against the guidelines it breaks
    ("shufflenet_v1", {"G1": "fail", "G2": "fail"}),  # bottlenecks and group convs
    ("mobilenet_v2", {"G1": "fail", "G4": "fail"}),  # 6x expansion; ReLU, dw on thick maps
    ("nasnet_a_mobile", {"G3": "fail"}),  # fragmented cells
    ("shufflenet_v2", {"G1": "pass", "G2": "pass", "G3": "pass", "G4": "pass"}),
])
def test_verdicts_follow_the_papers_reading(name, verdicts):
    got = audited(name).verdicts
    assert {g: got[g] for g in verdicts} == verdicts


def test_full_verdicts_of_the_four_networks():
    table = {name: "".join(v[0] for v in audited(name).verdicts.values())
             for name in ("shufflenet_v1", "mobilenet_v2", "nasnet_a_mobile", "shufflenet_v2")}
    # G1 G2 G3 G4, first letters
    assert table == {"shufflenet_v1": "ffpf", "mobilenet_v2": "fppf",
                     "nasnet_a_mobile": "wpff", "shufflenet_v2": "pppp"}


# ------------------------------------------------------------------------- G1

def test_shufflenet_v2_unit_1x1_conv_is_at_the_lower_bound():
    # stage 3's stride-1 unit: 58 -> 58 channels on a 28x28 map
    geo = ConvGeometry.of(layer("shufflenet_v2", "stages.1.branch.0.conv"))
    hw, c1, c2 = 28 * 28, 58, 58
    assert (geo.c_in, geo.c_out, geo.in_positions, geo.out_positions) == (c1, c2, hw, hw)
    assert geo.memory_access == hw * (c1 + c2) + c1 * c2 == 94308
    flops = hw * c1 * c2  # the paper's B
    assert geo.balanced_bound == pytest.approx(2 * math.sqrt(hw * flops) + flops / hw)
    assert geo.balanced_bound == pytest.approx(94308)  # equal widths reach the bound
    assert all(o["module"] != "stages.1.branch.0.conv"
               for o in audited("shufflenet_v2")["G1"].offenders)


def test_shufflenet_v2_first_unit_widens_24_to_58_and_is_flagged_but_small():
    row = offender("shufflenet_v2", "G1", "stages.0.branch.0.conv")
    hw, c1, c2 = 56 * 56, 24, 58
    flops = hw * c1 * c2
    assert row["memory_access"] == hw * (c1 + c2) + c1 * c2 == 258544
    assert row["lower_bound"] == pytest.approx(2 * math.sqrt(hw * flops) + flops / hw)
    assert row["excess"] == pytest.approx(258544 / row["lower_bound"] - 1)
    assert 0.098 < row["excess"] < 0.099
    g1 = audited("shufflenet_v2")["G1"]
    assert [o["module"] for o in g1.offenders] == ["stages.0.branch.0.conv",
                                                   "stages.0.shortcut.1.conv"]
    # the verdict weighs them by bytes: both are float32 and bias-free, 4 bytes an element
    # (24->58 channels on 56x56, and on 28x28 after the stride-2 depthwise conv)
    assert row["memory_access_bytes"] == 4 * 258544
    shortcut_elements = 784 * (24 + 58) + 24 * 58
    assert g1.key_metric == "share_memory_access_unbalanced"
    assert g1.value == pytest.approx(4 * (258544 + shortcut_elements)
                                     / arithmetic_bytes(analyzed("shufflenet_v2")))
    assert g1.value == pytest.approx(0.0661, abs=1e-4)
    # the MAC share beside it, the weight before
    assert g1.metrics["share_macs_unbalanced"] == pytest.approx(
        (24 * 58 * 3136 + 24 * 58 * 784) / analyzed("shufflenet_v2").total.macs)


def test_mobilenet_v2_expansion_6_is_flagged():
    row = offender("mobilenet_v2", "G1", "features.3.conv.expand.conv")
    assert (row["c_in"], row["c_out"], row["ratio"], row["positions"]) == (24, 144, 6.0, 3136)
    assert row["memory_access"] == 3136 * (24 + 144) + 24 * 144 == 530304
    flops = 3136 * 24 * 144
    assert row["lower_bound"] == pytest.approx(2 * math.sqrt(3136 * flops) + flops / 3136)
    assert row["excess"] == pytest.approx(530304 / row["lower_bound"] - 1)
    projection = offender("mobilenet_v2", "G1", "features.3.conv.project.conv")
    assert projection["ratio"] == pytest.approx(1 / 6)
    # every expansion and projection of the t=6 blocks is flagged
    g1 = audited("mobilenet_v2")["G1"]
    assert sum(o["module"].endswith("expand.conv") for o in g1.offenders) == 16


def test_a_1_to_2_ratio_is_just_within_tolerance():
    # activations dominate (weights negligible): excess tends to 3 / (2 sqrt 2) - 1
    big = 10 ** 6
    half = ConvGeometry(64, 128, big, big, 1, 1)
    assert half.memory_access / half.balanced_bound - 1 < THRESHOLDS.layer_excess
    assert half.memory_access / half.balanced_bound - 1 == pytest.approx(
        THRESHOLDS.layer_excess, rel=1e-3)
    wider = ConvGeometry(64, 160, big, big, 1, 1)  # 1 : 2.5
    assert wider.memory_access / wider.balanced_bound - 1 > THRESHOLDS.layer_excess


# ------------------------------------------------------------------------- G2

def test_shufflenet_v1_group_conv_against_its_ungrouped_twin():
    row = offender("shufflenet_v1", "G2", "stages.1.expand.conv")
    hw, c1, c2, g = 28 * 28, 60, 240, 3
    assert (row["c_in"], row["c_out"], row["groups"]) == (c1, c2, g)
    flops = hw * c1 * c2 // g  # B, the layer's MACs
    assert layer("shufflenet_v1", "stages.1.expand.conv").macs == flops == 3763200

    def paper(groups):  # MAC = hw c1 + B g / c1 + B / hw
        return hw * c1 + flops * groups / c1 + flops / hw

    assert row["memory_access"] == paper(g) == 240000
    assert row["ungrouped_memory_access"] == paper(1) == 114560
    assert row["excess"] == pytest.approx(240000 / 114560 - 1)


def test_g2_counts_grouped_not_depthwise_convs():
    g2 = audited("shufflenet_v1")["G2"]
    # 16 units x 2 group convs, less stage 2's first 1x1 (ungrouped): all 31 flagged
    assert g2.metrics["excessive_convs"] == 31
    assert g2.metrics["share_macs_excessive"] == g2.metrics["share_macs_grouped"]
    assert audited("mobilenet_v2")["G2"].metrics["share_macs_grouped"] == 0


def test_resnext50_group_convs_are_weighed_by_their_memory_access():
    # the g=32 3x3 convs move ~93% more memory than their ungrouped twins: 5.5% of the
    # MACs, but 15% of the arithmetic ops' bytes, so G2 warns (it passed under a MAC weight)
    g2 = audited("resnext50_32x4d")["G2"]
    assert g2.verdict == "warn" and g2.key_metric == "share_memory_access_excessive"
    assert g2.value == pytest.approx(0.150, abs=5e-4)
    assert g2.metrics["share_macs_excessive"] == pytest.approx(0.055, abs=5e-4)
    assert max(o["excess"] for o in g2.offenders) == pytest.approx(0.93, abs=0.01)
    assert g2.value == pytest.approx(sum(o["share_memory_access"] for o in g2.offenders))
    assert g2.explanation.startswith("15.0% of the arithmetic ops' memory access (5.5% of "
                                     "MACs) is in group convs")


def test_weights_are_shares_of_the_arithmetic_ops_bytes():
    cost = analyzed("mobilenet_v2")
    whole = sum(r.memory_access_bytes for r in cost.layers
                if r.category in ARITHMETIC_CATEGORIES)
    assert arithmetic_bytes(cost) == whole < cost.total.memory_access_bytes
    g1 = audited("mobilenet_v2")["G1"]
    assert g1.value == sum(o["memory_access_bytes"] for o in g1.offenders) / whole
    assert all(o["share_memory_access"] == o["memory_access_bytes"] / whole
               for o in g1.offenders)


# ------------------------------------------------------------------------- G3

def test_googlenet_inception_modules_have_four_branches_and_seven_kernel_ops():
    rows = block_rows(analyzed("googlenet"))
    assert [r["block"] for r in rows] == [f"inception.inception{n}" for n in (
        "3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    assert {(r["branches"], r["fragments"], r["ops"]) for r in rows} == {(4, 7, 14)}


def test_nasnet_cells_are_each_a_fragmented_block():
    g3 = audited("nasnet_a_mobile")["G3"]
    assert g3.metrics["blocks"] == g3.metrics["fragmented_blocks"] == 16
    assert {o["block"] for o in g3.offenders} == {f"cells.{i}" for i in range(16)}
    # the cells hold 97.9% of the MACs and 90.4% of the arithmetic ops' bytes (the rest
    # is in the ops outside the cells)
    assert g3.value == pytest.approx(0.904, abs=5e-4)
    assert g3.metrics["share_macs_fragmented"] == pytest.approx(0.979, abs=5e-4)


def test_shufflenet_v2_units_have_at_most_two_branches():
    rows = block_rows(analyzed("shufflenet_v2"))
    assert len(rows) == 16
    # stride-2 units: two convolutional branches, 5 convs; stride 1: one branch, 3 convs
    assert [(r["branches"], r["fragments"]) for r in rows if r["branches"] == 2] == [(2, 5)] * 3
    assert {(r["branches"], r["fragments"]) for r in rows if r["branches"] == 1} == {(1, 3)}


# ------------------------------------------------------------------------- G4

def test_shufflenet_v2_elementwise_ops_are_relus_and_depthwise_convs():
    g4 = audited("shufflenet_v2")["G4"]
    # 37 ReLUs and 19 depthwise convs of 184 ops, 56 BatchNorms folded into their convs
    assert g4.metrics["folded_norms"] == 56
    assert len(g4.offenders) == 37 + 19
    assert g4.metrics["share_ops"] == (37 + 19) / (184 - 56)


def test_densenet_pre_activation_norms_are_not_folded():
    cost = analyzed("densenet121")
    norms = sum(r.category == "norm" for r in cost.layers)
    # folded: the stem's and each dense layer's second BN (after its 1x1 conv);
    # not: the first BN of 58 dense layers, 3 transitions and the final one, after concats
    assert (norms, len(folded_norms(cost.layers))) == (121, 1 + 58)
    assert audited("densenet121")["G4"].metrics["share_bytes_norm"] > 0


# ------------------------------------------------------------------ thresholds, frames

def test_verdicts_move_with_thresholds_only():
    cost = analyzed("shufflenet_v1")
    assert audit(cost, Thresholds(share_fail=0.9)).verdicts["G1"] == "warn"
    assert audit(cost, Thresholds(elementwise_fail=2.0)).verdicts["G4"] == "warn"
    assert audit(cost, Thresholds(layer_excess=3.0)).verdicts["G2"] == "pass"


def test_frames():
    result = audited("mobilenet_v2")
    summary, offenders = result.to_frames()
    assert list(summary["guideline"]) == ["G1", "G2", "G3", "G4"]
    assert list(summary["verdict"]) == ["fail", "pass", "pass", "fail"]
    assert summary.loc[0, "value"] == result["G1"].metrics["share_memory_access_unbalanced"]
    assert len(offenders) == sum(len(r.offenders) for r in result.results)
    first = offenders[offenders["guideline"] == "G1"].iloc[0]
    assert (first["rank"], first["module"]) == (1, "features.2.conv.expand.conv")


def test_measured_time_is_added_to_g4_only_and_keeps_the_verdict():
    from costlab.analysis.guidelines import with_measured_g4

    base = audit(costlab.analyze("mobilenet_v2"))
    measured = with_measured_g4(base, 0.25, 0.30, "cpu, 1 thread")
    g4 = measured["G4"]
    assert g4.metrics["share_time"] == 0.55
    shares = (g4.metrics["share_time_elementwise"], g4.metrics["share_time_depthwise"])
    assert shares == (0.25, 0.30)
    assert g4.verdict == base["G4"].verdict
    assert g4.explanation.endswith("measured (cpu, 1 thread): 55.0% of the forward time "
                                   "(25.0% element-wise, 30.0% depthwise)")
    assert [r.metrics for r in measured.results[:3]] == [r.metrics for r in base.results[:3]]
    assert "share_time" not in base["G4"].metrics  # the original is untouched
