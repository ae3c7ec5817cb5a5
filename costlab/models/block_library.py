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

import torch
from torch import nn

from costlab.models.blocks import DepthwiseSeparable, InvertedResidual, SqueezeExcite
from costlab.models.densenet import DenseBlock
from costlab.models.inception import ConvReLU, InceptionModule
from costlab.models.nasnet import AmoebaNormalCell, NASNetNormalCell
from costlab.models.registry import Knob, register_model
from costlab.models.resnet import BasicBlock, Bottleneck

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


_GOOGLENET_3A = "Szegedy et al. 2015, GoogLeNet, Figure 2 and Table 1 (inception 3a, 28x28x192)"


class NaiveInception(nn.Module):
    """The naive Inception module (GoogLeNet Figure 2a): 1x1, 3x3 and 5x5 convs and a 3x3
    max pool side by side on the same input, concatenated. Without the 1x1 reductions the
    5x5 branch runs on all C input channels, and the pooled branch passes C channels on."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int):
        super().__init__()
        self.branch1x1 = ConvReLU(in_channels, ch1x1, 1)
        self.branch3x3 = ConvReLU(in_channels, ch3x3, 3)
        self.branch5x5 = ConvReLU(in_channels, ch5x5, 5)
        self.branch_pool = nn.MaxPool2d(3, 1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), self.branch3x3(x), self.branch5x5(x),
                          self.branch_pool(x)], 1)


@block("inception_naive", input_shape=(192, 28, 28), reference=_GOOGLENET_3A)
def inception_naive(input_shape) -> nn.Module:
    """GoogLeNet's inception 3a branch widths (64, 128, 32) without the 1x1 reductions."""
    return NaiveInception(_channels(input_shape), 64, 128, 32)


@block("inception_reduced", input_shape=(192, 28, 28), reference=_GOOGLENET_3A)
def inception_reduced(input_shape) -> nn.Module:
    """GoogLeNet's inception 3a: 1x1 64; 1x1 96 -> 3x3 128; 1x1 16 -> 5x5 32; pool -> 1x1 32."""
    return InceptionModule(_channels(input_shape), 64, 96, 128, 16, 32, 32)


_RESNET = "He et al. 2016, ResNet, Figure 5"


@block("residual", input_shape=(64, 56, 56), reference=_RESNET + " left")
def residual(input_shape) -> nn.Module:
    """ResNet's basic block: two 3x3 convs with BN and ReLU, identity shortcut, C -> C."""
    c = _channels(input_shape)
    return BasicBlock(c, c)


@block("bottleneck", input_shape=(256, 56, 56), reference=_RESNET + " right")
def bottleneck(input_shape) -> nn.Module:
    """ResNet's bottleneck: 1x1 down to C/4, 3x3, 1x1 back up to C, identity shortcut."""
    c = _channels(input_shape)
    return Bottleneck(c, c)


@block("resnext", input_shape=(256, 56, 56),
       knobs=(Knob("cardinality", 32, int, "groups of the 3x3 conv"),
              Knob("group_width", 4, int, "channels per group (the d of 32x4d)")),
       reference="Xie et al. 2017, ResNeXt, Figure 3c")
def resnext(input_shape, cardinality: int = 32, group_width: int = 4) -> nn.Module:
    """ResNeXt's block: a bottleneck whose 3x3 conv is grouped, width cardinality x d."""
    c = _channels(input_shape)
    return Bottleneck(c, c, width=cardinality * group_width, groups=cardinality)


@block("dense", input_shape=(64, 56, 56),
       knobs=(Knob("layers", 6, int, "dense layers in the block"),
              Knob("growth", 32, int, "growth rate k")),
       reference="Huang et al. 2017, DenseNet, Figure 2 and Table 1 (dense block 1)")
def dense(input_shape, layers: int = 6, growth: int = 32) -> nn.Module:
    """A DenseNet-B block: each layer (BN-ReLU-1x1 4k, BN-ReLU-3x3 k) adds k channels."""
    return DenseBlock(_channels(input_shape), layers, growth)


FILTERS = Knob("filters", 44, int, "the cell's filter count F")


@block("nasnet_normal", input_shape=(264, 28, 28), knobs=(FILTERS,),
       reference="Zoph et al. 2018, NASNet, Figure 4 (NASNet-A normal cell)")
def nasnet_normal(input_shape, filters: int = 44) -> nn.Module:
    """NASNet-A's normal cell fed the input as both hidden states; outputs 6F channels.

    Five branch pairs of separable convs, pools and identities, added pairwise and
    concatenated: the fragmented block ShuffleNet V2's G3 warns about.
    """
    c = _channels(input_shape)
    return NASNetNormalCell(c, c, filters)


@block("amoebanet_normal", input_shape=(200, 28, 28),
       knobs=(Knob("filters", 50, int, "the cell's filter count F"),),
       reference="Real et al. 2019, AmoebaNet, Figure 4 (AmoebaNet-A normal cell)")
def amoebanet_normal(input_shape, filters: int = 50) -> nn.Module:
    """AmoebaNet-A's normal cell fed the input as both hidden states; outputs 4F channels."""
    c = _channels(input_shape)
    return AmoebaNormalCell(c, c, filters)
