"""Inception v3 and GoogLeNet (Inception v1), built from their papers' tables.

Inception v3 follows Szegedy et al. 2016 (Table 1, Figures 5-7 and 10) with torchvision's
channel counts where the paper is silent; GoogLeNet follows Szegedy et al. 2015, Table 1.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")
AUX_LOGITS = Knob("aux_logits", False, bool,
                  "count Inception v3's auxiliary classifier (a training-time head) too")

Kernel = int | tuple[int, int]
Padding = int | tuple[int, int]

# --- Inception v3 ------------------------------------------------------------------------

BN_EPS = 0.001  # the reference implementations' BatchNorm epsilon (TF's default)


class BasicConv(nn.Sequential):
    """Conv (no bias) -> BatchNorm (eps 0.001) -> ReLU, with explicit padding: Inception
    v3 mixes 'valid' convs (the stem, the grid reductions) with 'same' ones."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Kernel,
                 stride: int = 1, padding: Padding = 0):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            bn=nn.BatchNorm2d(out_channels, eps=BN_EPS),
            act=nn.ReLU(),
        ))


def _concat(*branches: torch.Tensor) -> torch.Tensor:
    return torch.cat(branches, 1)


class InceptionA(nn.Module):
    """The 35x35 module (Figure 5): the 5x5 of GoogLeNet's module replaced by two 3x3s,
    plus torchvision's 5x5 branch. Output 64 + 64 + 96 + ``pool_features`` channels."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv(in_channels, 64, 1)
        self.branch5x5 = nn.Sequential(BasicConv(in_channels, 48, 1),
                                       BasicConv(48, 64, 5, padding=2))
        self.branch3x3dbl = nn.Sequential(BasicConv(in_channels, 64, 1),
                                          BasicConv(64, 96, 3, padding=1),
                                          BasicConv(96, 96, 3, padding=1))
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, padding=1),
                                         BasicConv(in_channels, pool_features, 1))
        self.out_channels = 64 + 64 + 96 + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.branch1x1(x), self.branch5x5(x), self.branch3x3dbl(x),
                       self.branch_pool(x))


class InceptionB(nn.Module):
    """Grid reduction 35x35 -> 17x17 (Figure 10): stride-2 conv branches beside a stride-2
    max pool, so the grid shrinks while the channels grow (288 -> 768)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv(in_channels, 384, 3, stride=2)
        self.branch3x3dbl = nn.Sequential(BasicConv(in_channels, 64, 1),
                                          BasicConv(64, 96, 3, padding=1),
                                          BasicConv(96, 96, 3, stride=2))
        self.branch_pool = nn.MaxPool2d(3, 2)
        self.out_channels = 384 + 96 + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(x))


class InceptionC(nn.Module):
    """The 17x17 module (Figure 6): 7x7 convs factorized into 1x7 then 7x1, with
    ``channels_7x7`` channels inside the factorized branches. Output 4 x 192 = 768."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv(in_channels, 192, 1)
        self.branch7x7 = nn.Sequential(BasicConv(in_channels, c7, 1),
                                       BasicConv(c7, c7, (1, 7), padding=(0, 3)),
                                       BasicConv(c7, 192, (7, 1), padding=(3, 0)))
        self.branch7x7dbl = nn.Sequential(BasicConv(in_channels, c7, 1),
                                          BasicConv(c7, c7, (7, 1), padding=(3, 0)),
                                          BasicConv(c7, c7, (1, 7), padding=(0, 3)),
                                          BasicConv(c7, c7, (7, 1), padding=(3, 0)),
                                          BasicConv(c7, 192, (1, 7), padding=(0, 3)))
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, padding=1),
                                         BasicConv(in_channels, 192, 1))
        self.out_channels = 4 * 192

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.branch1x1(x), self.branch7x7(x), self.branch7x7dbl(x),
                       self.branch_pool(x))


class InceptionD(nn.Module):
    """Grid reduction 17x17 -> 8x8 (torchvision's layout of the paper's second reduction):
    768 -> 320 + 192 + 768 = 1280 channels."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = nn.Sequential(BasicConv(in_channels, 192, 1),
                                       BasicConv(192, 320, 3, stride=2))
        self.branch7x7x3 = nn.Sequential(BasicConv(in_channels, 192, 1),
                                         BasicConv(192, 192, (1, 7), padding=(0, 3)),
                                         BasicConv(192, 192, (7, 1), padding=(3, 0)),
                                         BasicConv(192, 192, 3, stride=2))
        self.branch_pool = nn.MaxPool2d(3, 2)
        self.out_channels = 320 + 192 + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.branch3x3(x), self.branch7x7x3(x), self.branch_pool(x))


