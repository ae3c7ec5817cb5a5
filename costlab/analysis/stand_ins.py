"""Meta stand-ins for a real-weight module: trace its forward without running a kernel.

A module on the CPU (or CUDA) is analyzed like one built on meta: each parameter and buffer
gets an empty meta tensor of its shape, strides and dtype (no data is copied), swapped in
for one forward by ``torch.func.functional_call``, and the inputs go to meta too. The counts
are the meta trace's, so ``--device cpu`` and ``--device meta`` give the same numbers.

Identity is kept: a tied weight (one tensor under several names) gets one stand-in, so it
is still one parameter, counted once; buffers stay buffers (BatchNorm running stats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map

from costlab.analysis.params import ModuleIndex


@dataclass(kw_only=True)
class MetaStandIns:
    """A module's tensors on meta: by name for ``functional_call``, and its index."""

    tensors: dict[str, torch.Tensor]  # every name, tied ones included -> its stand-in
    index: ModuleIndex  # the module's index with the stand-ins for its tensors


def _meta_like(t: torch.Tensor) -> torch.Tensor:
    # requires_grad too: matmul folds a 3-D input into one mm when an operand requires
    # grad, even under no_grad, so the op stream depends on it
    meta = torch.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype,
                               device="meta")
    return meta.requires_grad_() if t.requires_grad else meta


def needs_stand_ins(index: ModuleIndex, tensors: list[torch.Tensor]) -> bool:
    """Whether anything the forward reads lives off meta (weights or inputs)."""
    return any(not t.is_meta for t in (*index.params, *index.buffers, *tensors))


def meta_stand_ins(model: nn.Module, index: ModuleIndex) -> MetaStandIns:
    """One meta tensor per unique parameter and buffer of ``model`` (indexed as ``index``)."""
    by_id: dict[int, torch.Tensor] = {}
    for t in (*index.params, *index.buffers):
        if id(t) not in by_id:
            by_id[id(t)] = _meta_like(t)
    tensors = {name: by_id[id(t)] for name, t in
               (*model.named_parameters(remove_duplicate=False),
                *model.named_buffers(remove_duplicate=False)) if id(t) in by_id}
    owners = {id(by_id[key]): (by_id[key], paths) for key, (_, paths) in index._owners.items()}
    meta_index = ModuleIndex(index.paths, [by_id[id(p)] for p in index.params],
                             [by_id[id(b)] for b in index.buffers], owners)
    return MetaStandIns(tensors=tensors, index=meta_index)


def inputs_on_meta(value: Any) -> Any:
    """``value`` (tensors nested in tuples, lists and dicts) with every tensor on meta."""
    return tree_map(lambda t: t.to("meta") if isinstance(t, torch.Tensor) else t, value)


__all__ = ["MetaStandIns", "inputs_on_meta", "meta_stand_ins", "needs_stand_ins"]
