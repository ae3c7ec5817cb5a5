"""What a user names -> a module and its inputs: registered names, specifiers, modules.

A registered model is built on the device asked for (on meta without initializing weights);
a user's model through ``build.loaders``; an ``nn.Module`` stays where its parameters live.
``Target.rebuild_on_cpu`` is the CPU fallback for a forward that cannot run on meta.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from costlab.build.inputs import (InputSpec, check_positive, check_run_device, check_shape,
                                  input_specs, make_input, parse_input)
from costlab.core.errors import UsageError


@dataclass(kw_only=True)
class Target:
    """A model ready to trace, and how to rebuild it on the CPU if meta cannot run it."""

    module: Any
    name: str
    device: str
    knobs: dict[str, Any]
    input_dtype: str = "float32"
    default_shape: tuple[int, ...] | None = None
    reference: str = ""
    variant: str = ""
    notes: list[str] = field(default_factory=list)
    rebuild_on_cpu: Callable[[], "Target"] | None = None  # for models costlab built on meta
    example_inputs: tuple | None = None
    example_kwargs: dict | None = None


def _registered_target(spec, knobs: dict, specs: list[InputSpec] | None, batch: int,
                       resolution: int | None, device: str) -> Target:
    import torch

    from costlab.build.meta_kernels import meta_construction

    resolved = spec.resolve_knobs(knobs)
    shape = specs[0][0] if specs else spec.input_for(batch, resolution, resolved)
    check_shape(shape)
    # on meta: no weight initialization, and shape-arithmetic kernels for buffer math
    with meta_construction() if device == "meta" else torch.device(device):
        module = spec.build(input_shape=shape, **resolved)
    variant = ",".join(f"{k.name}={resolved[k.name]}" for k in spec.knobs
                       if resolved[k.name] != k.default)
    return Target(module=module, name=spec.name, device=device, knobs=resolved,
                  input_dtype=spec.input_dtype, default_shape=shape, reference=spec.reference,
                  variant=variant)


def _loaded_target(specifier: str, model_kwargs: dict | None, device: str, batch: int = 1,
                   resolution: int | None = None) -> Target:
    from costlab.build.loaders import load

    loaded = load(specifier, model_kwargs, device)
    target = Target(module=loaded.module, name=loaded.name, device=loaded.device,
                    knobs=dict(model_kwargs or {}), notes=list(loaded.notes),
                    default_shape=loaded.default_input(batch, resolution),
                    input_dtype=loaded.input_dtype,
                    example_inputs=loaded.example_inputs, example_kwargs=loaded.example_kwargs)
    if loaded.device == "meta":
        def rebuild() -> Target:
            again = _loaded_target(specifier, model_kwargs, "cpu", batch, resolution)
            again.notes.append("traced on cpu: the forward pass cannot run on meta")
            return again
        target.rebuild_on_cpu = rebuild
    return target


def _module_target(module: Any, name: str | None) -> Target:
    from costlab.build.loaders import unwrap

    module = unwrap(module)
    first = next(iter(module.parameters()), None)
    if first is None:
        first = next(iter(module.buffers()), None)
    device = first.device.type if first is not None else "cpu"
    return Target(module=module, name=name or type(module).__name__, device=device, knobs={})


def make_inputs(target: Target, specs: list[InputSpec] | None, input_kwargs: dict | None,
                inputs: Any) -> tuple[tuple, dict]:
    """The positional and keyword inputs of ``target``'s forward, as tensors on its device."""
    import torch

    if inputs is not None:
        args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    elif specs:
        args = tuple(make_input(shape, dtype or target.input_dtype, target.device)
                     for shape, dtype in specs)
    elif target.default_shape is not None:
        args = (make_input(target.default_shape, target.input_dtype, target.device),)
    elif target.example_inputs is not None:
        args = tuple(target.example_inputs)
        if input_kwargs is None and target.example_kwargs:
            input_kwargs = dict(target.example_kwargs)
    else:
        raise UsageError(f"{target.name} needs an input: give input_shape (e.g. 1,3,224,224, "
                         "or 1,128:int64 for token ids)")
    kwargs = {}
    for key, value in (input_kwargs or {}).items():
        if not isinstance(value, (str, list, tuple)):
            kwargs[key] = value  # a tensor, or what forward takes as is (a KV cache, a flag)
        else:
            shape, dtype = parse_input(value)
            kwargs[key] = make_input(shape, dtype or "float32", target.device)
    return args, kwargs


