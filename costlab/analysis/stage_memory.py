"""Activation memory per spatial resolution, from the traced op records alone.

MobileNetV2's Table 3 asks, for each spatial resolution of a network, how much activation
memory must be materialized at once. Two answers are computed here:

- ``largest_tensor_bytes``: the paper's own measure, the widest activation at that
  resolution (max channels x h x w x bytes per element): one tensor, nothing else held.
- ``live_bytes``: what an inference runtime must hold while the ops of that stage run: at
  each op, every activation already written and still to be read (its inputs, its output,
  and shortcuts kept for later), the largest such set among the stage's ops.

The live set follows the dataflow edges in ``OpRecord.sources``. A tensor lives from the
op that writes it to the last op that reads it (the model input from the start; a tensor
nobody reads only during its own op). A unary element-wise op (BatchNorm, an activation)
whose input has no other reader is taken to run in place, as inference runtimes fuse or
overwrite them: its output is the same buffer as its input. Each op's first output is its
activation (max-pooling's indices are not kept at inference). Bytes are counted at
``itemsize`` bytes per element, 2 for the paper's 16-bit activations.

An op's stage is the largest spatial size among its activation inputs and output: a
stride-2 op belongs to the resolution it reads, whose tensor it must still hold. Tensors
without spatial dimensions (after global pooling) are at 1x1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from costlab.analysis import graph
from costlab.core.categories import OpCategory
from costlab.core.records import OpRecord, Shape

IN_PLACE_CATEGORIES = frozenset({OpCategory.NORM, OpCategory.ACTIVATION})


def spatial_size(shape: Shape) -> tuple[int, int]:
    """(h, w) of an NCHW activation; (1, 1) for one without spatial dimensions."""
    return (int(shape[-2]), int(shape[-1])) if len(shape) >= 4 else (1, 1)


def channels(shape: Shape) -> int:
    return int(shape[1]) if len(shape) >= 2 else int(shape[0]) if shape else 1


@dataclass(frozen=True)
class StageMemory:
    """Activation memory at one spatial resolution of a network."""

    height: int
    width: int
    max_channels: int  # the widest activation at this resolution
    largest_tensor_bytes: int  # max_channels x height x width x itemsize
    live_bytes: int  # the most activation bytes held at once while this stage's ops run
    live_at: str  # the module (and op) where that happens
    ops: int  # ops in this stage

    @property
    def label(self) -> str:
        return f"{self.height}x{self.width}"


def _first_output(record: OpRecord) -> Shape | None:
    return record.output_shapes[0] if record.output_shapes else None


def _canonical_buffers(records: Sequence[OpRecord]) -> list[int]:
    """For each op, the op whose output buffer it writes: itself, or for an in-place
    unary op, the buffer of its input (followed back through chains of such ops)."""
    succ = graph.successors(records)
    owner = list(range(len(records)))
    for r in records:
        if r.category in IN_PLACE_CATEGORIES and len(r.sources) == 1 \
                and graph.sole_consumer(succ, r.sources[0], r.index) \
                and _first_output(r) == _first_output(records[r.sources[0]]):
            owner[r.index] = owner[r.sources[0]]
    return owner


def live_bytes_per_op(records: Sequence[OpRecord], itemsize: int = 2) -> list[int]:
    """For each op, the activation bytes held while it runs (see the module docstring)."""
    n = len(records)
    if any(r.index != i for i, r in enumerate(records)):
        raise ValueError("records must be a whole trace, indexed 0..n-1 in order")
    owner = _canonical_buffers(records)
    size: dict[int, int] = {}
    birth: dict[int, int] = {}
    death: dict[int, int] = {}
    for r in records:
        shape = _first_output(r)
        buffer = owner[r.index]
        if buffer == r.index:
            size[buffer] = math.prod(shape) * itemsize if shape is not None else 0
            birth[buffer] = r.index
        death[buffer] = max(death.get(buffer, r.index), r.index)
        for s, shape_in in zip(r.sources, r.input_shapes):
            if s == graph.INPUT:
                # a model input (or a constant): alive from the start to its last reader
                key = (graph.INPUT, shape_in)
                size.setdefault(key, math.prod(shape_in) * itemsize)
                birth[key] = 0
                death[key] = max(death.get(key, 0), r.index)
            else:
                death[owner[s]] = max(death[owner[s]], r.index)
    delta = [0] * (n + 1)
    for key, nbytes in size.items():
        delta[birth[key]] += nbytes
        delta[death[key] + 1] -= nbytes
    live, running = [], 0
    for i in range(n):
        running += delta[i]
        live.append(running)
    return live


def _stage_of(record: OpRecord) -> tuple[int, int]:
    shapes = list(record.input_shapes) + list(record.output_shapes[:1])
    if not shapes:
        return (1, 1)
    return max((spatial_size(s) for s in shapes), key=lambda hw: (hw[0] * hw[1], hw))


def stage_memory(records: Sequence[OpRecord], itemsize: int = 2) -> list[StageMemory]:
    """Activation memory per spatial resolution, largest resolution first."""
    live = live_bytes_per_op(records, itemsize)
    stages: dict[tuple[int, int], dict] = {}
    for r in records:
        hw = _stage_of(r)
        stage = stages.setdefault(hw, {"max_channels": 0, "live": -1, "at": "", "ops": 0})
        stage["ops"] += 1
        if live[r.index] > stage["live"]:
            stage["live"], stage["at"] = live[r.index], f"{r.module or '(root)'} ({r.op})"
    # the widest tensor of each resolution, wherever it is read or written
    for r in records:
        for shape in list(r.input_shapes) + list(r.output_shapes[:1]):
            stage = stages.get(spatial_size(shape))
            if stage is not None:
                stage["max_channels"] = max(stage["max_channels"], channels(shape))
    return [StageMemory(h, w, s["max_channels"], s["max_channels"] * h * w * itemsize,
                        s["live"], s["at"], s["ops"])
            for (h, w), s in sorted(stages.items(), key=lambda kv: -kv[0][0] * kv[0][1])]
