"""One training step, traced: forward, loss, backward through autograd, optimizer step.

The forward runs with autograd on (on meta, like an inference trace), so autograd records
the graph; the loss (by default the sum of the model's floating outputs) is computed
inside the trace; ``torch.autograd.grad`` then runs the backward under the same modes, so
every backward op is recorded, counted by the same registry and attributed to the module
whose forward made its autograd node. Only parameters that require grad get gradients;
inputs never do (autograd then skips the first layer's input gradient, as a real step
does). ``autograd.grad`` returns the gradients instead of writing ``.grad``, so the
model is left as it was.

The optimizer step is element-wise and is not traced: one record per trainable parameter
tensor with a gradient, costed by ``analysis/optimizer.py``'s documented rules (FLOPs and
the bytes it reads and writes).

Memory comes from the same storage lifetimes as the inference peak: each activation and
gradient lives from the op that writes it to the last op that reads it (a gradient, to
its optimizer update); weights, fp32 masters and optimizer states are alive throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from costlab.analysis.optimizer import (
    PRECISIONS,
    Optimizer,
    Precision,
    RULES,
    StepStateBytes,
    state_bytes,
    step_counts,
)
from costlab.analysis.params import ModuleIndex
from costlab.analysis.tracer import TraceState, new_state, run_forward, tracing
from costlab.core.categories import OpCategory, Phase
from costlab.core.errors import ForwardError
from costlab.core.records import OpRecord, TrainingMemory, TrainingSetup

Loss = Callable[[Any], torch.Tensor]
DEFAULT_LOSS = "sum of the outputs"

# the storage dtype of the traced forward and backward in each precision (None: each
# tensor's own dtype)
TRACE_DTYPES: dict[Precision, torch.dtype | None] = {
    Precision.FP32: None, Precision.BF16_MIXED: torch.bfloat16,
    Precision.FP16_MIXED: torch.float16}


def sum_of_outputs(output: Any) -> torch.Tensor:
    """The default loss: every floating tensor of the output summed to one scalar."""
    leaves = [t for t in tree_leaves(output)
              if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not leaves:
        raise ForwardError("the model returned no floating-point tensor to sum into a loss; "
                           "pass loss=callable(output) -> scalar")
    total = leaves[0].sum()
    for t in leaves[1:]:
        total = total + t.sum()
    return total


@dataclass(frozen=True, kw_only=True)
class StepOptions:
    """How to trace a training step: the optimizer, the precision and the loss."""

    optimizer: Optimizer = Optimizer.SGD
    precision: Precision = Precision.FP32
    loss: Loss | None = None  # None: the sum of the outputs


@dataclass(kw_only=True)
class TracedStep:
    """What a traced training step leaves: the tracer's state and the step's facts."""

    state: TraceState
    output: Any
    memory: TrainingMemory
    setup: TrainingSetup
    notes: list[str]


def trace_step(model: nn.Module, inputs: tuple, input_kwargs: dict | None = None, *,
               index: ModuleIndex, optimizer: Optimizer = Optimizer.SGD,
               precision: Precision = Precision.FP32, loss: Loss | None = None,
               storage_dtype: torch.dtype | None = None,
               formulas: Mapping[Any, Callable[..., Any]] | None = None,
               tensors: Mapping[str, torch.Tensor] | None = None) -> TracedStep:
    """Trace one training step of ``model`` (already in train mode) on ``inputs``.

    ``index`` indexes the tensors the forward reads (the stand-ins' when ``tensors`` swaps
    them in). ``storage_dtype`` defaults to the precision's (16-bit for mixed)."""
    if storage_dtype is None:
        storage_dtype = TRACE_DTYPES[precision]
    state = new_state(model, inputs, input_kwargs, storage_dtype=storage_dtype, index=index,
                      formulas=formulas, training=True)
    trainable = [p for p in index.params if p.requires_grad]
    loss_fn = loss or sum_of_outputs
    with torch.enable_grad(), tracing(model, state):
        output = run_forward(model, state, inputs, input_kwargs, tensors)
        state.stack.clear()  # the loss is the root's: outside every module
        try:
            value = loss_fn(output)
        except ForwardError:
            raise
        except Exception as exc:
            raise ForwardError(f"the loss raised {type(exc).__name__}: "
                               f"{(str(exc).strip().splitlines() or [''])[0]}") from exc
        _check_loss(value, trainable)
        boundary = len(state.records)
        state.phase = Phase.BACKWARD
        try:
            grads = torch.autograd.grad(value, trainable, allow_unused=True)
        except Exception as exc:  # an op with no backward, a user's autograd.Function
            where = state.backward_module() or "(root)"
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ForwardError(f"the backward failed in module {where!r}: "
                               f"{type(exc).__name__}: {first}") from exc
    del value
    state.phase = Phase.OPTIMIZER
    backward_end = len(state.records)
    updated = [(p, g) for p, g in zip(trainable, grads) if g is not None]
    gradient_spans = _gradient_spans(state, [g for _, g in updated])
    for p, _ in updated:
        state.records.append(_optimizer_record(state, p, optimizer, precision))
    for span in gradient_spans.values():  # read by their updates; freed after the step
        span[2] = len(state.records) - 1
    unused = len(trainable) - len(updated)
    notes = []
    if unused:
        notes.append(f"{unused} parameter tensor(s) that require grad got no gradient (the "
                     f"loss does not depend on them): no optimizer update, as in torch")
    setup = TrainingSetup(
        optimizer=optimizer.value, precision=precision.value,
        loss=DEFAULT_LOSS if loss is None else getattr(loss, "__name__", type(loss).__name__),
        trainable_params=sum(p.numel() for p in trainable),
        frozen_params=sum(p.numel() for p in index.params if not p.requires_grad),
        trainable_tensors=len(trainable))
    memory = _training_memory(state, index=index, updated=[p for p, _ in updated],
                              gradient_spans=gradient_spans, boundary=boundary,
                              backward_end=backward_end, optimizer=optimizer,
                              precision=precision)
    return TracedStep(state=state, output=output, memory=memory, setup=setup, notes=notes)