class SplitConv(nn.Module):
    """A 1x3 and a 3x1 conv side by side on the same input, concatenated (Figure 7's
    expanded filter bank): 2 x ``out_channels`` outputs."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1x3 = BasicConv(in_channels, out_channels, (1, 3), padding=(0, 1))
        self.conv3x1 = BasicConv(in_channels, out_channels, (3, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.conv1x3(x), self.conv3x1(x))


class InceptionE(nn.Module):
    """The 8x8 module (Figure 7): wide split 1x3 / 3x1 branches, for high-dimensional
    representations on the coarsest grid. Output 320 + 768 + 768 + 192 = 2048."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = BasicConv(in_channels, 320, 1)
        self.branch3x3 = nn.Sequential(BasicConv(in_channels, 384, 1), SplitConv(384, 384))
        self.branch3x3dbl = nn.Sequential(BasicConv(in_channels, 448, 1),
                                          BasicConv(448, 384, 3, padding=1),
                                          SplitConv(384, 384))
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, padding=1),
                                         BasicConv(in_channels, 192, 1))
        self.out_channels = 320 + 2 * 384 + 2 * 384 + 192

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.branch1x1(x), self.branch3x3(x), self.branch3x3dbl(x),
                       self.branch_pool(x))


class InceptionAux(nn.Module):
    """The auxiliary classifier on the 17x17 grid (Section 4; torchvision's layout):
    5x5/3 average pool, 1x1 conv 128, 5x5 conv 768, global pool, FC."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.pool = nn.AvgPool2d(5, 3)
        self.conv0 = BasicConv(in_channels, 128, 1)
        self.conv1 = BasicConv(128, 768, 5)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(torch.flatten(self.global_pool(x), 1))


class InceptionV3(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = False):
        super().__init__()
        # Table 1's stem: 299 -> 149 -> 147 -> 147 -> pool 73 -> 73 -> 71 -> pool 35
        self.stem = nn.Sequential(
            BasicConv(3, 32, 3, stride=2), BasicConv(32, 32, 3), BasicConv(32, 64, 3, padding=1),
            nn.MaxPool2d(3, 2),
            BasicConv(64, 80, 1), BasicConv(80, 192, 3),
            nn.MaxPool2d(3, 2),
        )
        grid35 = [InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64)]
        self.grid35 = nn.Sequential(*grid35)
        self.reduce35 = InceptionB(grid35[-1].out_channels)
        self.grid17 = nn.Sequential(*(InceptionC(self.reduce35.out_channels, c7)
                                      for c7 in (128, 160, 160, 192)))
        self.aux = InceptionAux(768, num_classes) if aux_logits else None
        self.reduce17 = InceptionD(768)
        self.grid8 = nn.Sequential(InceptionE(self.reduce17.out_channels), InceptionE(2048))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.grid17(self.reduce35(self.grid35(self.stem(x))))
        # unlike torchvision, the head runs in eval mode too: costlab analyzes in eval mode,
        # and a user who asks for the head wants it counted
        aux = self.aux(x) if self.aux is not None else None
        x = self.grid8(self.reduce17(x))
        logits = self.fc(self.dropout(torch.flatten(self.pool(x), 1)))
        return logits if aux is None else (logits, aux)


@register_model(knobs=(NUM_CLASSES, AUX_LOGITS), input_shape=(3, 299, 299), family="inception",
                reference="Szegedy et al. 2016, Inception v3, Table 1")
def inception_v3(num_classes: int = 1000, aux_logits: bool = False) -> InceptionV3:
    """Inception v3 at 299x299: the stem, 3 InceptionA modules (35x35), a grid reduction,
    4 InceptionC modules with 1x7/7x1 factorized convs (17x17), a second reduction,
    2 InceptionE modules (8x8), global average pool, dropout, FC (Table 1, Figures 5-7
    and 10).

    Channel counts inside the modules, which the paper does not give, are torchvision's
    (its Mixed_5b..Mixed_7c). Every conv is conv (no bias) -> BatchNorm (eps 0.001) ->
    ReLU. The auxiliary classifier on the 17x17 grid is a training-time head: it is left
    out unless ``aux_logits`` is set, and then counted (it is run in eval mode too).
    torchvision's ``transform_input`` (a re-scaling for ported weights) is not built.
    """
    return InceptionV3(num_classes, aux_logits)


# --- GoogLeNet -----------------------------------------------------------------------------

# Table 1 of Szegedy et al. 2015: name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
# pool proj). A max pool 3x3/2 precedes 4a and 5a.
GOOGLENET_MODULES = OrderedDict(
    inception3a=(64, 96, 128, 16, 32, 32),
    inception3b=(128, 128, 192, 32, 96, 64),
    inception4a=(192, 96, 208, 16, 48, 64),
    inception4b=(160, 112, 224, 24, 64, 64),
    inception4c=(128, 128, 256, 24, 64, 64),
    inception4d=(112, 144, 288, 32, 64, 64),
    inception4e=(256, 160, 320, 32, 128, 128),
    inception5a=(256, 160, 320, 32, 128, 128),
    inception5b=(384, 192, 384, 48, 128, 128),
)
POOL_BEFORE = ("inception4a", "inception5a")


class ConvReLU(nn.Sequential):
    """Conv with bias -> ReLU: GoogLeNet predates BatchNorm, so its convs carry biases."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                           padding=(kernel_size - 1) // 2),
            act=nn.ReLU(),
        ))


