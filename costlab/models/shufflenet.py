"""ShuffleNet V1 and V2, built from their papers' architecture tables."""

from __future__ import annotations

import torch
from torch import nn

from costlab.models.blocks import ConvBNAct
from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")
GROUPS = Knob("groups", 3, int, "group count g of the 1x1 group convolutions",
              choices=(1, 2, 3, 4, 8))
V1_SCALE = Knob("scale", 1.0, float, "ShuffleNet s x: scales every layer's filters",
                choices=(0.25, 0.5, 1.0, 1.5, 2.0))
V2_SCALE = Knob("scale", 1.0, float, "ShuffleNet V2 s x: the network width of Table 5",
                choices=(0.5, 1.0, 1.5, 2.0))

STEM_CHANNELS = 24  # ShuffleNet V2's stem at every width (Table 5)
STAGE_REPEATS = (4, 8, 4)  # units in stages 2, 3 and 4 (both papers)

# Stem width per scale in the authors' released models (ShuffleNet-Series): the paper gives
# none, and only these reproduce Table 5 (24 at 0.5x would give 43M, not 38M; 36 at 1.5x
# 300M, not 292M). 0.25x takes 0.5x's, which gives Table 5's 13M.
SHUFFLENET_V1_STEM_CHANNELS = {0.25: 12, 0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}

# Output channels of stages 2, 3, 4 at 1x, per group count (ShuffleNet V1, Table 1).
SHUFFLENET_V1_STAGE_CHANNELS = {
    1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
    4: (272, 544, 1088), 8: (384, 768, 1536),
}

# Output channels of stages 2, 3, 4 and of conv5, per width (ShuffleNet V2, Table 5).
SHUFFLENET_V2_CHANNELS = {
    0.5: ((48, 96, 192), 1024), 1.0: ((116, 232, 464), 1024),
    1.5: ((176, 352, 704), 1024), 2.0: ((244, 488, 976), 2048),
}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: reshape, transpose, reshape.

    Written out (not ``F.channel_shuffle``) so the copy that makes the transposed view
    contiguous shows up as data movement, the cost ShuffleNet V2's guideline G3 is about.
    """
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, c, h, w)


def round_to_groups(value: float, groups: int) -> int:
    """The nearest multiple of ``groups`` (at least ``groups``), so a group conv can split it."""
    return max(groups, int(value / groups + 0.5) * groups)


class ShuffleV1Unit(nn.Module):
    """ShuffleNet V1's unit (Figure 2 b, c).

    1x1 group conv (the bottleneck) -> BN -> ReLU -> channel shuffle -> 3x3 depthwise ->
    BN -> 1x1 group conv -> BN. Stride 1: add the input, then ReLU. Stride 2: concatenate a
    3x3 average pool of the input with the branch (``out - in`` channels), then ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int,
                 bottleneck: int, compress_groups: int):
        super().__init__()
        self.stride = stride
        self.groups = groups
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        self.compress = ConvBNAct(in_channels, bottleneck, 1, groups=compress_groups)
        self.depthwise = ConvBNAct(bottleneck, bottleneck, 3, stride, groups=bottleneck,
                                   activation=None)
        self.expand = ConvBNAct(bottleneck, branch_out, 1, groups=groups, activation=None)
        self.shortcut = nn.AvgPool2d(3, 2, padding=1) if stride == 2 else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.compress(x)
        if self.groups > 1:
            y = channel_shuffle(y, self.groups)
        y = self.expand(self.depthwise(y))
        if self.stride == 2:
            return self.act(torch.cat((self.shortcut(x), y), 1))
        return self.act(x + y)


