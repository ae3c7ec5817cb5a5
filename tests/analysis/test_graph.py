"""The dataflow graph: edges, cut points, blocks and their width, on hand-built graphs."""

from __future__ import annotations

import torch
from torch import nn

import costlab
from costlab.analysis import graph
from costlab.core.records import Counts, OpRecord


def trace(module: nn.Module, shape=(1, 8, 16, 16)) -> list[OpRecord]:
    module = module.to("meta")
    return costlab.analyze(module, inputs=(torch.empty(shape, device="meta"),)).layers


def record(index: int, sources: tuple[int, ...], category: str = "conv",
           module: str = "") -> OpRecord:
    """A bare op: only what the graph functions read."""
    return OpRecord(index=index, module=module, module_type="", op="op", category=category,
                    input_shapes=(), output_shapes=(), counts=Counts(), params=0,
                    sources=sources)


def conv(c_in: int = 8, c_out: int = 8, k: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)


def kernel_ops(records):
    return lambda p: records[p].category not in ("activation", "element-wise",
                                                 "data movement", "norm")


class TwoBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv()
        self.left = conv(k=3)
        self.right = conv()

    def forward(self, x):
        x = self.stem(x)
        return self.left(x) + self.right(x)


class InceptionLike(nn.Module):
    """GoogLeNet's module: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1, concat."""

    def __init__(self):
        super().__init__()
        self.stem = conv()
        self.b1 = conv()
        self.b2 = nn.Sequential(conv(), conv(k=3))
        self.b3 = nn.Sequential(conv(), conv(k=5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), conv())

    def forward(self, x):
        x = self.stem(x)
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class Cell(nn.Module):
    """Reads the previous cell's output and the one before it, like a NASNet cell."""

    def __init__(self):
        super().__init__()
        self.a = conv()
        self.b = conv()

    def forward(self, x, prev):
        return self.a(x) + self.b(prev)


class CellStack(nn.Module):
    """A stem and two cells; the first cell reads the stem's output and the model input."""

    def __init__(self):
        super().__init__()
        self.stem = conv()
        self.cells = nn.ModuleList([Cell(), Cell()])

    def forward(self, x):
        prev, x = x, self.stem(x)
        for cell in self.cells:
            prev, x = x, cell(x, prev)
        return x


def test_chain_is_all_cut_points_and_no_block():
    records = trace(nn.Sequential(conv(), nn.BatchNorm2d(8), nn.ReLU(), conv(k=3)))
    assert [r.op for r in records] == ["convolution", "native_batch_norm", "relu",
                                       "convolution"]
    assert graph.predecessors(records) == [(-1,), (0,), (1,), (2,)]
    assert graph.successors(records) == [[1], [2], [3], []]
    assert graph.cut_points(records) == [True] * 4
    assert graph.segments(records) == [range(0, 1), range(1, 2), range(2, 3), range(3, 4)]
    assert graph.blocks(records) == []
    assert graph.max_antichain(graph.successors(records), range(4)) == 1


def test_two_parallel_branches_form_one_block_of_width_two():
    records = trace(TwoBranches())
    assert [(r.module, r.op) for r in records] == [
        ("stem", "convolution"), ("left", "convolution"), ("right", "convolution"),
        ("", "add")]
    assert graph.predecessors(records) == [(-1,), (0,), (0,), (1, 2)]
    # the edge stem -> right jumps over left; nothing jumps over stem or the add
    assert graph.cut_points(records) == [True, False, False, True]
    assert graph.blocks(records) == [graph.Block("", (1, 2, 3))]
    succ = graph.successors(records)
    assert graph.max_antichain(succ, (1, 2, 3)) == 2
    assert graph.max_antichain(succ, (1, 2, 3), kernel_ops(records)) == 2


def test_inception_like_block_has_four_branches_and_seven_kernel_ops():
    records = trace(InceptionLike())
    assert len(records) == 9  # stem, 7 convs and pools, cat
    assert records[-1].op == "cat" and records[-1].sources == (1, 3, 5, 7)
    [block] = graph.blocks(records)
    assert block.module == "" and block.positions == tuple(range(1, 9))
    is_kernel = kernel_ops(records)
    assert sum(is_kernel(p) for p in block.positions) == 7
    assert graph.max_antichain(graph.successors(records), block.positions, is_kernel) == 4


