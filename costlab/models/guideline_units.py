"""The micro-benchmarks behind ShuffleNet V2's guidelines G1-G4 (Ma et al. 2018, Tables 1-4).

Each is a stack of 10 identical units on a 56x56 input, in four variants whose FLOPs the
paper holds (nearly) equal, so that a difference in speed is the guideline's effect and not
a difference in work. The channel counts are the paper's, read from the packaged
``shufflenet_v2_experiments.csv`` (``costlab.references.guideline_experiment``): the
``platform`` knob picks the GPU or the ARM column of the table, ``scale`` its width step
(1, 2 or 4; 2x the channels per step).

What the paper leaves unsaid and is chosen here, for all four: convolutions have no bias
and there is no BatchNorm (at inference both fold into the conv weights, and the paper
names neither); nothing comes before the first unit or after the last (no stem, no
classifier), so the input has the first unit's channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from costlab.models.registry import Knob, register_model
from costlab.references import guideline_experiment

UNITS = 10  # every table stacks its unit 10 times
SIDE = 56  # on 56x56 inputs

PLATFORM = Knob("platform", "gpu", str,
                "whose channel counts: the paper's GPU or ARM column", choices=("gpu", "arm"))
SCALE = Knob("scale", 1, int, "width step of the paper's table (2x channels per step)",
             choices=(1, 2, 4))
RATIO = Knob("ratio", 1, int, "G1: c2/c1, the paper's 1:1, 1:2, 1:6 and 1:12",
             choices=(1, 2, 6, 12))
GROUPS = Knob("groups", 1, int, "G2: groups of each 1x1 convolution", choices=(1, 2, 4, 8))
FRAGMENTS = Knob("fragments", "1", str, "G3: 1, 2-series, 4-series, 2-parallel, 4-parallel",
                 choices=("1", "2-series", "4-series", "2-parallel", "4-parallel"))
RELU = Knob("relu", True, bool, "G4: keep the ReLUs")
SHORTCUT = Knob("shortcut", True, bool, "G4: keep the identity shortcut")
REFERENCE = "Ma et al. 2018, ShuffleNet V2, Table {}"


def conv1x1(in_channels: int, out_channels: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=False)


# ------------------------------------------------------------------------------- G1

def g1_setting(ratio: int) -> str:
    return f"c1:c2=1:{ratio}"


def g1_channels(ratio: int, platform: str, scale: int) -> tuple[int, int]:
    c1, c2 = guideline_experiment("G1", g1_setting(ratio), platform, scale).channels
    return c1, c2


def _input_g1(knobs: dict) -> tuple[int, ...]:
    return g1_channels(knobs["ratio"], knobs["platform"], knobs["scale"])[0], SIDE, SIDE


@register_model(knobs=(RATIO, PLATFORM, SCALE), input_shape=_input_g1, family="guideline",
                reference=REFERENCE.format(1))
def g1_channel_ratio(ratio: int = 1, platform: str = "gpu", scale: int = 1) -> nn.Sequential:
    """G1 (Table 1): 10 blocks of two 1x1 convs, c1 -> c2 -> c1, at c1:c2 = 1:``ratio``.

    Channels are the paper's for its platform and scale (GPU 128:128 ... 36:432, ARM
    32:32 ... 9:108 at scale 1). The paper says FLOPs are fixed across ratios; its channel
    counts match them only to about 5% (c1*c2 is 16384, 16200, 16224, 15552 on the GPU
    column), and costlab keeps the paper's counts rather than its own rounding. Unsaid and
    chosen: no activation between the two convs (the paper names none).
    """
    c1, c2 = g1_channels(ratio, platform, scale)
    return nn.Sequential(*(nn.Sequential(conv1x1(c1, c2), conv1x1(c2, c1))
                           for _ in range(UNITS)))


# ------------------------------------------------------------------------------- G2

def g2_setting(groups: int) -> str:
    return f"g={groups}"


def g2_channels(groups: int, platform: str, scale: int) -> int:
    """The paper's c, rounded to a multiple of ``groups`` where it is not one (only ARM's
    180 at g=8, which no group conv can split: 184, +3.3% FLOPs, the closer of 176 and 184
    to g=1's FLOPs)."""
    c = guideline_experiment("G2", g2_setting(groups), platform, scale).channels[0]
    return max(groups, int(c / groups + 0.5) * groups)


def _input_g2(knobs: dict) -> tuple[int, ...]:
    return g2_channels(knobs["groups"], knobs["platform"], knobs["scale"]), SIDE, SIDE


@register_model(knobs=(GROUPS, PLATFORM, SCALE), input_shape=_input_g2, family="guideline",
                reference=REFERENCE.format(2))
def g2_group_conv(groups: int = 1, platform: str = "gpu", scale: int = 1) -> nn.Sequential:
    """G2 (Table 2): 10 stacked 1x1 group convolutions, c -> c, with ``groups`` groups.

    c is the paper's for its platform and scale (GPU 128, 180, 256, 360 for g = 1, 2, 4, 8;
    ARM 64, 90, 128, 180), so c*c/g is 16384 or 16200 on the GPU: FLOPs equal within 1.2%.
    ARM's 180 at g=8 is not a multiple of 8; it is built at 184 (+3.3%). Unsaid and
    chosen: no channel shuffle and no activation between the convs (the paper stacks "10
    pointwise group convolution layers" and names nothing else).
    """
    c = g2_channels(groups, platform, scale)
    return nn.Sequential(*(conv1x1(c, c, groups) for _ in range(UNITS)))


