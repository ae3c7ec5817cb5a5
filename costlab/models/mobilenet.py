"""MobileNet V1 and V2, built from their papers' architecture tables."""

from __future__ import annotations

import torch
from torch import nn

from costlab.models.blocks import ConvBNAct, DepthwiseSeparable, InvertedResidual, make_divisible
from costlab.models.registry import Knob, register_model

WIDTH = Knob("width", 1.0, float, "width multiplier alpha: scales every layer's channels")
NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")

# (stride, output channels) of the 13 depthwise-separable layers of Table 1.
MOBILENET_V1_LAYERS = (
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
    (1, 512), (1, 512), (1, 512), (1, 512), (1, 512),
    (2, 1024), (1, 1024),
)

# (expansion t, output channels c, repeats n, first stride s) of Table 2.
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


class MobileNetV1(nn.Module):
    def __init__(self, width: float = 1.0, num_classes: int = 1000):
        super().__init__()

        def channels(c: int) -> int:
            # TF-slim's rule (the paper gives none): truncate, never below 8
            return max(int(c * width), 8)

        layers: list[nn.Module] = [ConvBNAct(3, channels(32), 3, 2)]
        in_channels = channels(32)
        for stride, out in MOBILENET_V1_LAYERS:
            layers.append(DepthwiseSeparable(in_channels, channels(out), stride))
            in_channels = channels(out)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class MobileNetV2(nn.Module):
    def __init__(self, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        in_channels = make_divisible(32 * width)
        last_channels = make_divisible(1280 * max(1.0, width))
        layers: list[nn.Module] = [ConvBNAct(3, in_channels, 3, 2, activation=nn.ReLU6)]
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            out = make_divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(in_channels, out, s if i == 0 else 1, t))
                in_channels = out
        layers.append(ConvBNAct(in_channels, last_channels, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@register_model(knobs=(WIDTH, NUM_CLASSES), family="mobilenet",
                reference="Howard et al. 2017, MobileNets, Table 1")
def mobilenet_v1(width: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    """MobileNet V1: 13 depthwise-separable layers (Table 1), width multiplier alpha.

    Every conv is followed by BatchNorm and ReLU, as the paper's Figure 3 shows. Channels
    under a width multiplier are truncated to integers and kept >= 8 (TF-slim's rule; the
    paper gives none). Table 1's last depthwise layer is listed with stride 2 but keeps the
    7x7 map, so it is built with stride 1, as in every reference implementation. The final
    softmax row is left out: it has no MACs or params, and the network is counted up to its
    logits.
    """
    return MobileNetV1(width, num_classes)


@register_model(knobs=(WIDTH, NUM_CLASSES), family="mobilenet",
                reference="Sandler et al. 2018, MobileNetV2, Table 2")
def mobilenet_v2(width: float = 1.0, num_classes: int = 1000) -> MobileNetV2:
    """MobileNet V2: inverted residuals with linear bottlenecks (Table 2).

    Channels under a width multiplier are rounded to multiples of 8 and the last 1x1 conv
    is never narrowed below 1280 (the paper's text and its reference code). The paper's
    classifier is a 1x1 conv after average pooling; it is built as the equivalent Linear,
    with torchvision's layout (Dropout 0.2 before it) where the paper is silent.
    """
    return MobileNetV2(width, num_classes)
