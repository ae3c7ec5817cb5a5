"""Parameter and buffer counts: unique tensors (by identity), frozen ones included."""

from __future__ import annotations

from torch import nn


def count_params(model: nn.Module) -> int:
    # parameters() already yields each Parameter object once, however often it is shared
    return sum(p.numel() for p in model.parameters())


def count_buffers(model: nn.Module) -> int:
    return sum(b.numel() for b in model.buffers())


def module_tree(model: nn.Module) -> dict[str, tuple[str, int]]:
    """path -> (module type, unique parameter elements in it and its children)."""
    return {path: (type(m).__name__, count_params(m)) for path, m in model.named_modules()}
