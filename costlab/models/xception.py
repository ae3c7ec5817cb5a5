"""Xception (Chollet 2017), built from the paper's Figure 5."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")

MIDDLE_CHANNELS = 728
MIDDLE_REPEATS = 8  # "Middle flow: repeated 8 times" (Figure 5)
SEPARABLE_PER_MIDDLE_BLOCK = 3


class SeparableConvBN(nn.Sequential):
    """Xception's SeparableConv: a 3x3 depthwise conv then a 1x1 pointwise conv, with no
    activation and no BatchNorm between them (Section 3 argues against an intermediate
    non-linearity), then BatchNorm ("all Convolution and SeparableConvolution layers are
    followed by batch normalization", Figure 5). Convs without bias: BN follows."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(OrderedDict(
            depthwise=nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels,
                                bias=False),
            pointwise=nn.Conv2d(in_channels, out_channels, 1, bias=False),
            bn=nn.BatchNorm2d(out_channels),
        ))


class ConvBNReLU(nn.Sequential):
    """A plain 'valid' conv (no bias) -> BN -> ReLU, for the entry flow's first two convs."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, 3, stride, bias=False),
            bn=nn.BatchNorm2d(out_channels),
            act=nn.ReLU(),
        ))


class XceptionBlock(nn.Module):
    """A residual block of Figure 5: separable convs, each preceded by a ReLU, with
    ``channels`` giving each one's output channels.

    With ``downsample``, a 3x3/2 max pool ends the branch and the shortcut is a 1x1/2
    conv + BN; otherwise the shortcut is the identity (the middle flow). The shortcut
    takes the block's input before the leading ReLU, as the figure draws it.
    ``relu_first`` is False for the first entry-flow block, whose input has just been
    through a ReLU.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], *, downsample: bool,
                 relu_first: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for i, out in enumerate(channels):
            if i > 0 or relu_first:
                layers.append(nn.ReLU())
            layers.append(SeparableConvBN(previous, out))
            previous = out
        if downsample:
            layers.append(nn.MaxPool2d(3, 2, padding=1))
        self.branch = nn.Sequential(*layers)
        self.shortcut = (nn.Sequential(OrderedDict(
            conv=nn.Conv2d(in_channels, previous, 1, 2, bias=False),
            bn=nn.BatchNorm2d(previous),
        )) if downsample else None)
        self.out_channels = previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch(x)
        return y + (x if self.shortcut is None else self.shortcut(x))


class Xception(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        # entry flow: 299 -> 149 -> 147, then three downsampling blocks: 74, 37, 19
        entry: list[nn.Module] = [ConvBNReLU(3, 32, 2), ConvBNReLU(32, 64, 1)]
        in_channels = 64
        for i, out in enumerate((128, 256, MIDDLE_CHANNELS)):
            entry.append(XceptionBlock(in_channels, (out, out), downsample=True,
                                       relu_first=i > 0))
            in_channels = out
        self.entry_flow = nn.Sequential(*entry)
        self.middle_flow = nn.Sequential(*(
            XceptionBlock(MIDDLE_CHANNELS, (MIDDLE_CHANNELS,) * SEPARABLE_PER_MIDDLE_BLOCK,
                          downsample=False)
            for _ in range(MIDDLE_REPEATS)))
        # exit flow: one downsampling block (19 -> 10), then two separable convs with ReLU
        self.exit_block = XceptionBlock(MIDDLE_CHANNELS, (MIDDLE_CHANNELS, 1024),
                                        downsample=True)
        self.exit_convs = nn.Sequential(SeparableConvBN(1024, 1536), nn.ReLU(),
                                        SeparableConvBN(1536, 2048), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.middle_flow(self.entry_flow(x))
        x = self.exit_convs(self.exit_block(x))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model(knobs=(NUM_CLASSES,), input_shape=(3, 299, 299), family="xception",
                reference="Chollet 2017, Xception, Figure 5")
def xception(num_classes: int = 1000) -> Xception:
    """Xception at 299x299 (Figure 5): entry flow (two 3x3 convs, three residual blocks
    of two separable convs ending in a 3x3/2 max pool, with 1x1/2 conv shortcuts), middle
    flow (8 identity-residual blocks of three ReLU + separable conv 728), exit flow (a
    728 -> 1024 downsampling block, separable convs 1536 and 2048 with ReLU), global
    average pool, logistic-regression FC (the optional hidden FC layers are left out, as
    in the ImageNet model).

    A separable conv is depthwise 3x3 + pointwise 1x1, no bias, with BatchNorm after the
    pair (not between: the paper's and Keras's layout; timm's xception is the same and has
    the same params). Convs are 'valid' in the stem and 'same' elsewhere, max pools pad 1,
    as in the Keras reference model.
    """
    return Xception(num_classes)
