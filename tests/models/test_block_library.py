"""The block library: Inception v3's factorization savings, exactly, and the mobile blocks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import costlab
from costlab.cli import app


def macs(name: str, **kw) -> int:
    return costlab.analyze(name, **kw).total.macs


def test_5x5_versus_two_3x3_saves_28_percent():
    five = macs("block:conv5x5", input_shape=(1, 64, 35, 35))
    two = macs("block:conv3x3_twice", input_shape=(1, 64, 35, 35))
    assert five == 35 * 35 * 64 * 64 * 25
    assert two == 2 * 35 * 35 * 64 * 64 * 9
    assert two / five == pytest.approx(0.72)


def test_asymmetric_factorizations():
    assert macs("block:conv1x3_conv3x1") / macs("block:conv3x3") == pytest.approx(6 / 9)
    assert macs("block:conv1xn_convnx1") / macs("block:convnxn") == pytest.approx(2 / 7)
    assert macs("block:conv1xn_convnx1", n=3) / macs("block:convnxn", n=3) == pytest.approx(2 / 3)


@pytest.mark.parametrize("args,saving", [
    (["block:conv5x5", "block:conv3x3_twice", "--input", "1,64,35,35"], "28% fewer MACs"),
    (["block:conv3x3", "block:conv1x3_conv3x1"], "33% fewer MACs"),
])
def test_cli_comparison_prints_the_saving(args, saving):
    result = CliRunner().invoke(app, ["compare", *args])
    assert result.exit_code == 0, result.stderr
    assert saving in result.stdout


def test_blocks_follow_the_input_channels():
    cost = costlab.analyze("block:conv3x3", input_shape=(2, 32, 10, 10))
    assert cost.total.macs == 2 * 10 * 10 * 32 * 32 * 9
    assert cost.layers[0].output_shapes == ((2, 32, 10, 10),)


def test_mobile_blocks():
    # MobileNet V1 Table 3's depthwise separable layer on 14x14x512 (plus its BN and ReLU)
    assert macs("block:depthwise_separable") == 52_283_392
    # MobileNet V2's 24 -> 144 -> 24 bottleneck at 56x56, as features.3 of mobilenet_v2
    assert macs("block:inverted_residual") == 2 * 56 * 56 * 24 * 144 + 56 * 56 * 144 * 9
    assert macs("block:squeeze_excite") == 2 * 256 * 16
    se = costlab.analyze("block:squeeze_excite")
    assert se.total.params == 256 * 16 + 16 + 16 * 256 + 256


def test_inception_modules_naive_versus_reduced():
    naive = costlab.analyze("block:inception_naive")
    assert naive.total.macs == 28 * 28 * 192 * (64 + 128 * 9 + 32 * 25)
    assert naive.layers[-1].output_shapes == ((1, 64 + 128 + 32 + 192, 28, 28),)
    reduced = costlab.analyze("block:inception_reduced")
    # GoogLeNet Table 1 prints 128M ops for inception 3a
    assert round(reduced.total.macs / 1e6) == 128
    assert reduced.layers[-1].output_shapes == ((1, 256, 28, 28),)


def test_resnet_and_resnext_blocks_cost_the_same_by_design():
    # ResNeXt Figure 1: a 32x4d block is built to match the bottleneck's complexity
    bottleneck = costlab.analyze("block:bottleneck")
    resnext = costlab.analyze("block:resnext")
    assert bottleneck.total.macs == 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256)
    assert resnext.total.macs == 56 * 56 * (256 * 128 + 128 * 4 * 9 + 128 * 256)
    grouped = [r for r in resnext.layers if r.category == "grouped conv"]
    assert len(grouped) == 1 and grouped[0].attrs["groups"] == 32
    assert costlab.analyze("block:residual").total.macs == 2 * 56 * 56 * 64 * 64 * 9


def test_dense_block_grows_by_k_per_layer():
    cost = costlab.analyze("block:dense", layers=3, growth=12)
    cats = [r for r in cost.layers if r.op == "cat"]
    assert [r.output_shapes[0][1] for r in cats] == [76, 88, 100]
    expected = sum(56 * 56 * (c * 48 + 48 * 12 * 9) for c in (64, 76, 88))
    assert cost.total.macs == expected


def test_searched_cells_are_fragmented():
    nasnet = costlab.analyze("block:nasnet_normal", filters=32)
    assert nasnet.layers[-1].output_shapes[0][1] == 6 * 32
    amoeba = costlab.analyze("block:amoebanet_normal")
    assert amoeba.layers[-1].output_shapes[0][1] == 4 * 50
    inception = costlab.analyze("block:inception_reduced")
    # many more, smaller ops than a hand-designed module with 3x their MACs (ShuffleNet V2 G3)
    assert nasnet.total.ops > 3 * inception.total.ops
    assert nasnet.total.macs < inception.total.macs


def test_every_block_analyzes_on_any_input():
    from costlab.models import registry

    blocks = [n for n in registry().names() if n.startswith("block:")]
    assert len(blocks) >= 17
    for name in blocks:
        cost = costlab.analyze(name, input_shape=(1, 48, 12, 12))
        assert cost.total.macs > 0 and not cost.total.partial, name