def resolve_target(model: Any, specs: list[InputSpec] | None, *, batch: int = 1,
                   resolution: int | None = None, device: str = "meta", name: str | None = None,
                   model_kwargs: dict | None = None, knobs: dict | None = None) -> Target:
    """A registered name, a user specifier or a module, built (or found) on ``device``."""
    from torch import nn

    from costlab.build.loaders import is_specifier
    from costlab.models import registry

    knobs = knobs or {}
    check_positive("batch", batch)
    check_positive("resolution", resolution)
    if specs and (batch != 1 or resolution is not None):
        # the shape is the whole input: silently dropping batch or resolution misleads
        given = " and ".join(n for n, v in (("batch", batch != 1),
                                            ("resolution", resolution is not None)) if v)
        raise UsageError(f"input_shape gives the whole input, so {given} would be ignored: "
                         "write the batch and size into the shape instead")
    if isinstance(model, str) and (registry().owns(model) or not is_specifier(model)):
        if model_kwargs:
            raise UsageError("model_kwargs apply to user models; registered models take knobs")
        target = _registered_target(registry().get(model), knobs, specs, batch, resolution,
                                    device)
    elif isinstance(model, str):
        if knobs:
            raise UsageError(f"knobs {sorted(knobs)} apply to registered models only; "
                             "pass constructor arguments as model_kwargs")
        target = _loaded_target(model, model_kwargs, device, batch, resolution)
    elif isinstance(model, nn.Module):
        if knobs:
            raise UsageError(f"knobs {sorted(knobs)} apply to registered models only")
        target = _module_target(model, name)
    else:
        raise UsageError(f"cannot analyze {type(model).__name__}: give a model name, a "
                         "specifier or an nn.Module")
    if name:
        target.name = name
    return target


@dataclass(kw_only=True)
class PreparedModel:
    """A model built with real weights on a device, and the inputs to run it with."""

    module: Any
    args: tuple
    kwargs: dict
    name: str
    device: str
    knobs: dict[str, Any]
    variant: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(a.shape) for a in self.args if hasattr(a, "shape")]

    def __call__(self) -> Any:
        return self.module(*self.args, **self.kwargs)


def prepare(model: Any, input_shape: Any = None, *, inputs: Any = None,
            input_kwargs: dict[str, Any] | None = None, batch: int = 1,
            resolution: int | None = None, device: str = "cpu", name: str | None = None,
            model_kwargs: dict[str, Any] | None = None, **knobs: Any) -> PreparedModel:
    """Build ``model`` with random weights on ``device`` (cpu or cuda) and make its inputs,
    for running it for real (the benchmarker, the profiler). Arguments as in
    ``costlab.analyze``; an ``nn.Module`` stays where its parameters live."""
    check_run_device(device)
    specs = input_specs(input_shape)
    # user models are loaded on the CPU (their code may not take a device) and then moved
    build_on = "cpu" if isinstance(model, str) and device == "cuda" else device
    target = resolve_target(model, specs, batch=batch, resolution=resolution, device=build_on,
                            name=name, model_kwargs=model_kwargs, knobs=knobs)
    if isinstance(model, str) and target.device != device:
        target.module = target.module.to(device)
        target.device = device
    args, kwargs = make_inputs(target, specs, input_kwargs, inputs)
    return PreparedModel(module=target.module, args=args, kwargs=kwargs, name=target.name,
                         device=target.device, knobs=target.knobs, variant=target.variant,
                         notes=list(target.notes))
