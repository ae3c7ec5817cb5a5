"""The classic plain networks: VGG, AlexNet and SqueezeNet, from their papers' tables.

None of them has BatchNorm: every conv and FC layer carries a bias, as in the papers.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")
# Bare strings on purpose: published.csv's "v1.0" row matches a knob value "v1.0".
SQUEEZENET_VERSION = Knob("version", "v1.0", str,
                          "v1.0 (the paper's Table 1) or v1.1 (the authors' cheaper revision: "
                          "3x3 stem with 64 filters, pools moved earlier)",
                          choices=("v1.0", "v1.1"))

POOL = "M"  # a 2x2/2 max pool in a VGG configuration

# Simonyan and Zisserman 2015, Table 1: 3x3 conv output channels, "M" for max pool.
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "A": (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    "B": (64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    "D": (64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL,
          512, 512, 512, POOL),
    "E": (64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL,
          512, 512, 512, 512, POOL),
}
FC_WIDTH = 4096  # VGG's and AlexNet's two hidden FC layers


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int = 0) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU()]


def fc_classifier(in_features: int, num_classes: int) -> nn.Sequential:
    """FC-4096, FC-4096, FC-classes, ReLU and dropout 0.5 after each hidden layer (VGG
    and AlexNet; dropout is free in an eval-mode count, so its place does not matter)."""
    return nn.Sequential(
        nn.Linear(in_features, FC_WIDTH), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(FC_WIDTH, FC_WIDTH), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(FC_WIDTH, num_classes),
    )


# --- VGG -----------------------------------------------------------------------------------

class VGG(nn.Module):
    def __init__(self, config: tuple[int | str, ...], num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for item in config:
            if item == POOL:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += conv_relu(in_channels, int(item), 3, padding=1)
                in_channels = int(item)
        self.features = nn.Sequential(*layers)
        # identity at 224 (the map is already 7x7); keeps the FC input at other resolutions
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.classifier = fc_classifier(in_channels * 7 * 7, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


_VGG_REF = "Simonyan and Zisserman 2015, VGG, Table 1"
_VGG_DOC = """

    3x3 convs (stride 1, padding 1, with bias) each followed by ReLU, five 2x2/2 max pools,
    then FC-4096, FC-4096, FC-1000 with dropout 0.5 (Section 2.1); no BatchNorm. Before the
    FC layers sits torchvision's adaptive 7x7 average pool: an identity at 224 (its
    element-wise FLOPs are all it adds), and what keeps the FC input 512x7x7 at other
    resolutions (the paper converts the FC layers to convs for dense evaluation instead).
    """


@register_model(knobs=(NUM_CLASSES,), family="vgg", reference=_VGG_REF + ", config A")
def vgg11(num_classes: int = 1000) -> VGG:
    return VGG(VGG_CONFIGS["A"], num_classes)


@register_model(knobs=(NUM_CLASSES,), family="vgg", reference=_VGG_REF + ", config B")
def vgg13(num_classes: int = 1000) -> VGG:
    return VGG(VGG_CONFIGS["B"], num_classes)


@register_model(knobs=(NUM_CLASSES,), family="vgg", reference=_VGG_REF + ", config D")
def vgg16(num_classes: int = 1000) -> VGG:
    return VGG(VGG_CONFIGS["D"], num_classes)


@register_model(knobs=(NUM_CLASSES,), family="vgg", reference=_VGG_REF + ", config E")
def vgg19(num_classes: int = 1000) -> VGG:
    return VGG(VGG_CONFIGS["E"], num_classes)


vgg11.__doc__ = "VGG-11: Table 1's configuration A (8 conv layers + 3 FC)." + _VGG_DOC
vgg13.__doc__ = "VGG-13: Table 1's configuration B (10 conv layers + 3 FC)." + _VGG_DOC
vgg16.__doc__ = "VGG-16: Table 1's configuration D (13 conv layers + 3 FC)." + _VGG_DOC
vgg19.__doc__ = "VGG-19: Table 1's configuration E (16 conv layers + 3 FC)." + _VGG_DOC


# --- AlexNet -------------------------------------------------------------------------------

class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        # 224 -> 55 -> pool 27 -> 27 -> pool 13 -> 13 -> 13 -> 13 -> pool 6
        self.features = nn.Sequential(
            *conv_relu(3, 64, 11, stride=4, padding=2), nn.MaxPool2d(3, 2),
            *conv_relu(64, 192, 5, padding=2), nn.MaxPool2d(3, 2),
            *conv_relu(192, 384, 3, padding=1),
            *conv_relu(384, 256, 3, padding=1),
            *conv_relu(256, 256, 3, padding=1), nn.MaxPool2d(3, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d(6)
        self.classifier = fc_classifier(256 * 6 * 6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@register_model(knobs=(NUM_CLASSES,), family="alexnet",
                reference="Krizhevsky et al. 2012, AlexNet, Figure 2 (torchvision's layout)")
def alexnet(num_classes: int = 1000) -> AlexNet:
    """AlexNet in torchvision's single-tower layout (from Krizhevsky's "one weird trick"
    revision): five convs with 64-192-384-256-256 channels (11x11/4 padding 2, 5x5, three
    3x3), max pools 3x3/2 after conv 1, 2 and 5, an adaptive 6x6 average pool (an
    identity at 224), then FC-4096, FC-4096, FC-1000 with dropout; ReLU everywhere, no
    BatchNorm, no local response normalization.

    The 2012 paper's Figure 2 network is split over two GPUs: 96-256-384-384-256 filters,
    with conv 2, 4 and 5 seeing only their own tower's half of the channels (groups of 2).
    Its FC layers are the same, and they hold 58.6M of the ~61M params either way.
    """
    return AlexNet(num_classes)


# --- SqueezeNet ----------------------------------------------------------------------------

class Fire(nn.Module):
    """The fire module (Iandola et al. 2016, Figure 1): a 1x1 squeeze conv, then 1x1 and
    3x3 expand convs side by side, concatenated; ReLU after every conv."""

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Sequential(*conv_relu(in_channels, squeeze, 1))
        self.expand1x1 = nn.Sequential(*conv_relu(squeeze, expand1x1, 1))
        self.expand3x3 = nn.Sequential(*conv_relu(squeeze, expand3x3, 3, padding=1))
        self.out_channels = expand1x1 + expand3x3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat((self.expand1x1(x), self.expand3x3(x)), 1)


# Fire modules as (squeeze, expand 1x1, expand 3x3), "M" for a 3x3/2 max pool.
# v1.0: Table 1 (fire2..fire9, pools after conv1, fire4, fire8).
# v1.1: the authors' SqueezeNet_v1.1 (pools after conv1, fire3, fire5).
SQUEEZENET_LAYOUTS: dict[str, tuple[tuple[int, int, int] | str, ...]] = {
    "v1.0": (POOL, (16, 64, 64), (16, 64, 64), (32, 128, 128), POOL, (32, 128, 128),
             (48, 192, 192), (48, 192, 192), (64, 256, 256), POOL, (64, 256, 256)),
    "v1.1": (POOL, (16, 64, 64), (16, 64, 64), POOL, (32, 128, 128), (32, 128, 128), POOL,
             (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)),
}
# conv1: (filters, kernel) per version, stride 2, no padding
SQUEEZENET_STEMS = {"v1.0": (96, 7), "v1.1": (64, 3)}


class SqueezeNet(nn.Module):
    def __init__(self, version: str = "v1.0", num_classes: int = 1000):
        super().__init__()
        stem_channels, stem_kernel = SQUEEZENET_STEMS[version]
        layers: list[nn.Module] = conv_relu(3, stem_channels, stem_kernel, stride=2)
        in_channels = stem_channels
        for item in SQUEEZENET_LAYOUTS[version]:
            if item == POOL:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))  # Caffe rounds up
            else:
                fire = Fire(in_channels, *item)
                layers.append(fire)
                in_channels = fire.out_channels
        self.features = nn.Sequential(*layers)
        # conv10: a 1x1 conv to the classes, then a global average pool (no FC layer)
        self.classifier = nn.Sequential(OrderedDict(
            dropout=nn.Dropout(0.5),
            conv=nn.Conv2d(in_channels, num_classes, 1),
            act=nn.ReLU(),
            pool=nn.AdaptiveAvgPool2d(1),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


@register_model(knobs=(SQUEEZENET_VERSION, NUM_CLASSES), family="squeezenet",
                reference="Iandola et al. 2016, SqueezeNet, Table 1")
def squeezenet(version: str = "v1.0", num_classes: int = 1000) -> SqueezeNet:
    """SqueezeNet: a 7x7/2 conv (96), eight fire modules with max pools after conv1,
    fire4 and fire8, dropout 0.5, conv10 (1x1 to the classes) + ReLU, global average pool
    (Table 1, v1.0). v1.1 is the authors' revision from their repository (and
    torchvision's): a 3x3/2 conv with 64 filters and the pools after conv1, fire3 and
    fire5, for about 2.4x fewer MACs at the same accuracy.

    Max pools round up (Caffe's rule). The input is 224 as in torchvision (Table 1's
    111x111 conv1 output implies a 227 input: at 224 the grids are 109, 54, 27, 13).
    The paper's optional bypass connections are not built (Table 1's plain network).
    """
    return SqueezeNet(version, num_classes)
