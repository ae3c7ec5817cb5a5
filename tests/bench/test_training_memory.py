from __future__ import annotations

import pytest
import torch
from torch import nn

from costlab.analysis.optimizer import state_bytes
from costlab.bench.training_memory import measure_step_memory
from costlab.core.errors import UsageError


@pytest.mark.parametrize("optimizer", ["sgd", "sgd-momentum", "adam", "adamw"])
def test_profiler_categories_match_the_static_state_bytes(optimizer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    frozen = nn.Linear(10, 10)
    frozen.requires_grad_(False)
    model.append(frozen)
    measured = measure_step_memory(model, [torch.randn(4, 64)], optimizer=optimizer)
    trainable = [p for p in model.parameters() if p.requires_grad]
    expected = state_bytes(trainable=sum(p.numel() for p in trainable),
                           frozen=sum(p.numel() for p in frozen.parameters()),
                           trainable_tensors=len(trainable), optimizer=optimizer)
    assert measured.weights_bytes == expected.weights_bytes == 4 * (64 * 128 + 128 + 1290 + 110)
    assert measured.gradients_bytes == expected.gradients_bytes
    assert measured.optimizer_state_bytes == expected.optimizer_state_bytes
    assert measured.peak_bytes >= measured.weights_bytes + measured.gradients_bytes
    assert model.training  # restored


def test_train_mode_is_restored_and_bad_optimizer_is_refused():
    model = nn.Linear(3, 3).eval()
    measure_step_memory(model, [torch.randn(2, 3)])
    assert not model.training
    with pytest.raises(UsageError, match="unknown optimizer 'lion'"):
        measure_step_memory(model, [torch.randn(2, 3)], optimizer="lion")
