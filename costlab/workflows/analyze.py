"""Analyze one model: build it, trace it on meta (or where it lives), fall back to the CPU."""

from __future__ import annotations

from typing import Any, Mapping

from costlab.build.inputs import check_analysis_device, input_specs, make_input, storage_dtype
from costlab.build.target import make_inputs, resolve_target
from costlab.core.errors import ForwardError, UsageError
from costlab.workflows.display import AnalyzedModel
from costlab.core.records import ModelCost


def analyze(model: Any, input_shape: Any = None, *, inputs: Any = None,
            input_kwargs: dict[str, Any] | None = None, batch: int = 1,
            resolution: int | None = None, device: str = "meta", dtype: str | None = None,
            name: str | None = None, model_kwargs: dict[str, Any] | None = None,
            formulas: Mapping[Any, Any] | None = None, real_forward: bool = False,
            mode: str = "inference", optimizer: str = "sgd", precision: str = "fp32",
            loss: Any = None, **knobs: Any) -> ModelCost:
    """Trace one forward pass of ``model`` and return its per-op costs (see
    ``costlab.api.analyze`` for the arguments).

    A module with real weights is traced on meta stand-ins of them; ``real_forward`` runs
    its real forward instead, for callers that match the records to the kernels that ran
    (the profiler: CUDA's batch norm is ``cudnn_batch_norm``, meta's is not)."""
    from costlab.analysis import build_cost

    check_analysis_device(device)
    bytes_dtype = storage_dtype(dtype)
    training = step_options(mode, optimizer, precision, loss, dtype)
    if training is not None:
        from costlab.analysis.training import TRACE_DTYPES

        bytes_dtype = TRACE_DTYPES[training.precision]  # mixed: 16-bit weights, activations
    specs = input_specs(input_shape)
    target = resolve_target(model, specs, batch=batch, resolution=resolution, device=device,
                            name=name, model_kwargs=model_kwargs, knobs=knobs)
    rebuilt = False  # rebuilt on the CPU after meta failed: trace its real forward at once
    while True:
        args, kwargs = make_inputs(target, specs, input_kwargs, inputs)
        module = target.module
        was_training = module.training
        # eval() and train() set a flag on every module (1-3 ms on a small CNN): skip both
        # when every module is in that state already, which leaves the same state; a
        # training step runs in train mode (batch statistics, dropout)
        wanted = training is not None
        switch = any(m.training is not wanted for m in module.modules())
        if switch:
            module.train(wanted)
        try:
            cost = build_cost(module, args, name=target.name, knobs=target.knobs,
                              device=target.device, storage_dtype=bytes_dtype,
                              reference=target.reference, variant=target.variant,
                              input_kwargs=kwargs, formulas=formulas,
                              stand_ins=not (rebuilt or real_forward), training=training)
        except ForwardError:
            if target.rebuild_on_cpu is None or inputs is not None:
                raise
            target = target.rebuild_on_cpu()  # meta cannot run it: data-dependent code
            rebuilt = True
            continue
        finally:
            if switch:
                module.train(was_training)
        cost.info.notes = [*target.notes, *cost.info.notes]
        return AnalyzedModel.of(cost)  # displays itself in a notebook


MODES = ("inference", "train")


def step_options(mode: str, optimizer: str, precision: str, loss: Any,
                 dtype: str | None) -> Any:
    """The training step's options for ``mode="train"`` (None for inference), checked."""
    from costlab.analysis.optimizer import optimizer_named, precision_named
    from costlab.analysis.training import StepOptions

    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    chosen = optimizer_named(optimizer), precision_named(precision)
    if mode == "inference":
        if loss is not None:
            raise UsageError("a loss is for mode='train' only")
        return None
    if dtype is not None:
        raise UsageError("--dtype is for inference; a training step takes --precision "
                         "(fp32, bf16-mixed, fp16-mixed)")
    if loss is not None and not callable(loss):
        raise UsageError(f"loss must be a callable(output) -> scalar, got {type(loss).__name__}")
    return StepOptions(optimizer=chosen[0], precision=chosen[1], loss=loss)


def fvcore_check(model: Any, cost: ModelCost, depth: int = 1,
                 model_kwargs: dict[str, Any] | None = None):
    """fvcore's per-module count of the same model beside ``cost`` (analysis.fvcore_check)."""
    from torch import nn

    from costlab.analysis.fvcore_check import check_fvcore
    from costlab.build.loaders import load
    from costlab.models import registry

    input_dtype = "float32"
    if isinstance(model, str) and not registry().owns(model):
        module = load(model, model_kwargs, "cpu").module  # fvcore needs real weights
    elif isinstance(model, str):
        spec = registry().get(model)
        # a CPU twin with random weights
        module = spec.build(input_shape=cost.info.input_shapes[0], **cost.info.knobs)
        input_dtype = spec.input_dtype
    elif isinstance(model, nn.Module):
        module = model
    else:
        raise UsageError(f"cannot check {type(model).__name__} with fvcore")
    inputs = tuple(make_input(s, input_dtype, "cpu") for s in cost.info.input_shapes)
    return check_fvcore(cost, module, inputs, depth)
