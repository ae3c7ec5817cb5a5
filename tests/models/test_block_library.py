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
