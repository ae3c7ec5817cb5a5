"""Module tables that add up: every level of the module tree sums to the model's total.

The rows of ``cost.modules(depth, own=True)`` form a tree: "(root)" and the top-level rows
sum to the total, and every shown module with shown children equals its children plus its
own-ops row. So at each level, that level's rows plus the own-ops rows above it plus the
childless rows above it sum to the total, for MACs, FLOPs and memory access alike.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import costlab
from costlab.core.records import Counts, module_rows
from costlab.models import registry

ZOO = sorted(registry().specs)


def _sums(counts: list[Counts]) -> tuple[int, int, int]:
    c = Counts.total(counts)
    return c.macs, c.flops, c.memory_access_bytes


def check_sums(cost) -> None:
    total = _sums([cost.total.counts])
    deepest = max((p.count(".") + 1 for p in cost.module_tree if p), default=1)
    for depth in range(1, deepest + 1):
        rows = cost.modules(depth, own=True)
        # a tree: each shown parent = its shown children + its own ops
        children: dict[str, list] = {}
        for m in rows:
            parent = m.path if m.own else m.path.rpartition(".")[0]
            if m.depth > 1:
                children.setdefault(parent, []).append(m.counts)
        for m in rows:
            if not m.own and m.path in children:
                assert _sums(children[m.path]) == _sums([m.counts]), (depth, m.path)
        top = [m.counts for m in rows if m.depth == 1]
        assert _sums(top) == total, depth
        # each level: its rows, and the own-ops and childless rows above it
        for level in range(1, depth + 1):
            frontier = [m.counts for m in rows if m.depth == level or (
                m.depth < level and (m.own or m.path not in children))]
            assert _sums(frontier) == total, (depth, level)


@pytest.mark.parametrize("name", ZOO)
def test_every_level_of_every_zoo_model_sums_to_the_total(name):
    check_sums(costlab.analyze(name))


class TopLevelMatmul(nn.Module):
    """The issue's case: an op in the model's own forward, outside every submodule."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.register_buffer("project", torch.ones(32, 8))

    def forward(self, x):
        return self.body(x) @ self.project


def test_ops_of_the_model_itself_get_a_root_row():
    cost = costlab.analyze(TopLevelMatmul(), input_shape=(4, 16))
    rows = cost.modules(1, own=True)
    assert [(m.label, m.macs) for m in rows] == [("(root)", 4 * 32 * 8), ("body", 4 * 16 * 32)]
    assert sum(m.macs for m in rows) == cost.total.macs
    check_sums(cost)
    # the tables' rows (CSV, JSON, the rendered table) carry it too
    assert [r["module"] for r in module_rows(cost, 1)] == ["(root)", "body"]
    # without own, the rows are the modules alone (fvcore's and the profiler's comparisons)
    assert [m.path for m in cost.modules(1)] == ["body"]


def test_own_ops_of_a_module_with_children_get_their_row():
    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = TopLevelMatmul()

        def forward(self, x):
            return self.inner(x) * 2

    cost = costlab.analyze(Outer(), input_shape=(4, 16))
    rows = cost.modules(2, own=True)
    assert [(m.label, m.depth) for m in rows] == [
        ("(root)", 1), ("inner", 1), ("inner (own ops)", 2), ("inner.body", 2)]
    assert rows[2].macs == 4 * 32 * 8 and rows[0].flops == 4 * 8  # the matmul; the * 2
    check_sums(cost)


def test_multihead_attention_out_proj_is_charged_to_out_proj():
    mha = nn.MultiheadAttention(16, 2, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = mha

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    cost = costlab.analyze(SelfAttention(), input_shape=(2, 5, 16))
    rows = {m.label: m for m in cost.modules(2, own=True)}
    assert rows["attn.out_proj"].macs == 2 * 5 * 16 * 16
    assert rows["attn (own ops)"].macs == 2 * 5 * 16 * 48 + 2 * 2 * 5 * 5 * 8 * 2
    check_sums(cost)


def test_tied_weights_are_noted_and_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, ids):
            return self.head(self.embed(ids))

    cost = costlab.analyze(Tied(), inputs=(torch.zeros(1, 3, dtype=torch.long),))
    rows = {m.path: m.params for m in cost.modules(1)}
    assert rows == {"embed": 40, "head": 40} and cost.total.params == 40
    assert cost.info.notes == [
        "tied weight of 40 params held by embed and head: in each of their rows' params, "
        "once in the total"]
    # a module shared under two paths is one module: nothing to note
    shared = nn.Linear(4, 4)
    assert costlab.analyze(nn.Sequential(shared, shared), input_shape=(1, 4)).info.notes == []
