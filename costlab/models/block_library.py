"""The block library: single building blocks at a configurable input, for studying them.

Every entry is registered as ``block:NAME`` and built for the input it is given
(``--input 1,C,H,W``): the channel count comes from the input, so two blocks compared on
the same input do the same job. Inception v3's factorizations (Szegedy et al. 2016,
Section 3) are here as plain convolutions (no bias, no BN), so their MACs ratios are the
paper's: a 5x5 conv costs 25/18 of two 3x3 convs (a 28% saving), a 3x3 costs 9/6 of a 1x3
followed by a 3x1 (33%), an n x n costs n/2 times a 1 x n then n x 1.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from costlab.models.blocks import DepthwiseSeparable, InvertedResidual, SqueezeExcite
from costlab.models.registry import Knob, register_model

FAMILY = "block"
INCEPTION_GRID = (64, 35, 35)  # Inception v3's 35x35 grid; any input works
N = Knob("n", 7, int, "kernel size of the n x n factorization")


def _channels(input_shape: tuple[int, ...]) -> int:
    return int(input_shape[1])


def block(name: str, *, knobs: tuple[Knob, ...] = (), input_shape=INCEPTION_GRID,
          reference: str = "") -> Callable:
    """Register a block builder that receives the full input shape."""
    return register_model(f"block:{name}", knobs=knobs, input_shape=input_shape, family=FAMILY,
                          reference=reference, takes_input=True)


def _conv(c: int, kernel: tuple[int, int]) -> nn.Conv2d:
    return nn.Conv2d(c, c, kernel, padding=(kernel[0] // 2, kernel[1] // 2), bias=False)


_V3 = "Szegedy et al. 2016, Inception v3, Section 3.1 / Figure 5"
_V3_ASYM = "Szegedy et al. 2016, Inception v3, Section 3.2 / Figures 6-7"


@block("conv5x5", reference=_V3)
def conv5x5(input_shape) -> nn.Module:
    """One 5x5 convolution, C -> C channels."""
    return _conv(_channels(input_shape), (5, 5))


@block("conv3x3_twice", reference=_V3)
def conv3x3_twice(input_shape) -> nn.Module:
    """Two stacked 3x3 convolutions (the same 5x5 receptive field), C -> C -> C."""
    c = _channels(input_shape)
    return nn.Sequential(_conv(c, (3, 3)), _conv(c, (3, 3)))


@block("conv3x3", reference=_V3_ASYM)
def conv3x3(input_shape) -> nn.Module:
    """One 3x3 convolution, C -> C channels."""
    return _conv(_channels(input_shape), (3, 3))


@block("conv1x3_conv3x1", reference=_V3_ASYM)
def conv1x3_conv3x1(input_shape) -> nn.Module:
    """A 1x3 convolution then a 3x1 (the asymmetric factorization of a 3x3)."""
    c = _channels(input_shape)
    return nn.Sequential(_conv(c, (1, 3)), _conv(c, (3, 1)))


@block("convnxn", knobs=(N,), input_shape=(128, 17, 17), reference=_V3_ASYM)
def convnxn(input_shape, n: int = 7) -> nn.Module:
    """One n x n convolution, C -> C channels (Inception v3 uses n = 7 on the 17x17 grid)."""
    return _conv(_channels(input_shape), (n, n))


@block("conv1xn_convnx1", knobs=(N,), input_shape=(128, 17, 17), reference=_V3_ASYM)
def conv1xn_convnx1(input_shape, n: int = 7) -> nn.Module:
    """A 1 x n convolution then an n x 1."""
    c = _channels(input_shape)
    return nn.Sequential(_conv(c, (1, n)), _conv(c, (n, 1)))


@block("depthwise_separable", input_shape=(512, 14, 14),
       reference="Howard et al. 2017, MobileNets, Figure 3 and Table 3 (14x14x512)")
def depthwise_separable(input_shape) -> nn.Module:
    """MobileNet V1's 3x3 depthwise + 1x1 pointwise unit, each with BN and ReLU, C -> C."""
    c = _channels(input_shape)
    return DepthwiseSeparable(c, c)


@block("inverted_residual", input_shape=(24, 56, 56),
       knobs=(Knob("expansion", 6.0, float, "expansion ratio t"),),
       reference="Sandler et al. 2018, MobileNetV2, Table 1")
def inverted_residual(input_shape, expansion: float = 6.0) -> nn.Module:
    """MobileNet V2's bottleneck, C -> C with the residual add (stride 1)."""
    c = _channels(input_shape)
    return InvertedResidual(c, c, 1, expansion)


@block("squeeze_excite", input_shape=(256, 56, 56),
       knobs=(Knob("reduction", 16, int, "channel reduction ratio r"),),
       reference="Hu et al. 2018, Squeeze-and-Excitation Networks, Figure 1")
def squeeze_excite(input_shape, reduction: int = 16) -> nn.Module:
    """Squeeze-and-excitation on C channels: pool, FC C -> C/r, ReLU, FC back, sigmoid, scale."""
    c = _channels(input_shape)
    return SqueezeExcite(c, max(1, c // reduction))
