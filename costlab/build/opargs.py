"""Reading an aten op's arguments: dependency-free, shared by formulas and meta kernels."""

from __future__ import annotations

from typing import Any, Sequence


def op_arg(args: Sequence[Any], kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    """An aten op's argument, given by position or by name."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


__all__ = ["op_arg"]
