"""NASNet-A Mobile and AmoebaNet-A (mobile): searched cells stacked in the NASNet skeleton.

Both networks are the same skeleton (Zoph et al. 2018, Figure 2, ImageNet): a 3x3 stride-2
stem conv, two reduction cells as a stem, then three stages of N normal cells with a
reduction cell between stages, the filter count F doubling at every reduction. Only the
cells differ: NASNet-A's (Zoph et al. 2018, Figure 4) and AmoebaNet-A's (Real et al. 2019,
Figure 4). Where the papers are silent (what adapts mismatched hidden states, how a
separable op is stacked, 'same' padding), the layout is that of the authors' TensorFlow
reference code (TF-slim ``nasnet.py`` and ``nasnet_utils.py``; the TPU AmoebaNet
``network_utils.py`` and ``model_specs.py``), which the two share.

Every branch is a plain module (convs, pools, BatchNorm, ReLU) and every combination a
real ``+`` or ``torch.cat``, so the tracer sees the fragmented data flow as it is.
Drop-path and the auxiliary head are training-only and left out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from costlab.core.errors import UsageError
from costlab.models.registry import Knob, register_model

NUM_CLASSES = Knob("num_classes", 1000, int, "classifier outputs")
CELLS = Knob("cells", 4, int, "N: normal cells per stage (3 stages)")

STEM_FILTERS = 32  # the stem conv's filters at the mobile setting (stem multiplier 1)
STEM_CELLS = 2  # reduction cells in the ImageNet stem, at F/4 and F/2 filters
STAGES = 3
MIN_FILTERS = 4  # the first stem cell has F/4 filters

# A cell's hidden states: 0 is the previous cell's output after the cell's own 1x1 conv
# (h_i), 1 the output of the cell before (h_{i-1}) made to match it, 2.. the blocks'
# outputs in order. A block reads two states, applies one op to each and adds the results.
Op = tuple[str, int]  # (operation, index of the hidden state it reads)


@dataclass(frozen=True)
class Genome:
    """A cell: five blocks (each a pair of ops whose outputs are added) and the hidden
    states concatenated into the cell's output."""

    blocks: tuple[tuple[Op, Op], ...]
    concat: tuple[int, ...]


# Zoph et al. 2018, Figure 4 (the reference code's NasNetANormalCell / NasNetAReductionCell).
NASNET_A_NORMAL = Genome(
    blocks=((("sep5", 0), ("sep3", 1)), (("sep5", 1), ("sep3", 1)),
            (("avg3", 0), ("identity", 1)), (("avg3", 1), ("avg3", 1)),
            (("sep3", 0), ("identity", 0))),
    concat=(1, 2, 3, 4, 5, 6))
NASNET_A_REDUCTION = Genome(
    blocks=((("sep5", 0), ("sep7", 1)), (("max3", 0), ("sep7", 1)),
            (("avg3", 0), ("sep5", 1)), (("identity", 3), ("avg3", 2)),
            (("sep3", 2), ("max3", 0))),
    concat=(3, 4, 5, 6))

# Real et al. 2019, Figure 4 (the reference code's 'amoeba_net_a' cell specs).
AMOEBANET_A_NORMAL = Genome(
    blocks=((("avg3", 0), ("max3", 0)), (("sep3", 1), ("identity", 1)),
            (("identity", 0), ("avg3", 1)), (("sep3", 0), ("sep5", 2)),
            (("avg3", 5), ("sep3", 0))),
    concat=(1, 3, 4, 6))
AMOEBANET_A_REDUCTION = Genome(
    blocks=((("sep3", 1), ("avg3", 0)), (("max3", 0), ("sep7", 2)),
            (("max3", 1), ("max3", 0)), (("sep3", 4), ("conv1x7_7x1", 0)),
            (("avg3", 1), ("sep7", 0))),
    concat=(2, 3, 4, 5, 6))


