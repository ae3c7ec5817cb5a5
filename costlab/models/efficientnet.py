"""EfficientNet B0 to B7: Table 1's B0 scaled by the compound coefficients of Tan and Le 2019."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from costlab.models.blocks import ConvBNAct, SqueezeExcite, make_divisible
from costlab.models.blocks import MBConv
from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")


class Stage(NamedTuple):
    """One row of Table 1 (stages 2 to 8): MBConv expansion, kernel, first stride,
    output channels, layers."""

    expand_ratio: int
    kernel: int
    stride: int
    out: int
    repeats: int


B0_STAGES = (
    Stage(1, 3, 1, 16, 1),
    Stage(6, 3, 2, 24, 2),
    Stage(6, 5, 2, 40, 2),
    Stage(6, 3, 2, 80, 3),
    Stage(6, 5, 1, 112, 3),
    Stage(6, 5, 2, 192, 4),
    Stage(6, 3, 1, 320, 1),
)


class Scaling(NamedTuple):
    """A variant's width and depth coefficients, input resolution and dropout rate."""

    width: float
    depth: float
    resolution: int
    dropout: float


# Width/depth/resolution of the official release (the paper gives phi, not each value);
# dropout rises from 0.2 (B0) to 0.5 (B7) as Section 5.2 says, in torchvision's steps.
SCALINGS = {
    "b0": Scaling(1.0, 1.0, 224, 0.2),
    "b1": Scaling(1.0, 1.1, 240, 0.2),
    "b2": Scaling(1.1, 1.2, 260, 0.3),
    "b3": Scaling(1.2, 1.4, 300, 0.3),
    "b4": Scaling(1.4, 1.8, 380, 0.4),
    "b5": Scaling(1.6, 2.2, 456, 0.4),
    "b6": Scaling(1.8, 2.6, 528, 0.5),
    "b7": Scaling(2.0, 3.1, 600, 0.5),
}


class EfficientNet(nn.Module):
    def __init__(self, scaling: Scaling, num_classes: int = 1000):
        super().__init__()

        def channels(c: int) -> int:
            return make_divisible(c * scaling.width)

        in_channels = channels(32)
        layers: list[nn.Module] = [ConvBNAct(3, in_channels, 3, 2, activation=nn.SiLU)]
        for stage in B0_STAGES:
            out = channels(stage.out)
            blocks: list[nn.Module] = []
            for i in range(math.ceil(stage.repeats * scaling.depth)):
                expanded = make_divisible(in_channels * stage.expand_ratio)
                # squeezed relative to the block's input, not its expansion (unlike V3)
                se = SqueezeExcite(expanded, max(1, in_channels // 4), nn.SiLU, nn.Sigmoid)
                blocks.append(MBConv(in_channels, expanded, out, stage.kernel,
                                     stage.stride if i == 0 else 1, nn.SiLU, se))
                in_channels = out
            layers.append(nn.Sequential(*blocks))
        head = 4 * in_channels  # 1280 * width, rounded: torchvision's 4 x last stage
        layers.append(ConvBNAct(in_channels, head, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(scaling.dropout),
                                        nn.Linear(head, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def _register(variant: str) -> None:
    """Register ``efficientnet_<variant>`` with its own default resolution."""
    scaling = SCALINGS[variant]

    def build(num_classes: int = 1000) -> EfficientNet:
        return EfficientNet(scaling, num_classes)

    build.__doc__ = (
        f"EfficientNet-{variant.upper()}: width x{scaling.width}, depth x{scaling.depth}, "
        f"{scaling.resolution}x{scaling.resolution} input.\n\n"
        "Table 1's B0 scaled by compound coefficients: channels make_divisible(c * width, 8),"
        " stage repeats ceil(n * depth). MBConv: 1x1 expansion (none for ratio 1), kxk "
        "depthwise, squeeze-and-excite to max(1, input channels // 4) with SiLU and a "
        "sigmoid gate, linear 1x1 projection, residual where shapes allow; SiLU (swish) "
        "everywhere. Where the paper is silent, torchvision's layout: a 3x3 stride-2 stem "
        "of 32 * width, a 1x1 head conv of 4x the last stage's channels (1280 * width), "
        "average pooling, dropout and a Linear classifier.")
    build.__name__ = build.__qualname__ = f"efficientnet_{variant}"
    register_model(knobs=(NUM_CLASSES,),
                   input_shape=(3, scaling.resolution, scaling.resolution),
                   family="efficientnet",
                   reference="Tan and Le 2019, EfficientNet, Table 1")(build)


for _variant in SCALINGS:
    _register(_variant)