class ShuffleNetV1(nn.Module):
    def __init__(self, groups: int = 3, scale: float = 1.0, num_classes: int = 1000):
        super().__init__()
        stage_channels = [int(c * scale) for c in SHUFFLENET_V1_STAGE_CHANNELS[groups]]
        stem_channels = SHUFFLENET_V1_STEM_CHANNELS[scale]
        if (stage_channels[0] - stem_channels) % groups:
            # g=8 below 1x: stage 2's first branch (out - stem) must split into 8 groups;
            # the authors' 0.5x g=8 model uses 16
            stem_channels = 16
        self.stem = nn.Sequential(ConvBNAct(3, stem_channels, 3, 2),
                                  nn.MaxPool2d(3, 2, padding=1))
        units: list[nn.Module] = []
        in_channels = stem_channels
        for stage, (repeats, out_channels) in enumerate(zip(STAGE_REPEATS, stage_channels)):
            bottleneck = round_to_groups(out_channels / 4, groups)
            for i in range(repeats):
                # stage 2's first pointwise layer sees only the stem's few channels: no groups
                compress_groups = 1 if stage == 0 and i == 0 else groups
                units.append(ShuffleV1Unit(in_channels, out_channels, 2 if i == 0 else 1,
                                           groups, bottleneck, compress_groups))
                in_channels = out_channels
        self.stages = nn.Sequential(*units)
        self.pool = nn.AdaptiveAvgPool2d(1)
        # no bias, as in the authors' released models (their README's params count it so)
        self.classifier = nn.Linear(in_channels, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


class ShuffleV2Unit(nn.Module):
    """ShuffleNet V2's unit (Figure 3 c, d), in torchvision's layout.

    Stride 1: split the channels in half; one half passes through, the other goes through
    1x1 conv-BN-ReLU, 3x3 depthwise-BN, 1x1 conv-BN-ReLU. Stride 2: no split; the whole
    input feeds both that branch and a 3x3 depthwise(stride 2)-BN, 1x1 conv-BN-ReLU branch.
    Either way the halves are concatenated and shuffled with 2 groups.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        half = out_channels // 2
        if stride == 2:
            self.shortcut = nn.Sequential(
                ConvBNAct(in_channels, in_channels, 3, 2, groups=in_channels, activation=None),
                ConvBNAct(in_channels, half, 1))
        else:
            self.shortcut = nn.Identity()
        branch_in = in_channels if stride == 2 else half
        self.branch = nn.Sequential(
            ConvBNAct(branch_in, half, 1),
            ConvBNAct(half, half, 3, stride, groups=half, activation=None),
            ConvBNAct(half, half, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            y = torch.cat((self.shortcut(x), self.branch(x)), 1)
        else:
            kept, processed = x.chunk(2, dim=1)
            y = torch.cat((kept, self.branch(processed)), 1)
        return channel_shuffle(y, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, scale: float = 1.0, num_classes: int = 1000):
        super().__init__()
        stage_channels, last_channels = SHUFFLENET_V2_CHANNELS[scale]
        self.stem = nn.Sequential(ConvBNAct(3, STEM_CHANNELS, 3, 2),
                                  nn.MaxPool2d(3, 2, padding=1))
        units: list[nn.Module] = []
        in_channels = STEM_CHANNELS
        for repeats, out_channels in zip(STAGE_REPEATS, stage_channels):
            for i in range(repeats):
                units.append(ShuffleV2Unit(in_channels, out_channels, 2 if i == 0 else 1))
                in_channels = out_channels
        self.stages = nn.Sequential(*units)
        self.conv5 = ConvBNAct(in_channels, last_channels, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.stages(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))


@register_model(knobs=(GROUPS, V1_SCALE, NUM_CLASSES), family="shufflenet",
                reference="Zhang et al. 2018, ShuffleNet, Table 1")
def shufflenet_v1(groups: int = 3, scale: float = 1.0,
                  num_classes: int = 1000) -> ShuffleNetV1:
    """ShuffleNet V1: pointwise group convs and channel shuffle (Table 1, Figure 2).

    Stage widths follow Table 1 for each group count, times ``scale`` ("ShuffleNet s x").
    Where the paper is silent, the authors' released code (ShuffleNet-Series) decides, as
    its numbers reproduce Tables 2 and 5: the stem is 12 channels below 1x (16 for g=8),
    24 at 1x and 1.5x, 48 at 2x; the bottleneck is a quarter of the stage output; stage
    2's first 1x1 conv is ungrouped; the classifier has no bias. Combinations the authors
    never built round the bottleneck to a multiple of ``groups`` so the group convs split.
    """
    return ShuffleNetV1(groups, scale, num_classes)


@register_model(knobs=(V2_SCALE, NUM_CLASSES), family="shufflenet",
                reference="Ma et al. 2018, ShuffleNet V2, Table 5")
def shufflenet_v2(scale: float = 1.0, num_classes: int = 1000) -> ShuffleNetV2:
    """ShuffleNet V2: channel split, equal-width branches, 2-group shuffle (Table 5, Fig. 3).

    Stage and conv5 widths per ``scale`` from Table 5. Where the paper is silent, the
    layout is torchvision's: BN after every conv, ReLU after each 1x1 conv (none after the
    depthwise ones), a 3x3 max pool with padding 1 after the stem, and a classifier with
    bias.
    """
    return ShuffleNetV2(scale, num_classes)
