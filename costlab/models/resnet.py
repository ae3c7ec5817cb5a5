"""ResNet (v1 and v1.5), ResNeXt and SE-ResNet, built from their papers' tables.

The blocks are standalone: each is built from ``(in_channels, out_channels, ...)`` alone,
so the block library can study one at any input.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from costlab.models.blocks import ConvBNAct, SqueezeExcite
from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")
# The values are bare strings on purpose: published.csv's "v1" rows match a knob value "v1".
LAYOUT = Knob("layout", "v1.5", str,
              "where a downsampling bottleneck strides: v1.5 (torchvision) in the 3x3 conv, "
              "v1 (the paper) in the first 1x1 conv", choices=("v1.5", "v1"))
STRIDE_IN_3X3 = "v1.5"
STRIDE_IN_1X1 = "v1"

STAGE_CHANNELS = (64, 128, 256, 512)  # basic-block outputs = bottleneck widths (Table 1)
BOTTLENECK_EXPANSION = 4  # a bottleneck's output is 4x its width (Table 1)
BOTTLENECK_STAGE_CHANNELS = tuple(c * BOTTLENECK_EXPANSION for c in STAGE_CHANNELS)
STEM_CHANNELS = 64

# Blocks per stage (conv2_x .. conv5_x) of He et al. 2016, Table 1.
RESNET_DEPTHS = {
    18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3),
    101: (3, 4, 23, 3), 152: (3, 8, 36, 3),
}


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The shortcut: identity (None) when the shape is kept, else a 1x1 conv + BN
    (the paper's option B: projections only where the dimensions change)."""
    if stride == 1 and in_channels == out_channels:
        return None
    return ConvBNAct(in_channels, out_channels, 1, stride, activation=None)


class BasicBlock(nn.Module):
    """ResNet-18/34's residual block (He et al. 2016, Figure 5 left).

    3x3 conv (stride here) -> BN -> ReLU -> 3x3 conv -> BN, plus the shortcut, then ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = ConvBNAct(in_channels, out_channels, 3, stride)
        self.conv2 = ConvBNAct(out_channels, out_channels, 3, activation=None)
        self.shortcut = projection(in_channels, out_channels, stride)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        # the shortcut runs after the branch, as in torchvision (it matters for peak memory)
        return self.act(y + (x if self.shortcut is None else self.shortcut(x)))


class Bottleneck(nn.Module):
    """The bottleneck residual block (He et al. 2016, Figure 5 right), with the options of
    ResNeXt (Xie et al. 2017, Figure 3 c: a grouped 3x3) and SENet (Hu et al. 2018,
    Figure 3: squeeze-and-excitation on the residual branch, before the addition).

    1x1 conv to ``width`` -> BN -> ReLU -> 3x3 conv (``groups``) -> BN -> ReLU -> 1x1 conv
    to ``out_channels`` -> BN [-> SE], plus the shortcut, then ReLU. ``width`` defaults to
    ``out_channels / 4``. With ``stride_in_1x1`` the stride sits in the first 1x1 conv (the
    original ResNet, "v1"), else in the 3x3 conv (torchvision's "v1.5": the first 1x1
    then runs on the un-strided map, 4x the positions, and costs more).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 width: int | None = None, groups: int = 1, stride_in_1x1: bool = False,
                 se_reduction: int | None = None):
        super().__init__()
        width = out_channels // BOTTLENECK_EXPANSION if width is None else width
        if width % groups:
            raise ValueError(f"bottleneck width {width} is not divisible by groups={groups}")
        first_stride, middle_stride = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = ConvBNAct(in_channels, width, 1, first_stride)
        self.conv2 = ConvBNAct(width, width, 3, middle_stride, groups=groups)
        self.conv3 = ConvBNAct(width, out_channels, 1, activation=None)
        self.se = (SqueezeExcite(out_channels, out_channels // se_reduction)
                   if se_reduction else None)
        self.shortcut = projection(in_channels, out_channels, stride)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.conv2(self.conv1(x)))
        if self.se is not None:
            y = self.se(y)
        return self.act(y + (x if self.shortcut is None else self.shortcut(x)))


# (in_channels, out_channels, stride) -> block. Each stage's first block strides 2, except
# conv2_x's: the max pool before it has already halved the map.
BlockFactory = Callable[[int, int, int], nn.Module]


class ResNet(nn.Module):
    """Stem (7x7/2 conv 64 + BN + ReLU, 3x3/2 max pool), four stages, global average pool,
    FC. ``stage_channels`` are the stages' output channels."""

    def __init__(self, make_block: BlockFactory, depths: tuple[int, ...],
                 stage_channels: tuple[int, ...], num_classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict(
            conv=ConvBNAct(3, STEM_CHANNELS, 7, 2),
            pool=nn.MaxPool2d(3, 2, padding=1),
        ))
        in_channels = STEM_CHANNELS
        stages: list[nn.Module] = []
        for index, (depth, out_channels) in enumerate(zip(depths, stage_channels)):
            blocks = []
            for i in range(depth):
                stride = 2 if i == 0 and index > 0 else 1
                blocks.append(make_block(in_channels, out_channels, stride))
                in_channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet(depth: int, layout: str = STRIDE_IN_3X3, num_classes: int = 1000) -> ResNet:
    """ResNet-``depth`` of Table 1: basic blocks below 50 layers, bottlenecks from 50."""
    depths = RESNET_DEPTHS[depth]
    if depth < 50:
        return ResNet(BasicBlock, depths, STAGE_CHANNELS, num_classes)
    stride_in_1x1 = layout == STRIDE_IN_1X1

    def make_block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return Bottleneck(in_channels, out_channels, stride, stride_in_1x1=stride_in_1x1)

    return ResNet(make_block, depths, BOTTLENECK_STAGE_CHANNELS, num_classes)