def conv_bn(in_channels: int, out_channels: int, stride: int = 1,
            relu_first: bool = True) -> nn.Sequential:
    """(ReLU ->) 1x1 conv (no bias) -> BN: how the cells change a state's channel count."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if relu_first:
        layers["act"] = nn.ReLU()
    layers["conv"] = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
    layers["bn"] = nn.BatchNorm2d(out_channels)
    return nn.Sequential(layers)


class SeparableConv(nn.Sequential):
    """A k x k depthwise conv (depth multiplier 1) then a 1x1 pointwise conv, no bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(OrderedDict(
            depthwise=nn.Conv2d(in_channels, in_channels, kernel_size, stride,
                                padding=kernel_size // 2, groups=in_channels, bias=False),
            pointwise=nn.Conv2d(in_channels, out_channels, 1, bias=False),
        ))


class StackedSeparable(nn.Sequential):
    """The cells' 'sep k x k' op: ReLU-sep-BN-ReLU-sep-BN, the stride on the first."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__(OrderedDict(
            act1=nn.ReLU(), sep1=SeparableConv(in_channels, out_channels, kernel_size, stride),
            bn1=nn.BatchNorm2d(out_channels),
            act2=nn.ReLU(), sep2=SeparableConv(out_channels, out_channels, kernel_size),
            bn2=nn.BatchNorm2d(out_channels),
        ))


class Pool(nn.Sequential):
    """A 3x3 max or average pool ('same' padding; the average over valid pixels only, as
    TensorFlow's), then a 1x1 conv + BN where the channel count must change."""

    def __init__(self, kind: str, in_channels: int, out_channels: int, stride: int):
        pool = (nn.MaxPool2d(3, stride, padding=1) if kind == "max"
                else nn.AvgPool2d(3, stride, padding=1, count_include_pad=False))
        layers: OrderedDict[str, nn.Module] = OrderedDict(pool=pool)
        if in_channels != out_channels:
            layers["proj"] = conv_bn(in_channels, out_channels, relu_first=False)
        super().__init__(layers)


class Conv1x7Then7x1(nn.Sequential):
    """AmoebaNet's '1x7 then 7x1' op, as its reference code builds it: a 1x1 bottleneck to
    F/4 channels, the 1x7 and 7x1 convs there (the stride split between them), a 1x1 back
    to F; each conv followed by BN and preceded by ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        mid = out_channels // 4
        super().__init__(OrderedDict(
            reduce=conv_bn(in_channels, mid),
            act1=nn.ReLU(),
            conv1x7=nn.Conv2d(mid, mid, (1, 7), (1, stride), padding=(0, 3), bias=False),
            bn1x7=nn.BatchNorm2d(mid),
            act2=nn.ReLU(),
            conv7x1=nn.Conv2d(mid, mid, (7, 1), (stride, 1), padding=(3, 0), bias=False),
            bn7x1=nn.BatchNorm2d(mid),
            expand=conv_bn(mid, out_channels),
        ))


class FactorizedReduction(nn.Module):
    """Halve the resolution without dropping pixels (the reference code's
    ``factorized_reduction``): two 1x1 convs, each on a stride-2 subsample, the second
    shifted by one pixel, concatenated (half the filters each; an odd one goes to the
    second), then BN. The subsample is the reference's 1x1 stride-2 average pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.subsample = nn.AvgPool2d(1, 2)
        self.path1 = nn.Conv2d(in_channels, out_channels // 2, 1, bias=False)
        self.path2 = nn.Conv2d(in_channels, out_channels - out_channels // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]  # pad right/bottom, drop first row/col
        paths = (self.path1(self.subsample(x)), self.path2(self.subsample(shifted)))
        return self.bn(torch.cat(paths, 1))


def make_op(name: str, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """One op of a block, from ``in_channels`` to the cell's ``out_channels``."""
    if name.startswith("sep"):
        return StackedSeparable(in_channels, out_channels, int(name[3:]), stride)
    if name in ("avg3", "max3"):
        return Pool(name[:3], in_channels, out_channels, stride)
    if name == "identity":
        # a strided or channel-changing identity is a 1x1 conv (the reference's 'none')
        if stride > 1 or in_channels != out_channels:
            return conv_bn(in_channels, out_channels, stride)
        return nn.Identity()
    if name == "conv1x7_7x1":
        return Conv1x7Then7x1(in_channels, out_channels, stride)
    raise ValueError(f"unknown cell op {name!r}")


class Cell(nn.Module):
    """A NASNet-style cell with ``filters`` (F) filters per op; output len(concat) x F.

    ``forward(prev, prev_prev=None)`` takes the previous two hidden states: ``prev`` (h_i,
    ``prev_channels``) and ``prev_prev`` (h_{i-1}, ``prev_prev_channels``, at the same
    resolution or, with ``prev_prev_stride=2``, at twice it). ``prev`` goes through
    ReLU-1x1 conv-BN to F channels; ``prev_prev`` is made to match it with ReLU and a
    factorized reduction (different resolution) or ReLU-1x1 conv-BN (different channels).
    Called with one input, the cell uses ``prev`` for both states (as a cell in the middle
    of a stack whose two inputs look alike). ``prev_prev_channels=None`` instead reads the
    raw ``prev`` as h_{i-1}, unadapted (the reference's first stem cell). A reduction
    cell's ops on the two inputs have stride 2. ``out_channels`` is the output's width.
    """

    genome: Genome
    reduction: bool

    def __init__(self, prev_channels: int, prev_prev_channels: int | None, filters: int,
                 prev_prev_stride: int = 1):
        super().__init__()
        if prev_prev_stride not in (1, 2):
            raise ValueError(f"prev_prev_stride must be 1 or 2, got {prev_prev_stride}")
        self.filters = filters
        self.preprocess = conv_bn(prev_channels, filters)
        if prev_prev_channels is None:
            self.preprocess_prev, state1_channels = nn.Identity(), prev_channels
        elif prev_prev_stride == 2:
            self.preprocess_prev = nn.Sequential(
                nn.ReLU(), FactorizedReduction(prev_prev_channels, filters))
            state1_channels = filters
        elif prev_prev_channels != filters:
            self.preprocess_prev, state1_channels = conv_bn(prev_prev_channels, filters), filters
        else:
            self.preprocess_prev, state1_channels = nn.Identity(), filters

        stride = 2 if self.reduction else 1
        channels = [filters, state1_channels]
        self.inputs: list[tuple[int, int]] = []
        self.blocks = nn.ModuleList()
        for (left, left_in), (right, right_in) in self.genome.blocks:
            # only ops on the cell's inputs stride; later states are already reduced
            self.blocks.append(nn.ModuleList([
                make_op(op, channels[i], filters, stride if i < 2 else 1)
                for op, i in ((left, left_in), (right, right_in))]))
            self.inputs.append((left_in, right_in))
            channels.append(filters)
        # a concatenated state unlike the last (other channels or resolution) is matched
        self.concat_adapters = nn.ModuleList()
        for i in self.genome.concat:
            reduce = self.reduction and i < 2
            if reduce:
                adapter: nn.Module = FactorizedReduction(channels[i], filters)
            elif channels[i] != filters:
                adapter = conv_bn(channels[i], filters, relu_first=False)
            else:
                adapter = nn.Identity()
            self.concat_adapters.append(adapter)
        self.out_channels = len(self.genome.concat) * filters

    def forward(self, prev: torch.Tensor, prev_prev: torch.Tensor | None = None) -> torch.Tensor:
        states = [self.preprocess(prev),
                  self.preprocess_prev(prev if prev_prev is None else prev_prev)]
        for (left, right), (left_in, right_in) in zip(self.blocks, self.inputs):
            states.append(left(states[left_in]) + right(states[right_in]))
        return torch.cat([adapt(states[i]) for i, adapt in
                          zip(self.genome.concat, self.concat_adapters)], 1)


class NASNetNormalCell(Cell):
    """NASNet-A's normal cell (Zoph et al. 2018, Figure 4 left): output 6F channels."""

    genome, reduction = NASNET_A_NORMAL, False


class NASNetReductionCell(Cell):
    """NASNet-A's reduction cell (Zoph et al. 2018, Figure 4 right): output 4F at half
    the resolution."""

    genome, reduction = NASNET_A_REDUCTION, True


class AmoebaNormalCell(Cell):
    """AmoebaNet-A's normal cell (Real et al. 2019, Figure 4 middle): output 4F channels."""

    genome, reduction = AMOEBANET_A_NORMAL, False


class AmoebaReductionCell(Cell):
    """AmoebaNet-A's reduction cell (Real et al. 2019, Figure 4 right): output 5F at half
    the resolution."""

    genome, reduction = AMOEBANET_A_REDUCTION, True


class CellNetwork(nn.Module):
    """The ImageNet skeleton of Zoph et al. 2018 (Figure 2) for a pair of cells.

    Stem: 3x3 conv, stride 2, no padding (224 -> 111), then BN; two reduction cells with
    F/4 and F/2 filters. Three stages of ``cells`` normal cells with F, 2F, 4F filters, a
    reduction cell (2F, 4F) opening the second and third. Every cell reads the previous two
    cells' outputs. Head: ReLU, global average pool, dropout, fully connected.
    """

    def __init__(self, normal: type[Cell], reduction: type[Cell], filters: int, cells: int,
                 num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(3, STEM_FILTERS, 3, 2, bias=False),
            bn=nn.BatchNorm2d(STEM_FILTERS)))
        # (channels, resolution level) of every hidden state so far
        outputs: list[tuple[int | None, int]] = [(None, 0), (STEM_FILTERS, 0)]
        self.cells = nn.ModuleList()

        def add(kind: type[Cell], cell_filters: int) -> None:
            (pp_channels, pp_level), (p_channels, p_level) = outputs[-2:]
            cell = kind(p_channels, pp_channels, cell_filters,
                        prev_prev_stride=2 if pp_level < p_level else 1)
            self.cells.append(cell)
            outputs.append((cell.out_channels, p_level + cell.reduction))

        for i in range(STEM_CELLS):
            add(reduction, int(filters * 2 ** (i - STEM_CELLS)))
        for stage in range(STAGES):
            if stage > 0:
                add(reduction, filters * 2 ** stage)
            for _ in range(cells):
                add(normal, filters * 2 ** stage)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(outputs[-1][0], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev_prev, prev = None, self.stem(x)
        for cell in self.cells:
            prev_prev, prev = prev, cell(prev, prev_prev)
        return self.classifier(self.dropout(torch.flatten(self.pool(self.act(prev)), 1)))


def _check_filters(filters: int) -> None:
    if filters < MIN_FILTERS:
        raise UsageError(f"filters must be >= {MIN_FILTERS} (the first stem cell has F/4), "
                         f"got {filters}")


@register_model(knobs=(CELLS, Knob("filters", 44, int, "F: filters of the first stage's "
                                   "cells (the penultimate layer has 24F)"), NUM_CLASSES),
                family="nasnet",
                reference="Zoph et al. 2018, NASNet, Figure 4; mobile ImageNet table, 4 @ 1056")
def nasnet_a_mobile(cells: int = 4, filters: int = 44, num_classes: int = 1000) -> CellNetwork:
    """NASNet-A Mobile, "NASNet-A (4 @ 1056)": N = 4 normal cells per stage, F = 44.

    The cells of Figure 4 in the ImageNet skeleton of Figure 2, laid out as the authors'
    TF-slim code (mobile config: stem conv of 32 filters, 'valid' padding; the first
    normal cell after a reduction reads the cell before it, factorized-reduced). The
    penultimate layer has 6 x 4F = 1056 channels.
    """
    _check_filters(filters)
    return CellNetwork(NASNetNormalCell, NASNetReductionCell, filters, cells, num_classes)


@register_model(knobs=(CELLS, Knob("filters", 50, int, "F: filters of the first stage's "
                                   "cells (the penultimate layer has 16F)"), NUM_CLASSES),
                family="nasnet",
                reference="Real et al. 2019, AmoebaNet, Figure 4, mobile setting (N=4, F=50)")
def amoebanet_a_mobile(cells: int = 4, filters: int = 50,
                       num_classes: int = 1000) -> CellNetwork:
    """AmoebaNet-A at the mobile setting: N = 4 normal cells per stage, F = 50.

    The cells of Figure 4 in NASNet's ImageNet skeleton, laid out as the authors' TPU
    reference code (stem conv of 32 filters; '1x7 then 7x1' with a 1x1 bottleneck to F/4).
    The second stem cell has F/2 = 25 filters, which that code's factorized reduction
    rejects (it asserts an even count); the odd filter goes to the second path, as in
    NASNet's code. The penultimate layer has 4 x 4F = 800 channels.
    """
    _check_filters(filters)
    return CellNetwork(AmoebaNormalCell, AmoebaReductionCell, filters, cells, num_classes)
