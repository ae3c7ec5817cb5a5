"""One message for a forward pass that raised, wherever it ran: the model, the module that
failed (its path and type), the input shapes and the error's first line.

The tracer knows the failing module from its module stack; a plain run (the benchmarker)
finds it in the traceback: the innermost frame whose ``self`` is one of the model's
modules.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from costlab.core.errors import CostlabError, ForwardError


def describe_inputs(inputs: Any) -> str:
    """The shapes of the tensors among ``inputs`` (nested), e.g. ``(3, 4), (3, 5)``."""
    import torch
    from torch.utils._pytree import tree_leaves

    shapes = [tuple(t.shape) for t in tree_leaves(inputs) if isinstance(t, torch.Tensor)]
    return ", ".join(str(s) for s in shapes) or "no tensors"


def forward_error(where: str, kind: str, inputs: Any, exc: BaseException,
                  model: str | None = None) -> ForwardError:
    """``[model: ]forward failed in module 'body.1' (Fails) with inputs (3, 4): ...``"""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    prefix = f"{model}: " if model else ""
    return ForwardError(f"{prefix}forward failed in module '{where or '(root)'}' ({kind}) "
                        f"with inputs {describe_inputs(inputs)}: {type(exc).__name__}: "
                        f"{first_line}")


def failing_module(root: Any, exc: BaseException) -> tuple[str, str] | None:
    """(path, type name) of the innermost module of ``root`` running when ``exc`` was
    raised, from its traceback; None when none of ``root``'s modules was."""
    paths = {id(module): path for path, module in root.named_modules()}
    found = None
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and id(owner) in paths:
            found = (paths[id(owner)], type(owner).__name__)
        tb = tb.tb_next
    return found


@contextmanager
def named_forward_errors(prepared: Sequence[Any]) -> Iterator[None]:
    """Around code that runs ``prepared`` models (each with ``module``, ``args``,
    ``kwargs`` and ``name``, as ``build.target.PreparedModel``): an error raised inside one
    of their forwards becomes the one-line ForwardError naming the model, the module and
    the input shapes. Other errors pass unchanged."""
    try:
        yield
    except CostlabError:
        raise
    except Exception as exc:  # a user's forward can raise anything
        for model in prepared:
            where = failing_module(model.module, exc)
            if where is not None:
                raise forward_error(*where, (model.args, model.kwargs), exc,
                                    model=model.name) from exc
        raise
