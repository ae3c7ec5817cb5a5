"""DenseNet, built from Huang et al. 2017, Table 1.

The blocks are standalone: each is built from ``in_channels`` and its own settings, so
the block library can study one at any input.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from costlab.models.blocks import ConvBNAct
from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")

DENSENET121_BLOCKS = (6, 12, 24, 16)  # dense layers per dense block (Table 1)
GROWTH_RATE = 32  # k: channels each dense layer adds
BOTTLENECK_SIZE = 4  # a DenseNet-B layer's 1x1 conv produces 4k channels
COMPRESSION = 0.5  # theta of DenseNet-C: a transition keeps half the channels
STEM_CHANNELS = 64  # 2k


def bn_relu_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """Pre-activation composite function H: BN -> ReLU -> conv (no bias, 'same' padding)."""
    return nn.Sequential(OrderedDict(
        norm=nn.BatchNorm2d(in_channels),
        act=nn.ReLU(),
        conv=nn.Conv2d(in_channels, out_channels, kernel_size,
                       padding=(kernel_size - 1) // 2, bias=False),
    ))


class DenseLayer(nn.Module):
    """One DenseNet-B layer: BN-ReLU-1x1 conv (``bottleneck_size`` x k) then BN-ReLU-3x3
    conv (k), whose k new maps are concatenated to its input: C in, C + k out.

    The concatenation is a real ``torch.cat`` so its copy is counted as data movement.
    """

    def __init__(self, in_channels: int, growth_rate: int = GROWTH_RATE,
                 bottleneck_size: int = BOTTLENECK_SIZE):
        super().__init__()
        self.bottleneck = bn_relu_conv(in_channels, bottleneck_size * growth_rate, 1)
        self.conv = bn_relu_conv(bottleneck_size * growth_rate, growth_rate, 3)
        self.out_channels = in_channels + growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(self.bottleneck(x))], 1)


class DenseBlock(nn.Sequential):
    """``num_layers`` dense layers in a row: each sees every earlier map (the running
    concatenation); C in, C + num_layers x k out."""

    def __init__(self, in_channels: int, num_layers: int, growth_rate: int = GROWTH_RATE,
                 bottleneck_size: int = BOTTLENECK_SIZE):
        layers = []
        for _ in range(num_layers):
            layers.append(DenseLayer(in_channels, growth_rate, bottleneck_size))
            in_channels = layers[-1].out_channels
        super().__init__(*layers)
        self.out_channels = in_channels


class Transition(nn.Sequential):
    """Between dense blocks: BN-ReLU-1x1 conv to ``out_channels`` (compression) then a
    2x2 average pool, stride 2."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(OrderedDict(
            compress=bn_relu_conv(in_channels, out_channels, 1),
            pool=nn.AvgPool2d(2, 2),
        ))
        self.out_channels = out_channels


class DenseNet(nn.Module):
    """Stem (7x7/2 conv 2k + BN + ReLU, 3x3/2 max pool), dense blocks with transitions
    between them, final BN + ReLU, global average pool, FC."""

    def __init__(self, block_layers: tuple[int, ...] = DENSENET121_BLOCKS,
                 growth_rate: int = GROWTH_RATE, bottleneck_size: int = BOTTLENECK_SIZE,
                 compression: float = COMPRESSION, stem_channels: int = STEM_CHANNELS,
                 num_classes: int = 1000):
        super().__init__()
        features: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvBNAct(3, stem_channels, 7, 2),
            stem_pool=nn.MaxPool2d(3, 2, padding=1),
        )
        channels = stem_channels
        for index, num_layers in enumerate(block_layers, start=1):
            block = DenseBlock(channels, num_layers, growth_rate, bottleneck_size)
            features[f"denseblock{index}"] = block
            channels = block.out_channels
            if index < len(block_layers):
                transition = Transition(channels, int(channels * compression))
                features[f"transition{index}"] = transition
                channels = transition.out_channels
        features["norm"] = nn.BatchNorm2d(channels)
        features["act"] = nn.ReLU()
        self.features = nn.Sequential(features)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@register_model(knobs=(NUM_CLASSES,), family="densenet",
                reference="Huang et al. 2017, DenseNet, Table 1")
def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121 (DenseNet-BC, k = 32): dense blocks of 6, 12, 24, 16 layers (Table 1).

    Dense layers are BN-ReLU-1x1 conv (4k) - BN-ReLU-3x3 conv (k); transitions are
    BN-ReLU-1x1 conv halving the channels (compression 0.5) then a 2x2 average pool.
    Stem 7x7/2 conv to 64 + BN + ReLU + 3x3/2 max pool; after the last block BN + ReLU,
    global average pool and a 1000-way FC, torchvision's layout where the table is silent.
    Each layer concatenates its k new maps to its input with torch.cat, so the copies
    count as data movement (torchvision re-concatenates the whole list in every layer; the
    MACs and params are the same).
    """
    return DenseNet(num_classes=num_classes)
