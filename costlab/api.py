"""The public Python API: a thin facade over ``costlab.workflows`` and ``costlab.build``.

``costlab.analyze`` counts one model, ``costlab.compare`` several side by side,
``costlab.sweep`` a grid of knob values, ``costlab.prepare`` builds a model with real weights
to run it. Errors name these functions' arguments (``input_shape``, ``model_kwargs``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from costlab.build.inputs import make_input, parse_input, parse_shape
from costlab.build.target import PreparedModel, prepare
from costlab.workflows import analyze as _analyze
from costlab.workflows.compare import ModelComparison, compare
from costlab.workflows.sweep import SweepResult, sweep

fvcore_check = _analyze.fvcore_check


def analyze(model: Any, input_shape: Any = None, *, inputs: Any = None,
            input_kwargs: dict[str, Any] | None = None, batch: int = 1,
            resolution: int | None = None, device: str = "meta", dtype: str | None = None,
            name: str | None = None, model_kwargs: dict[str, Any] | None = None,
            formulas: Mapping[Any, Any] | None = None, mode: str = "inference",
            optimizer: str = "sgd", precision: str = "fp32",
            loss: Callable[[Any], Any] | None = None, **knobs: Any):
    """Trace one forward pass of ``model`` and return its per-op costs (a ``ModelCost``).

    ``mode="train"`` traces one training step instead: the forward in train mode, the
    ``loss`` (default: the sum of the outputs; else ``loss(output) -> scalar``), the backward
    through autograd (weight gradients for the parameters that require grad, none for the
    inputs) and the ``optimizer`` step ("sgd", "sgd-momentum", "adam", "adamw") in
    ``precision`` ("fp32", "bf16-mixed", "fp16-mixed"). ``cost.total`` covers the step,
    ``cost.phases()`` splits it, ``cost.training_memory`` holds its memory.

    ``model`` is a registered name (see ``costlab list``), a specifier of a user's model
    (``file.py:Class``, ``package.module:factory``, ``torchvision:NAME``, ``timm:NAME``,
    ``model.pt2``; built with ``model_kwargs``) or an ``nn.Module``. Registered models are
    built on ``device`` ("meta" allocates no weights) with ``knobs`` (e.g. ``width=0.75``)
    and fed a random input of their default shape, or ``resolution`` x ``resolution``, with
    ``batch``. ``input_shape`` gives the input instead: a shape, ``"1,128:int64"``, or a
    list of those for several inputs; ``input_kwargs`` maps keyword inputs to such specs or
    tensors; ``inputs`` gives the tensors themselves. A module with real weights is traced on
    meta stand-ins of its parameters, buffers and inputs (nothing copied, its weights
    untouched); a forward that cannot run on meta is run for real, with a note. ``dtype`` sets the storage size of floating-point tensors for byte counts
    (default: each tensor's own). ``formulas`` maps ops (``torch.ops.mylib.op``) to cost
    formulas for this analysis only, before the built-in registry.
    """
    return _analyze.analyze(model, input_shape, inputs=inputs, input_kwargs=input_kwargs,
                            batch=batch, resolution=resolution, device=device, dtype=dtype,
                            name=name, model_kwargs=model_kwargs, formulas=formulas,
                            mode=mode, optimizer=optimizer, precision=precision, loss=loss,
                            **knobs)


__all__ = ["ModelComparison", "PreparedModel", "SweepResult", "analyze", "compare",
           "fvcore_check", "make_input", "parse_input", "parse_shape", "prepare", "sweep"]