def test_model_input_read_by_parallel_branches_keeps_them_in_one_segment():
    class Fork(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = conv(), conv(), conv()

        def forward(self, x):
            return self.a(x) + self.b(x) * self.c(x)

    records = trace(Fork())
    assert graph.cut_points(records) == [False, False, False, False, True]
    assert graph.segments(records) == [range(0, 5)]
    assert graph.max_antichain(graph.successors(records), range(5), kernel_ops(records)) == 3


def test_stack_of_cells_reading_two_back_is_split_per_cell():
    records = trace(CellStack())
    assert [r.module for r in records] == ["stem", "cells.0.a", "cells.0.b", "cells.0",
                                           "cells.1.a", "cells.1.b", "cells.1"]
    # cell 0 reads the model input beside the stem, cell 1 reads cell 0's input (the
    # stem's output): one segment, no cut until the last add
    assert graph.cut_points(records) == [False, False, False, False, False, False, True]
    assert graph.segments(records) == [range(0, 7)]
    assert graph.blocks(records) == [graph.Block("cells.0", (1, 2, 3)),
                                     graph.Block("cells.1", (4, 5, 6))]
    succ = graph.successors(records)
    assert graph.max_antichain(succ, (1, 2, 3)) == 2
    assert graph.max_antichain(succ, (1, 2, 3, 4, 5, 6)) == 3  # cell 1's b beside cell 0


def test_reading_one_tensor_twice_is_one_edge():
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    records = trace(nn.Sequential(conv(), Square()))
    assert records[1].sources == (0, 0)
    assert graph.successors(records) == [[1], []]


def test_antichain_finds_width_a_level_by_level_count_misses():
    # 0 -> 1 -> 2 -> 3 -> 4 (a chain), 0 -> 5 (one op), 2 -> 6 (a late side branch):
    # {5, 3, 6} are unrelated though 5 runs at level 1 and 6 at level 3
    records = [record(0, (-1,)), record(1, (0,)), record(2, (1,)), record(3, (2,)),
               record(4, (3,)), record(5, (0,)), record(6, (2,)),
               record(7, (4, 5, 6), "element-wise")]
    succ = graph.successors(records)
    assert graph.max_antichain(succ, range(8)) == 3
    assert graph.max_antichain(succ, range(8), lambda p: records[p].category == "conv") == 3
    assert graph.max_antichain(succ, (0, 1, 2)) == 1
    assert graph.max_antichain(succ, range(8), lambda p: False) == 0


def test_antichain_augments_a_greedy_matching():
    # 0 -> {2, 3}, 1 -> 2: greedy pairs 0 with 2 and leaves 1 alone (width 3); moving 0 to
    # 3 frees 2 for 1, so two chains cover all four ops and no three are unrelated
    records = [record(0, (-1,)), record(1, (-1,)), record(2, (0, 1)), record(3, (0,))]
    assert graph.max_antichain(graph.successors(records), range(4)) == 2


def test_diamond_reachability_bits():
    # 0 -> {1, 2} -> 3
    records = [record(0, (-1,)), record(1, (0,)), record(2, (0,)), record(3, (1, 2))]
    succ = graph.successors(records)
    reach = graph.reachable_members(succ, range(4), lambda p: True)
    assert reach == {0: 0b1110, 1: 0b1000, 2: 0b1000, 3: 0}
    assert graph.max_antichain(succ, range(4)) == 2


def test_sources_outside_the_list_count_as_input():
    records = [record(5, (-1,)), record(6, (5, 2))]  # op 2 is not in the list
    assert graph.predecessors(records) == [(-1,), (0, -1)]
    assert graph.cut_points(records) == [False, True]


def test_common_module_and_sole_consumer():
    assert graph.common_module(["a.b.c", "a.b.d", "a.b"]) == "a.b"
    assert graph.common_module(["a.b", "c"]) == ""
    assert graph.common_module(["layer1.0.conv1", "layer1.0"]) == "layer1.0"
    assert graph.common_module([]) == ""
    succ = [[1], [2, 3], [], []]
    assert graph.sole_consumer(succ, 0, 1)
    assert not graph.sole_consumer(succ, 1, 2)
    assert not graph.sole_consumer(succ, graph.INPUT, 0)
