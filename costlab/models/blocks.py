"""Building blocks shared by the model families (and, later, the block library)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import torch
from torch import nn


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor``, never more than 10% below ``value``.

    The rule of the MobileNet V2 reference implementations (TF-slim, torchvision).
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNAct(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> activation, 'same' padding for odd kernels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, groups: int = 1,
                 activation: Callable[[], nn.Module] | None = nn.ReLU):
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                   padding=(kernel_size - 1) // 2, groups=groups, bias=False)
        layers["bn"] = nn.BatchNorm2d(out_channels)
        if activation is not None:
            layers["act"] = activation()
        super().__init__(layers)


class DepthwiseSeparable(nn.Sequential):
    """MobileNet V1's unit: 3x3 depthwise conv, then 1x1 pointwise conv, each with BN + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 activation: Callable[[], nn.Module] = nn.ReLU):
        super().__init__(OrderedDict(
            dw=ConvBNAct(in_channels, in_channels, 3, stride, groups=in_channels,
                         activation=activation),
            pw=ConvBNAct(in_channels, out_channels, 1, activation=activation),
        ))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion (absent when it would not widen), kxk depthwise,
    an optional squeeze-and-excite on the expanded channels, linear 1x1 projection; a
    residual add when the stride is 1 and the channel counts match."""

    def __init__(self, in_channels: int, expanded: int, out_channels: int, kernel_size: int,
                 stride: int, activation: Callable[[], nn.Module],
                 squeeze_excite: nn.Module | None = None):
        super().__init__()
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if expanded != in_channels:
            layers["expand"] = ConvBNAct(in_channels, expanded, 1, activation=activation)
        layers["dw"] = ConvBNAct(expanded, expanded, kernel_size, stride, groups=expanded,
                                 activation=activation)
        if squeeze_excite is not None:
            layers["se"] = squeeze_excite
        layers["project"] = ConvBNAct(expanded, out_channels, 1, activation=None)
        self.conv = nn.Sequential(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_residual else y


class InvertedResidual(MBConv):
    """MobileNet V2's bottleneck (Sandler et al. 2018, Table 1): an MBConv with a 3x3
    depthwise conv, ReLU6 and no squeeze-and-excite.

    1x1 expansion by ``expand_ratio`` (absent when the ratio is 1), 3x3 depthwise, linear
    1x1 projection; a residual add when the stride is 1 and the channel counts match.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: float,
                 activation: Callable[[], nn.Module] = nn.ReLU6):
        super().__init__(in_channels, int(round(in_channels * expand_ratio)), out_channels, 3,
                         stride, activation)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): global average pool, a 1x1 conv down to
    ``squeeze_channels`` with ``activation``, a 1x1 conv back up, a ``gate`` and a
    channel-wise multiply. 1x1 convs with bias, as torchvision builds it; the same MACs
    and params as SENet's two FC layers."""

    def __init__(self, channels: int, squeeze_channels: int,
                 activation: Callable[[], nn.Module] = nn.ReLU,
                 gate: Callable[[], nn.Module] = nn.Sigmoid):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = activation()
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))