def _check_loss(value: Any, trainable: list[torch.Tensor]) -> None:
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ForwardError(f"the loss must be a scalar tensor, got {shape}")
    if not trainable:
        raise ForwardError("no parameter requires grad: nothing to train (unfreeze some, "
                           "or analyze the inference forward)")
    if not value.requires_grad:
        raise ForwardError("the loss does not depend on any parameter that requires grad: "
                           "nothing to train")


def _gradient_spans(state: TraceState, grads: list[torch.Tensor]) -> dict[int, list[int]]:
    """The lifetime spans of the gradients' storages, by storage key."""
    spans = {}
    for g in grads:
        key = g.untyped_storage()._cdata
        span = state.live.get(key)
        if span is None:  # written outside the trace (a zero gradient autograd made)
            state.add_activation(g, len(state.records) - 1)
            span = state.live[key]
        spans[key] = span
    return spans


def _optimizer_record(state: TraceState, param: torch.Tensor, optimizer: Optimizer,
                      precision: Precision) -> OpRecord:
    """One parameter tensor's update, charged to the module that registers it."""
    owners = state.owners.get(param.untyped_storage()._cdata) or ("",)
    module = owners[0]
    rule = RULES[optimizer]
    shape = tuple(param.shape)
    counts = step_counts(param.numel(), optimizer, precision)
    return OpRecord(
        index=len(state.records), module=module, module_type=state.module_types.get(module, ""),
        op=f"{optimizer.value}_step", category=OpCategory.OPTIMIZER,
        input_shapes=(shape,), output_shapes=(shape,), counts=counts, params=0,
        attrs={"note": f"{rule.formula}: {rule.flops + PRECISIONS[precision].extra_step_flops}"
                       f" FLOPs per element"},
        phase=Phase.OPTIMIZER)


def _training_memory(state: TraceState, *, index: ModuleIndex, updated: list[torch.Tensor],
                     gradient_spans: dict[int, list[int]], boundary: int, backward_end: int,
                     optimizer: Optimizer, precision: Precision) -> TrainingMemory:
    """Weights, gradients, optimizer state and the step's peak, from the spans."""
    steady = _parameter_bytes(index, updated, optimizer, precision)
    gradient_ids = {id(span) for span in gradient_spans.values()}
    peak, peak_at = state.peak_live()
    saved = gradients_at_peak = saved_at_peak = 0
    for span in state.spans:
        size, first, last = span
        if id(span) in gradient_ids:
            if first <= peak_at <= last:
                gradients_at_peak += size
            continue
        if first < boundary <= last:
            saved += size
            if first <= peak_at <= last:
                saved_at_peak += size
    alive = peak  # activations, temporaries and gradients alive at the peak
    phase = (Phase.FORWARD if peak_at < boundary else
             Phase.BACKWARD if peak_at < backward_end else Phase.OPTIMIZER)
    return TrainingMemory(
        weights_bytes=steady.weights_bytes, gradients_bytes=steady.gradients_bytes,
        optimizer_state_bytes=steady.optimizer_state_bytes, activation_bytes=saved,
        peak_bytes=steady.weights_bytes + steady.optimizer_state_bytes + alive,
        peak_phase=phase.value, peak_op=peak_at, peak_gradients_bytes=gradients_at_peak,
        peak_activation_bytes=saved_at_peak,
        peak_temporary_bytes=alive - gradients_at_peak - saved_at_peak)


def _parameter_bytes(index: ModuleIndex, updated: list[torch.Tensor], optimizer: Optimizer,
                     precision: Precision) -> StepStateBytes:
    """Weights (and masters), gradients and optimizer state of the parameters. In fp32
    each tensor keeps its own dtype (a bf16 checkpoint trains in bf16), states included,
    as torch.optim keeps them; mixed precision follows the precision's sizes."""
    updated_ids = {id(p) for p in updated}
    if precision is not Precision.FP32:
        trainable = sum(p.numel() for p in updated)
        frozen = sum(p.numel() for p in index.params if id(p) not in updated_ids)
        return state_bytes(trainable=trainable, frozen=frozen,
                           trainable_tensors=len(updated), optimizer=optimizer,
                           precision=precision)
    weights = gradients = states = 0
    rule = RULES[optimizer]
    for p in index.params:
        size = p.numel() * p.dtype.itemsize
        weights += size
        if id(p) in updated_ids:
            gradients += size
            states += rule.states * size
    counters = state_bytes(trainable=0, frozen=0, trainable_tensors=len(updated),
                           optimizer=optimizer).optimizer_state_bytes
    return StepStateBytes(weights_bytes=weights, gradients_bytes=gradients,
                          optimizer_state_bytes=states + counters)


__all__ = ["DEFAULT_LOSS", "Loss", "StepOptions", "TracedStep", "sum_of_outputs", "trace_step"]
