"""The dataflow graph of a trace: which op feeds which, where it can be cut, how wide it is.

Pure functions over ``OpRecord`` lists (``record.sources`` holds the edges); no torch.
Ops are addressed by their position in the list, which is execution order and therefore a
topological order: every op's producers come before it. The model input (and any constant
no recorded op wrote) is the virtual node ``INPUT`` = -1, placed before every op.

Blocks. A *cut point* is an op that no edge jumps over: nothing before it is read after it,
so everything downstream depends on the model input only through that op's result. That
is exactly where one unit hands its result to the next. A *segment* is the stretch of ops
after one cut point up to and including the next. Segments are found from the graph
alone, so a flat ``nn.Sequential``, a functional forward and a deeply nested model yield
the same blocks; a segment of one op is a link of a plain chain, a longer one is a unit
with a skip, a branch or a merge (a residual block, an Inception module). A stack of units
that each also read an earlier unit's input (NASNet's cells read the two previous cells)
has no cut point inside; ``blocks`` splits such a segment at its modules' boundaries.

Width. How many ops of a set could run at the same time is the size of its largest
*antichain*: the most ops no two of which are connected by a path. By Dilworth's theorem
that equals the fewest chains covering the set, computed here as the set's size minus a
maximum matching in the reachability relation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from costlab.core.records import OpRecord

INPUT = -1  # the virtual producer of the model input and of constants


def predecessors(records: Sequence[OpRecord]) -> list[tuple[int, ...]]:
    """For each op (by position), the positions of the ops it reads, ``INPUT`` for the model
    input. A source that is not among ``records`` counts as ``INPUT`` (it comes from outside)."""
    position = {r.index: i for i, r in enumerate(records)}
    return [tuple(position.get(s, INPUT) for s in r.sources) for r in records]


def successors(records: Sequence[OpRecord]) -> list[list[int]]:
    """For each op (by position), the positions of the ops that read its result, once each."""
    succ: list[list[int]] = [[] for _ in records]
    for consumer, sources in enumerate(predecessors(records)):
        for producer in dict.fromkeys(sources):  # an op reading one tensor twice: one edge
            if producer != INPUT:
                succ[producer].append(consumer)
    return succ


def cut_points(records: Sequence[OpRecord]) -> list[bool]:
    """For each op, whether it is a cut point: no edge runs from before it to after it.

    An edge from the model input jumps over every op before its consumer, so ops that run
    while the input is still to be read elsewhere (parallel first branches) are not cuts.
    """
    n = len(records)
    crossing = [0] * (n + 1)  # difference array: edges spanning each position
    for consumer, sources in enumerate(predecessors(records)):
        for producer in sources:
            if consumer - producer > 1:
                crossing[producer + 1] += 1
                crossing[consumer] -= 1
    cuts, running = [], 0
    for i in range(n):
        running += crossing[i]
        cuts.append(running == 0)
    return cuts


def segments(records: Sequence[OpRecord]) -> list[range]:
    """The ops between consecutive cut points, as position ranges covering every op once.

    Each range ends at a cut point (or at the last op): ops after cut point ``a`` up to and
    including cut point ``b``.
    """
    result, start = [], 0
    for i, is_cut in enumerate(cut_points(records)):
        if is_cut:
            result.append(range(start, i + 1))
            start = i + 1
    if start < len(records):
        result.append(range(start, len(records)))
    return result


def reachable_members(succ: Sequence[Sequence[int]], positions: Sequence[int],
                      is_member: Callable[[int], bool]) -> dict[int, int]:
    """For each op of ``positions`` (ascending), a bitmask of the member ops it reaches by
    paths inside ``positions``; bit ``i`` stands for ``positions[i]``. Within a segment no
    path leaves it, since every op on a path between two of its ops runs between them."""
    offset = {p: i for i, p in enumerate(positions)}
    reach: dict[int, int] = {}
    for p in reversed(positions):
        mask = 0
        for s in succ[p]:
            i = offset.get(s)
            if i is not None:
                mask |= reach[s]
                if is_member(s):
                    mask |= 1 << i
        reach[p] = mask
    return reach


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def max_antichain(succ: Sequence[Sequence[int]], positions: Sequence[int],
                  is_member: Callable[[int], bool] = lambda p: True) -> int:
    """The most member ops of ``positions`` that could run concurrently (none reaches
    another through ``positions``).

    Dilworth: width = members - a maximum matching of the bipartite graph u -> w whenever
    w is reachable from u (Kuhn's augmenting paths over bitmasks; a greedy first pass
    leaves few to augment).
    """
    members = [p for p in positions if is_member(p)]
    if not members:
        return 0
    reach = reachable_members(succ, positions, is_member)
    owner: dict[int, int] = {}  # right side (bit) -> left side (position) matched to it

    def augment(u: int, seen: list[int]) -> bool:
        for w in _bits(reach[u] & ~seen[0]):
            seen[0] |= 1 << w
            if w not in owner or augment(owner[w], seen):
                owner[w] = u
                return True
        return False

    unmatched = []
    for u in members:  # greedy: the first free successor
        free = next((w for w in _bits(reach[u]) if w not in owner), None)
        if free is None:
            unmatched.append(u)
        else:
            owner[free] = u
    for u in unmatched:  # Berge: an op with no augmenting path now never gets one later
        augment(u, [0])
    return len(members) - len(owner)


@dataclass(frozen=True, slots=True)
class Block:
    """A unit of the network for fragmentation: ops that run between two cut points."""

    module: str  # the deepest module holding all its ops ("" = the model itself)
    positions: tuple[int, ...]  # ascending


def blocks(records: Sequence[OpRecord]) -> list[Block]:
    """The units of the network: each segment of more than one op, split where the graph
    cannot cut it.

    A segment whose ops all sit in several children of their common module (none in the
    module itself) is a stack of units that each also read an earlier unit's input
    (NASNet's cells read the two previous cells). It is split into one unit per child,
    recursively, so each unit is measured on its own; units of one op are plain links.
    """
    result: list[Block] = []
    for segment in segments(records):
        if len(segment) > 1:
            result.extend(_split(records, tuple(segment)))
    return result


def _split(records: Sequence[OpRecord], positions: tuple[int, ...]) -> list[Block]:
    module = common_module(records[p].module for p in positions)
    depth = len(module.split(".")) if module else 0
    children: dict[str | None, list[int]] = {}
    for p in positions:
        parts = records[p].module.split(".") if records[p].module else []
        child = ".".join(parts[:depth + 1]) if len(parts) > depth else None
        children.setdefault(child, []).append(p)
    if None in children or len(children) < 2:  # the module runs ops itself: one unit
        return [Block(module, positions)] if len(positions) > 1 else []
    return [b for ps in children.values() for b in _split(records, tuple(ps))]


def common_module(paths: Iterable[str]) -> str:
    """The deepest module containing all ``paths`` ("" when only the root does)."""
    prefix: list[str] | None = None
    for path in paths:
        parts = path.split(".") if path else []
        if prefix is None:
            prefix = parts
            continue
        n = 0
        while n < min(len(prefix), len(parts)) and prefix[n] == parts[n]:
            n += 1
        prefix = prefix[:n]
    return ".".join(prefix or [])


def sole_consumer(succ: Sequence[Sequence[int]], producer: int, consumer: int) -> bool:
    """Whether ``consumer`` is the only op reading ``producer``'s result (so the two could be
    fused without keeping the intermediate)."""
    return producer != INPUT and list(succ[producer]) == [consumer]


__all__ = ["INPUT", "Block", "blocks", "common_module", "cut_points", "max_antichain",
           "predecessors", "reachable_members", "segments", "sole_consumer", "successors"]