_RESNET_REF = "He et al. 2016, ResNet, Table 1"
_RESNET_KNOBS = (LAYOUT, NUM_CLASSES)


@register_model(knobs=_RESNET_KNOBS, family="resnet", reference=_RESNET_REF)
def resnet18(layout: str = STRIDE_IN_3X3, num_classes: int = 1000) -> ResNet:
    """ResNet-18: [2, 2, 2, 2] basic blocks (He et al. 2016, Table 1).

    BN after every conv, convs without bias; a 1x1 projection + BN (stride 2) where the
    shape changes (option B). Both layouts build the same network: only bottlenecks place
    their stride differently.
    """
    return resnet(18, layout, num_classes)


@register_model(knobs=_RESNET_KNOBS, family="resnet", reference=_RESNET_REF)
def resnet34(layout: str = STRIDE_IN_3X3, num_classes: int = 1000) -> ResNet:
    """ResNet-34: [3, 4, 6, 3] basic blocks (He et al. 2016, Table 1).

    Built as resnet18, deeper. Both layouts build the same network. 3.66G MACs, which
    the paper prints as 3.6G.
    """
    return resnet(34, layout, num_classes)


@register_model(knobs=_RESNET_KNOBS, family="resnet", reference=_RESNET_REF)
def resnet50(layout: str = STRIDE_IN_3X3, num_classes: int = 1000) -> ResNet:
    """ResNet-50: [3, 4, 6, 3] bottlenecks (He et al. 2016, Table 1).

    Bottlenecks 1x1 / 3x3 / 1x1 with 4x expansion; BN after every conv, convs without
    bias; a 1x1 projection + BN where the shape changes (option B). Layout "v1.5"
    (default, torchvision) strides in the 3x3 conv of a downsampling bottleneck, 4.09G
    MACs; "v1" strides in its first 1x1 conv, as the original Caffe models did, 3.86G:
    the paper's 3.8G counts that layout.
    """
    return resnet(50, layout, num_classes)


@register_model(knobs=_RESNET_KNOBS, family="resnet", reference=_RESNET_REF)
def resnet101(layout: str = STRIDE_IN_3X3, num_classes: int = 1000) -> ResNet:
    """ResNet-101: [3, 4, 23, 3] bottlenecks (He et al. 2016, Table 1).

    Built as resnet50, deeper; the paper's 7.6G counts the "v1" layout.
    """
    return resnet(101, layout, num_classes)


@register_model(knobs=_RESNET_KNOBS, family="resnet", reference=_RESNET_REF)
def resnet152(layout: str = STRIDE_IN_3X3, num_classes: int = 1000) -> ResNet:
    """ResNet-152: [3, 8, 36, 3] bottlenecks (He et al. 2016, Table 1).

    Built as resnet50, deeper; the paper's 11.3G counts the "v1" layout.
    """
    return resnet(152, layout, num_classes)


RESNEXT_GROUPS = 32
RESNEXT_GROUP_WIDTH = 4  # the "4d" of 32x4d: channels per group at conv2_x


@register_model(knobs=(NUM_CLASSES,), family="resnet",
                reference="Xie et al. 2017, ResNeXt, Table 1")
def resnext50_32x4d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-50 (32x4d): ResNet-50's stages with grouped bottlenecks (Table 1).

    Bottleneck width 128 at conv2_x (32 groups x 4 channels), doubling per stage, outputs
    256..2048 as in ResNet-50; the 3x3 conv is a 32-group conv (Figure 3 c). The stride of
    a downsampling block sits in the 3x3 conv, torchvision's layout (the paper's
    implementation details, Section 4, describe the same).
    """

    def make_block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        # 128 at conv2_x, doubling with the stage's output channels
        stage_scale = out_channels // BOTTLENECK_STAGE_CHANNELS[0]
        width = RESNEXT_GROUPS * RESNEXT_GROUP_WIDTH * stage_scale
        return Bottleneck(in_channels, out_channels, stride, width=width, groups=RESNEXT_GROUPS)

    return ResNet(make_block, RESNET_DEPTHS[50], BOTTLENECK_STAGE_CHANNELS, num_classes)


SE_REDUCTION = 16


@register_model(knobs=(NUM_CLASSES,), family="resnet",
                reference="Hu et al. 2018, SENet, Table 1 and Figure 3")
def se_resnet50(num_classes: int = 1000) -> ResNet:
    """SE-ResNet-50: ResNet-50 with squeeze-and-excitation in every bottleneck (Table 1).

    SE (global pool, FC to C/16, ReLU, FC to C, sigmoid; built as 1x1 convs with bias,
    the same MACs and params) scales the residual branch before the addition (Figure 3).
    Downsampling bottlenecks stride in their first 1x1 conv, ResNet's v1 layout, as in the
    authors' Caffe models: that layout reproduces the paper's 3.87G (v1.5 would give 4.1G).
    """

    def make_block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return Bottleneck(in_channels, out_channels, stride, stride_in_1x1=True,
                          se_reduction=SE_REDUCTION)

    return ResNet(make_block, RESNET_DEPTHS[50], BOTTLENECK_STAGE_CHANNELS, num_classes)
