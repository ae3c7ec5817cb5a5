from __future__ import annotations

import pytest
import torch

from costlab.analysis.optimizer import (RULES, Optimizer, Precision, state_bytes, step_counts)
from costlab.core.errors import UsageError

TORCH_OPTIMIZERS = {
    Optimizer.SGD: lambda p: torch.optim.SGD(p, lr=0.1),
    Optimizer.SGD_MOMENTUM: lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    Optimizer.ADAM: lambda p: torch.optim.Adam(p),
    Optimizer.ADAMW: lambda p: torch.optim.AdamW(p),
}


@pytest.mark.parametrize("optimizer", list(Optimizer))
def test_state_tensors_match_torch_optim(optimizer):
    weights = [torch.nn.Parameter(torch.randn(3, 5)), torch.nn.Parameter(torch.randn(7))]
    opt = TORCH_OPTIMIZERS[optimizer](weights)
    sum(w.sum() for w in weights).backward()
    opt.step()
    full = [v for w in weights for v in opt.state[w].values()
            if isinstance(v, torch.Tensor) and v.shape == w.shape]
    assert len(full) == 2 * RULES[optimizer].states
    held = sum(v.numel() * v.element_size() for w in weights for v in opt.state[w].values()
               if isinstance(v, torch.Tensor))  # the full-size states and any step counters
    assert state_bytes(trainable=22, frozen=0, trainable_tensors=2,
                       optimizer=optimizer).optimizer_state_bytes == held


@pytest.mark.parametrize("optimizer,flops,read,written", [
    ("sgd", 2, 8, 4), ("sgd-momentum", 4, 12, 8), ("adam", 13, 16, 12), ("adamw", 14, 16, 12)])
def test_fp32_step(optimizer, flops, read, written):
    counts = step_counts(1000, optimizer)
    assert (counts.macs, counts.flops, counts.bytes_read, counts.bytes_written) == \
        (0, 1000 * flops, 1000 * read, 1000 * written)


def test_mixed_precision_step_reads_masters_and_writes_16_bit_weights():
    # adam, bf16-mixed: read g (2) + master (4) + m, v (8); write master, m, v (12) + w (2)
    counts = step_counts(10, "adam", "bf16-mixed")
    assert (counts.flops, counts.bytes_read, counts.bytes_written) == (130, 140, 140)
    # fp16-mixed: the loss scaler's unscale and finite check, 2 FLOPs more per element
    assert step_counts(10, "adam", "fp16-mixed").flops == 150


def test_state_bytes_frozen_parameters_have_weights_only():
    fp32 = state_bytes(trainable=100, frozen=50, optimizer="adamw")
    assert (fp32.weights_bytes, fp32.gradients_bytes, fp32.optimizer_state_bytes) == \
        (600, 400, 800)
    mixed = state_bytes(trainable=100, frozen=50, optimizer="adamw", precision="bf16-mixed")
    assert (mixed.weights_bytes, mixed.gradients_bytes, mixed.optimizer_state_bytes) == \
        (300 + 400, 200, 800)


def test_unknown_names_are_usage_errors():
    with pytest.raises(UsageError, match="unknown optimizer 'lion'; choose from sgd, "
                                         "sgd-momentum, adam, adamw"):
        step_counts(1, "lion")
    with pytest.raises(UsageError, match="unknown precision 'fp8'"):
        state_bytes(trainable=1, frozen=0, precision="fp8")
    assert Precision("bf16-mixed") is Precision.BF16_MIXED