def _max_pool(stride: int) -> nn.MaxPool2d:
    # Caffe rounds pooled sizes up (112 -> 56 -> 28 -> 14 -> 7), as does torchvision
    return nn.MaxPool2d(3, stride, padding=1 if stride == 1 else 0, ceil_mode=True)


class InceptionModule(nn.Module):
    """GoogLeNet's module (Figure 2b): 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and 3x3 max pool -> 1x1
    projection branches, concatenated."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3_reduce: int, ch3x3: int,
                 ch5x5_reduce: int, ch5x5: int, pool_proj: int):
        super().__init__()
        self.branch1x1 = ConvReLU(in_channels, ch1x1, 1)
        self.branch3x3 = nn.Sequential(ConvReLU(in_channels, ch3x3_reduce, 1),
                                       ConvReLU(ch3x3_reduce, ch3x3, 3))
        self.branch5x5 = nn.Sequential(ConvReLU(in_channels, ch5x5_reduce, 1),
                                       ConvReLU(ch5x5_reduce, ch5x5, 5))
        self.branch_pool = nn.Sequential(_max_pool(1), ConvReLU(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _concat(self.branch1x1(x), self.branch3x3(x), self.branch5x5(x),
                       self.branch_pool(x))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(
            ConvReLU(3, 64, 7, stride=2), _max_pool(2),
            ConvReLU(64, 64, 1), ConvReLU(64, 192, 3), _max_pool(2),
        )
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = 192
        for name, channels in GOOGLENET_MODULES.items():
            if name in POOL_BEFORE:
                layers[f"pool_{name}"] = _max_pool(2)
            module = InceptionModule(in_channels, *channels)
            layers[name] = module
            in_channels = module.out_channels
        self.inception = nn.Sequential(layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception(self.stem(x))
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


@register_model(knobs=(NUM_CLASSES,), family="inception",
                reference="Szegedy et al. 2015, GoogLeNet, Table 1")
def googlenet(num_classes: int = 1000) -> GoogLeNet:
    """GoogLeNet (Inception v1) as in the paper's Table 1: 7x7/2 conv, max pool, 1x1 and
    3x3 convs, max pool, nine inception modules with the table's channel counts (max
    pools before 4a and 5a), global average pool, dropout 40%, FC.

    As in the paper: no BatchNorm (it came later) and convs with biases, and true 5x5
    convs in the 5x5 branches. torchvision's googlenet differs on both counts: it adds
    BatchNorm after every (bias-free) conv, and its "5x5" branches are 3x3 convs (a
    known slip it kept for its weights), so it costs less. The two local response
    normalizations after the stem's first pool and 3x3 conv are left out: they have no
    weights and no MACs, only a few element-wise FLOPs. The two auxiliary classifiers are
    training-time heads and are not built. Max pools round up (Caffe's rule, which gives
    the table's 56/28/14/7 grids); the 7x7 average pool is a global one (the same at 224).
    """
    return GoogLeNet(num_classes)
