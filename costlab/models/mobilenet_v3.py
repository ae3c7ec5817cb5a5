"""MobileNet V3 Large and Small, built from Tables 1 and 2 of Howard et al. 2019.

Its blocks are ``MBConv`` (costlab.models.blocks), the inverted residual with an optional
squeeze-and-excite that MobileNet V3 and EfficientNet share (both inherit it from MnasNet).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from costlab.models.blocks import ConvBNAct, MBConv, SqueezeExcite, make_divisible
from costlab.models.registry import Knob, register_model

WIDTH = Knob("width", 1.0, float,
             "width multiplier: scales every layer's channels (published: 0.75, 1.0)")
NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")

class Bneck(NamedTuple):
    """One row of Tables 1/2: kernel, expansion size, output channels, SE, NL, stride."""

    kernel: int
    expanded: int
    out: int
    se: bool
    hswish: bool  # NL column: HS (h-swish) or RE (ReLU)
    stride: int


# Table 1 (Large): the 15 bneck rows; the input of each is the previous row's output.
LARGE_BNECKS = (
    Bneck(3, 16, 16, False, False, 1),
    Bneck(3, 64, 24, False, False, 2),
    Bneck(3, 72, 24, False, False, 1),
    Bneck(5, 72, 40, True, False, 2),
    Bneck(5, 120, 40, True, False, 1),
    Bneck(5, 120, 40, True, False, 1),
    Bneck(3, 240, 80, False, True, 2),
    Bneck(3, 200, 80, False, True, 1),
    Bneck(3, 184, 80, False, True, 1),
    Bneck(3, 184, 80, False, True, 1),
    Bneck(3, 480, 112, True, True, 1),
    Bneck(3, 672, 112, True, True, 1),
    Bneck(5, 672, 160, True, True, 2),
    Bneck(5, 960, 160, True, True, 1),
    Bneck(5, 960, 160, True, True, 1),
)

# Table 2 (Small): the 11 bneck rows.
SMALL_BNECKS = (
    Bneck(3, 16, 16, True, False, 2),
    Bneck(3, 72, 24, False, False, 2),
    Bneck(3, 88, 24, False, False, 1),
    Bneck(5, 96, 40, True, True, 2),
    Bneck(5, 240, 40, True, True, 1),
    Bneck(5, 240, 40, True, True, 1),
    Bneck(5, 120, 48, True, True, 1),
    Bneck(5, 144, 48, True, True, 1),
    Bneck(5, 288, 96, True, True, 2),
    Bneck(5, 576, 96, True, True, 1),
    Bneck(5, 576, 96, True, True, 1),
)


class MobileNetV3(nn.Module):
    def __init__(self, bnecks: tuple[Bneck, ...], last_conv: int, last_channels: int,
                 width: float = 1.0, num_classes: int = 1000):
        super().__init__()

        def channels(c: float) -> int:
            return make_divisible(c * width)

        in_channels, table_in = channels(16), 16
        layers: list[nn.Module] = [ConvBNAct(3, in_channels, 3, 2, activation=nn.Hardswish)]
        for row in bnecks:
            # the reference code states expansions as factors of the (rounded) input: the
            # table's size at width 1.0, wider than the scaled size at 0.75 (72 vs 56)
            expanded = make_divisible(in_channels * row.expanded / table_in)
            out = channels(row.out)
            activation = nn.Hardswish if row.hswish else nn.ReLU
            se = (SqueezeExcite(expanded, make_divisible(expanded / 4), nn.ReLU, nn.Hardsigmoid)
                  if row.se else None)
            layers.append(MBConv(in_channels, expanded, out, row.kernel, row.stride,
                                 activation, se))
            in_channels, table_in = out, row.out
        layers.append(ConvBNAct(in_channels, channels(last_conv), 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        # the tables' 1x1 "conv2d, NBN" on the pooled 1x1 map, built as the equivalent Linear;
        # never narrowed below the table's width (as MobileNet V2's last conv)
        head = make_divisible(last_channels * max(1.0, width))
        self.classifier = nn.Sequential(
            nn.Linear(channels(last_conv), head),
            nn.Hardswish(),
            nn.Dropout(0.2),
            nn.Linear(head, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@register_model(knobs=(WIDTH, NUM_CLASSES), family="mobilenet",
                reference="Howard et al. 2019, Searching for MobileNetV3, Table 1")
def mobilenet_v3_large(width: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    """MobileNet V3 Large: 15 bneck blocks with SE and h-swish where Table 1 says so.

    SE squeezes the expanded channels to make_divisible(expanded / 4, 8) with ReLU and a
    hard-sigmoid gate (Section 5.3). Channels are make_divisible(c * width, 8). Under a
    width multiplier the authors' reference code (TF-slim mobilenet_v3), which measured
    Table 3's 0.75 rows, differs from torchvision in two ways, and is followed: an
    expansion is a factor of the block's rounded input (make_divisible(in * 72 / 24, 8)),
    not the scaled table size, and the 1280-wide layer after pooling is never narrowed
    (its fine-grain classification mode, as MobileNet V2). At width 1.0 all agree with
    torchvision. As torchvision: a 3x3 stride-2 h-swish stem; the "conv2d 1x1, NBN" after
    pooling is a Linear with h-swish, then Dropout 0.2 and the classifier Linear.
    """
    return MobileNetV3(LARGE_BNECKS, 960, 1280, width, num_classes)


@register_model(knobs=(WIDTH, NUM_CLASSES), family="mobilenet",
                reference="Howard et al. 2019, Searching for MobileNetV3, Table 2")
def mobilenet_v3_small(width: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    """MobileNet V3 Small: 11 bneck blocks with SE and h-swish where Table 2 says so.

    The rules of ``mobilenet_v3_large``, with Table 2's 576-wide last conv (scaled by
    width) and 1024-wide layer after pooling (never narrowed).
    """
    return MobileNetV3(SMALL_BNECKS, 576, 1024, width, num_classes)