# ------------------------------------------------------------------------------- G3

G3_SETTINGS = {"1": "1-fragment", "2-series": "2-fragment-series",
               "4-series": "4-fragment-series", "2-parallel": "2-fragment-parallel",
               "4-parallel": "4-fragment-parallel"}


def g3_base_width(platform: str, scale: int) -> int:
    """c of the paper's Table 3: the 1-fragment block's width."""
    return guideline_experiment("G3", "1-fragment", platform, scale).channels[0]


def g3_width(fragments: str, platform: str, scale: int) -> int:
    """The width every tensor of this variant has: c for 1 fragment and for the parallel
    blocks (their branches split c), round(c / sqrt(k)) for k convs in series."""
    c = g3_base_width(platform, scale)
    if fragments.endswith("-series"):
        return round(c / math.sqrt(int(fragments[0])))
    return c


class ParallelFragments(nn.Module):
    """k 1x1 convs c -> c/k side by side on the same input, outputs concatenated to c."""

    def __init__(self, channels: int, branches: int):
        super().__init__()
        self.branches = nn.ModuleList(conv1x1(channels, channels // branches)
                                      for _ in range(branches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def _g3_block(fragments: str, width: int) -> nn.Module:
    if fragments == "1":
        return conv1x1(width, width)
    count, layout = int(fragments[0]), fragments.split("-")[1]
    if layout == "series":
        return nn.Sequential(*(conv1x1(width, width) for _ in range(count)))
    return ParallelFragments(width, count)


def _input_g3(knobs: dict) -> tuple[int, ...]:
    return g3_width(knobs["fragments"], knobs["platform"], knobs["scale"]), SIDE, SIDE


@register_model(knobs=(FRAGMENTS, PLATFORM, SCALE), input_shape=_input_g3,
                family="guideline", reference=REFERENCE.format(3))
def g3_fragments(fragments: str = "1", platform: str = "gpu",
                 scale: int = 1) -> nn.Sequential:
    """G3 (Table 3, appendix Fig. 1): 10 blocks of 1, 2 or 4 1x1 convs in series or parallel.

    c is the paper's 1-fragment width for its platform and scale (GPU 128, 256, 512; ARM
    64, 128, 256). The paper says only that the others are "adjusted so that the FLOPs is
    the same" and that the parallel blocks resemble GoogLeNet's. Chosen: k convs in series
    are all round(c/sqrt(k)) wide (k*w^2 = c^2; 2-series at c=128 is 91 wide, +1.1% FLOPs,
    the closest integer); k parallel branches each map the block's c input channels to c/k
    and are concatenated, as in an Inception module, which keeps c exactly and computes
    what the 1-fragment conv computes in k pieces: fragmentation alone. (Summing k
    c/sqrt(k)-wide branches instead would add k-1 element-wise adds, G4's effect.)
    """
    width = g3_width(fragments, platform, scale)
    return nn.Sequential(*(_g3_block(fragments, width) for _ in range(UNITS)))


# ------------------------------------------------------------------------------- G4

EXPANSION = 4  # the ResNet bottleneck's output is 4x its bottleneck width


def g4_setting(relu: bool, shortcut: bool) -> str:
    return f"relu={'yes' if relu else 'no'} shortcut={'yes' if shortcut else 'no'}"


def g4_width(platform: str, scale: int) -> int:
    return guideline_experiment("G4", g4_setting(True, True), platform, scale).channels[0]


class Bottleneck(nn.Module):
    """ResNet's bottleneck (He et al. 2016): 1x1 4c -> c, 3x3 c -> c, 1x1 c -> 4c; a ReLU
    after each of the first two convs and after the shortcut add (after the last conv when
    there is no shortcut); in place, as in torchvision's ResNet."""

    def __init__(self, width: int, relu: bool, shortcut: bool):
        super().__init__()
        outer = EXPANSION * width
        self.shortcut = shortcut
        self.conv1 = conv1x1(outer, width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.conv3 = conv1x1(width, outer)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))
        if self.shortcut:
            y += x
        return self.act(y)


def _input_g4(knobs: dict) -> tuple[int, ...]:
    return EXPANSION * g4_width(knobs["platform"], knobs["scale"]), SIDE, SIDE


@register_model(knobs=(RELU, SHORTCUT, PLATFORM, SCALE), input_shape=_input_g4,
                family="guideline", reference=REFERENCE.format(4))
def g4_elementwise(relu: bool = True, shortcut: bool = True, platform: str = "gpu",
                   scale: int = 1) -> nn.Sequential:
    """G4 (Table 4): 10 ResNet bottleneck units with the ReLUs and/or the shortcut removed.

    c, the bottleneck width, is 32, 64, 128 at scale 1, 2, 4 on both of the paper's
    platforms (``platform`` changes nothing here). The paper says "bottleneck unit (1x1
    conv followed by 3x3 conv followed by 1x1 conv, with ReLU and shortcut connection) from
    ResNet" and gives only c. Chosen: ResNet's expansion of 4, so the unit's input and
    output are 4c wide (at c=32 its 546M MACs sit beside G3's 514M at c=128, and the
    paper's GPU speeds for the two agree: 2427 and 2446 batches/s). The variants differ in
    element-wise ops only; MACs are identical.
    """
    width = g4_width(platform, scale)
    return nn.Sequential(*(Bottleneck(width, relu, shortcut) for _ in range(UNITS)))
