"""Shared helpers of the model tests."""

from __future__ import annotations

from functools import cache

import torch
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.models import get_model_spec


@cache
def analyzed(name: str, **knobs):
    """The analysis of a registered model, computed once per test session."""
    return costlab.analyze(name, **knobs)


def build(name: str, **knobs) -> nn.Module:
    """The model on the meta device: shapes only, no weights to initialize, fast."""
    with torch.device("meta"):
        return get_model_spec(name).build(**knobs)


def conv_fc_params(cost) -> int:
    """Params in the papers' usual convention: conv and FC weights, no BatchNorm."""
    return cost.total.params - sum(r.params for r in cost.layers if r.category == OpCategory.NORM)
