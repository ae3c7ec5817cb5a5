"""What a real training step holds in memory, as torch's memory profiler sees it (CPU).

One step (forward, loss, backward, optimizer step, ``zero_grad(set_to_none=True)``) runs
under ``torch.profiler.profile(profile_memory=True)``, and the profiler's memory timeline
sorts every allocation into its categories: parameter, gradient, optimizer state, input,
activation, temporary, autograd detail. A warm-up step runs first, unprofiled, so the
optimizer's state already exists, as in every step of a training run but the first.

This is the measured side the static training-memory count is checked against
(``benchmarks/training_memory.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from costlab.core.errors import UsageError

# the profiler's timeline columns, after its leading one: torch/profiler/_memory_profiler.py's
# _CATEGORY_TO_INDEX order (None: allocations it could not categorize)
CATEGORIES = ("parameter", "optimizer_state", "input", "temporary", "activation", "gradient",
              "autograd_detail", "unknown")

OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "sgd": lambda params: _optim().SGD(params, lr=0.01),
    "sgd-momentum": lambda params: _optim().SGD(params, lr=0.01, momentum=0.9),
    "adam": lambda params: _optim().Adam(params, lr=1e-3),
    "adamw": lambda params: _optim().AdamW(params, lr=1e-3),
}


def _optim() -> Any:
    import torch

    return torch.optim


@dataclass(frozen=True, kw_only=True)
class MeasuredStepMemory:
    """Bytes per category: the largest each reached during the step, and the totals at the
    step's peak (the moment the sum over categories was largest)."""

    peak_bytes: int
    at_peak: dict[str, int]
    largest: dict[str, int]
    samples: int  # timeline points
    notes: list[str] = field(default_factory=list)

    @property
    def weights_bytes(self) -> int:
        return self.largest["parameter"]

    @property
    def gradients_bytes(self) -> int:
        return self.largest["gradient"]

    @property
    def optimizer_state_bytes(self) -> int:
        return self.largest["optimizer_state"]


def _timeline(profiler: Any) -> tuple[list[int], list[list[int]]]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "timeline.json")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of CUDA-only
            profiler.export_memory_timeline(path, device="cpu")
        with open(path, encoding="utf-8") as handle:
            times, sizes = json.load(handle)
    return times, sizes


def measure_step_memory(module: Any, inputs: Sequence[Any], *, optimizer: str = "sgd",
                        loss: Callable[[Any], Any] | None = None) -> MeasuredStepMemory:
    """Run one profiled training step of ``module`` on ``inputs`` (CPU tensors)."""
    from torch.profiler import ProfilerActivity, profile

    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    loss = loss or (lambda output: sum(t.sum() for t in _leaves(output)))
    trainable = [p for p in module.parameters() if p.requires_grad]
    step = OPTIMIZERS[optimizer](trainable)
    was_training = module.training
    module.train()
    try:
        def one_step() -> None:
            loss(module(*inputs)).backward()
            step.step()
            step.zero_grad(set_to_none=True)

        one_step()  # the optimizer's state now exists, as in every later step
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                     record_shapes=True, with_stack=True) as profiler:
            one_step()
    finally:
        module.train(was_training)
    times, sizes = _timeline(profiler)
    rows = [row[1:1 + len(CATEGORIES)] for row in sizes]
    totals = [sum(row) for row in rows]
    peak = max(range(len(rows)), key=totals.__getitem__)
    notes = []
    if any(row[CATEGORIES.index("unknown")] for row in rows):
        notes.append("some allocations the profiler could not categorize (unknown)")
    return MeasuredStepMemory(
        peak_bytes=totals[peak], at_peak=dict(zip(CATEGORIES, rows[peak])),
        largest={c: max(row[i] for row in rows) for i, c in enumerate(CATEGORIES)},
        samples=len(times), notes=notes)


def _leaves(output: Any) -> list[Any]:
    import torch
    from torch.utils._pytree import tree_leaves

    return [t for t in tree_leaves(output) if isinstance(t, torch.Tensor) and t.is_floating_point()]
