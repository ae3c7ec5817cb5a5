"""The optimizer step and the training precisions, as documented per-element formulas.

An optimizer step is element-wise over every parameter that requires grad, so its cost is
the number of such elements times a per-element rule: FLOPs, and the tensors read and
written (parameter, gradient, each state). The rules follow torch.optim's single-tensor
updates (``foreach`` and ``fused`` kernels do the same arithmetic in fewer launches):

- ``sgd``: ``p -= lr * g``: one multiply-add, 2 FLOPs; reads p and g, writes p.
- ``sgd-momentum``: ``b = m * b + g; p -= lr * b``: 4 FLOPs; one state (b).
- ``adam``: ``m.lerp_(g, 1 - b1)`` (3), ``v.mul_(b2).addcmul_(g, g, 1 - b2)`` (4),
  ``denom = v.sqrt() / c2 + eps`` (3), ``p.addcdiv_(m, denom, -lr / c1)`` (3): 13 FLOPs;
  two states (m, v). Bias corrections are per-tensor scalars and not counted.
- ``adamw``: adam plus the decoupled decay ``p *= 1 - lr * wd``: 14 FLOPs.

Precisions: ``fp32`` keeps weights, gradients and states in fp32. ``bf16-mixed`` and
``fp16-mixed`` compute with 16-bit weights and activations and 16-bit gradients, and keep
fp32 master weights and fp32 optimizer states: the step reads the 16-bit gradient and the
fp32 master and states, writes master and states, and writes the new 16-bit weights (a cast,
no FLOPs). ``fp16-mixed`` also unscales the gradient and checks it for inf/nan (the loss
scaler): 2 FLOPs more per element.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from costlab.core.errors import UsageError
from costlab.core.records import Counts


class Optimizer(str, Enum):
    SGD = "sgd"
    SGD_MOMENTUM = "sgd-momentum"
    ADAM = "adam"
    ADAMW = "adamw"


class Precision(str, Enum):
    FP32 = "fp32"
    BF16_MIXED = "bf16-mixed"
    FP16_MIXED = "fp16-mixed"


@dataclass(frozen=True, kw_only=True)
class UpdateRule:
    """What one parameter element costs in one step of an optimizer."""

    flops: int
    states: int  # state tensors per parameter, each the parameter's size
    formula: str
    step_counter: bool = False  # a 0-d fp32 step count per parameter tensor (torch's Adam)


RULES: dict[Optimizer, UpdateRule] = {
    Optimizer.SGD: UpdateRule(flops=2, states=0, formula="p -= lr*g"),
    Optimizer.SGD_MOMENTUM: UpdateRule(flops=4, states=1, formula="b = m*b + g; p -= lr*b"),
    Optimizer.ADAM: UpdateRule(
        flops=13, states=2,
        formula="m = lerp(m, g, 1-b1); v = b2*v + (1-b2)*g*g; p -= (lr/c1) * m/(sqrt(v)/c2 + eps)",
        step_counter=True),
    Optimizer.ADAMW: UpdateRule(flops=14, states=2,
                                formula="adam, then p *= 1 - lr*wd (decoupled decay)",
                                step_counter=True),
}


@dataclass(frozen=True, kw_only=True)
class PrecisionPolicy:
    """Bytes per element of each kind of training tensor."""

    weight_bytes: int  # the weights the forward and backward read
    gradient_bytes: int
    master_bytes: int  # fp32 master copy of the weights; 0 when the weights are fp32
    state_bytes: int  # each optimizer state
    activation_bytes: int
    extra_step_flops: int = 0  # the loss scaler's unscale and inf/nan check


PRECISIONS: dict[Precision, PrecisionPolicy] = {
    Precision.FP32: PrecisionPolicy(weight_bytes=4, gradient_bytes=4, master_bytes=0,
                                    state_bytes=4, activation_bytes=4),
    Precision.BF16_MIXED: PrecisionPolicy(weight_bytes=2, gradient_bytes=2, master_bytes=4,
                                          state_bytes=4, activation_bytes=2),
    Precision.FP16_MIXED: PrecisionPolicy(weight_bytes=2, gradient_bytes=2, master_bytes=4,
                                          state_bytes=4, activation_bytes=2,
                                          extra_step_flops=2),
}


def _member(kind: type[Enum], name: str | Enum, what: str) -> Any:
    try:
        return kind(name)
    except ValueError:
        raise UsageError(f"unknown {what} {name!r}; choose from "
                         f"{', '.join(m.value for m in kind)}") from None


def optimizer_named(name: str | Optimizer) -> Optimizer:
    return _member(Optimizer, name, "optimizer")


def precision_named(name: str | Precision) -> Precision:
    return _member(Precision, name, "precision")


def step_counts(elements: int, optimizer: str | Optimizer = Optimizer.SGD,
                precision: str | Precision = Precision.FP32) -> Counts:
    """The optimizer step over ``elements`` trainable parameter elements."""
    rule = RULES[optimizer_named(optimizer)]
    policy = PRECISIONS[precision_named(precision)]
    if policy.master_bytes:
        # read the 16-bit gradient, the fp32 master and states; write master, states and
        # the 16-bit weights the next forward reads
        read = policy.gradient_bytes + policy.master_bytes + rule.states * policy.state_bytes
        written = policy.master_bytes + rule.states * policy.state_bytes + policy.weight_bytes
    else:
        read = policy.weight_bytes + policy.gradient_bytes + rule.states * policy.state_bytes
        written = policy.weight_bytes + rule.states * policy.state_bytes
    return Counts(macs=0, flops=elements * (rule.flops + policy.extra_step_flops),
                  bytes_read=elements * read, bytes_written=elements * written)


@dataclass(frozen=True, kw_only=True)
class StepStateBytes:
    """What a training step keeps for its parameters, in bytes."""

    weights_bytes: int  # weights as the forward reads them, plus fp32 masters if mixed
    gradients_bytes: int
    optimizer_state_bytes: int


STEP_COUNTER_BYTES = 4  # torch keeps Adam's step as a 0-d float32 tensor per parameter


def state_bytes(*, trainable: int, frozen: int, trainable_tensors: int = 0,
                optimizer: str | Optimizer = Optimizer.SGD,
                precision: str | Precision = Precision.FP32) -> StepStateBytes:
    """Weights, gradients and optimizer state of ``trainable`` and ``frozen`` parameter
    elements (frozen ones have weights only: no gradient, no state, no master copy);
    ``trainable_tensors`` counts the step counters of optimizers that keep one per tensor."""
    rule = RULES[optimizer_named(optimizer)]
    policy = PRECISIONS[precision_named(precision)]
    counters = trainable_tensors * STEP_COUNTER_BYTES if rule.step_counter else 0
    return StepStateBytes(
        weights_bytes=(trainable + frozen) * policy.weight_bytes
        + trainable * policy.master_bytes,
        gradients_bytes=trainable * policy.gradient_bytes,
        optimizer_state_bytes=trainable * rule.states * policy.state_bytes + counters)
