"""The Python API: ``analyze`` one model, ``compare`` several."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from costlab.core.records import ModelCost
from costlab.errors import UsageError
from costlab.references import PublishedEntry

DTYPES = ("float32", "float16", "bfloat16", "int8")
DEVICES = ("meta", "cpu")


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` -> (1, 3, 224, 224); every dimension a positive integer."""
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"malformed input shape {text!r}: expected integers like 1,3,224,224") \
            from None
    if not shape or any(d <= 0 for d in shape):
        raise UsageError(f"malformed input shape {text!r}: every dimension must be > 0")
    return shape


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise UsageError(f"{name} must be a positive integer, got {value!r}")


def _check_shape(shape: Sequence[int]) -> None:
    if not shape or any(int(d) <= 0 for d in shape):
        raise UsageError(f"malformed input shape {tuple(shape)}: every dimension must be > 0")


def make_input(shape: Sequence[int], dtype: str = "float32", device: str = "meta"):
    """A seeded input: random floats for images, zeros (a valid id) for token inputs."""
    import torch

    shape = tuple(int(d) for d in shape)
    torch_dtype = getattr(torch, dtype)
    if device == "meta":
        return torch.empty(shape, dtype=torch_dtype, device="meta")
    if torch_dtype.is_floating_point:
        gen = torch.Generator().manual_seed(0)
        return torch.randn(shape, generator=gen, dtype=torch_dtype).to(device)
    return torch.zeros(shape, dtype=torch_dtype, device=device)


def _storage_dtype(dtype: str | None):
    import torch

    if dtype is None:
        return None
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    return getattr(torch, dtype)


INPUT_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")

InputSpec = tuple[tuple[int, ...], "str | None"]  # (shape, dtype name or None: the default)


def parse_input(text: str | Sequence[int]) -> InputSpec:
    """``"1,128:int64"`` -> ((1, 128), "int64"); a bare shape leaves the dtype to the model
    (float32, or int64 for a registered model that takes token ids)."""
    if not isinstance(text, str):
        try:
            shape = tuple(int(d) for d in text)
        except (TypeError, ValueError):
            raise UsageError(f"malformed input shape {text!r}") from None
        _check_shape(shape)
        return shape, None
    shape_text, _, dtype = text.partition(":")
    dtype = dtype.strip() or None
    if dtype is not None and dtype not in INPUT_DTYPES:
        raise UsageError(f"unknown input dtype {dtype!r} in {text!r}; choose from "
                         f"{', '.join(INPUT_DTYPES)}")
    return parse_shape(shape_text), dtype


def _input_specs(input_shape: Any) -> list[InputSpec] | None:
    """One spec per positional input, from a shape, a string or a list of either."""
    if input_shape is None:
        return None
    if isinstance(input_shape, str) or (isinstance(input_shape, (tuple, list)) and input_shape
                                        and isinstance(input_shape[0], int)):
        return [parse_input(input_shape)]
    specs = [parse_input(item) for item in input_shape]
    if not specs:
        raise UsageError("give at least one input shape")
    return specs


@dataclass
class _Target:
    """A model ready to trace, and how to rebuild it on the CPU if meta cannot run it."""

    module: Any
    name: str
    device: str
    knobs: dict[str, Any]
    input_dtype: str = "float32"
    default_shape: tuple[int, ...] | None = None
    reference: str = ""
    variant: str = ""
    notes: list[str] | None = None
    rebuild_on_cpu: Any = None  # () -> _Target, for models built on meta by costlab
    example_inputs: tuple | None = None
    example_kwargs: dict | None = None


def _registered_target(spec, knobs, specs, batch, resolution, device) -> _Target:
    import torch

    resolved = spec.resolve_knobs(knobs)
    shape = specs[0][0] if specs else spec.input_for(batch, resolution, resolved)
    _check_shape(shape)
    from costlab.analysis.meta_kernels import meta_construction

    # on meta: no weight initialization, and shape-arithmetic kernels for buffer math
    with meta_construction() if device == "meta" else torch.device(device):
        module = spec.build(input_shape=shape, **resolved)
    variant = ",".join(f"{k.name}={resolved[k.name]}" for k in spec.knobs
                       if resolved[k.name] != k.default)
    return _Target(module, spec.name, device, resolved, spec.input_dtype, shape,
                   spec.reference, variant)


def _loaded_target(specifier: str, model_kwargs: dict | None, device: str) -> _Target:
    from costlab.models.loaders import load

    loaded = load(specifier, model_kwargs, device)
    target = _Target(loaded.module, loaded.name, loaded.device, dict(model_kwargs or {}),
                     notes=list(loaded.notes), example_inputs=loaded.example_inputs,
                     example_kwargs=loaded.example_kwargs)
    if loaded.device == "meta":
        def rebuild() -> _Target:
            again = _loaded_target(specifier, model_kwargs, "cpu")
            again.notes = (again.notes or []) + [
                "traced on cpu: the forward pass cannot run on meta"]
            return again
        target.rebuild_on_cpu = rebuild
    return target


def _module_target(module: Any, name: str | None) -> _Target:
    from costlab.models.loaders import unwrap

    module = unwrap(module)
    first = next(iter(module.parameters()), None)
    if first is None:
        first = next(iter(module.buffers()), None)
    device = first.device.type if first is not None else "cpu"
    return _Target(module, name or type(module).__name__, device, {})


def _make_inputs(target: _Target, specs, input_kwargs, inputs):
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
        raise UsageError(f"{target.name} needs an input: give --input (e.g. 1,3,224,224, "
                         "or 1,128:int64 for token ids)")
    kwargs = {}
    for key, value in (input_kwargs or {}).items():
        if isinstance(value, torch.Tensor):
            kwargs[key] = value
        else:
            shape, dtype = parse_input(value)
            kwargs[key] = make_input(shape, dtype or "float32", target.device)
    return args, kwargs


def _resolve_target(model: Any, specs, batch: int, resolution: int | None, device: str,
                    name: str | None, model_kwargs: dict | None, knobs: dict) -> _Target:
    """A registered name, a user specifier or a module, built (or found) on ``device``."""
    from torch import nn

    from costlab.models import registry
    from costlab.models.loaders import is_specifier

    _check_positive("batch", batch)
    _check_positive("resolution", resolution)
    if isinstance(model, str) and (registry().owns(model) or not is_specifier(model)):
        if model_kwargs:
            raise UsageError("--kwargs apply to user models; registered models take knobs")
        target = _registered_target(registry().get(model), knobs, specs, batch, resolution,
                                    device)
    elif isinstance(model, str):
        if knobs:
            raise UsageError(f"knobs {sorted(knobs)} apply to registered models only; "
                             "pass constructor arguments as --kwargs JSON")
        target = _loaded_target(model, model_kwargs, device)
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


RUN_DEVICES = ("cpu", "cuda")


def check_run_device(device: str) -> None:
    """A device a model can really run on here (cpu, or cuda when a GPU is present)."""
    if device not in RUN_DEVICES:
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(RUN_DEVICES)}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here")


@dataclass
class PreparedModel:
    """A model built with real weights on a device, and the inputs to run it with."""

    module: Any
    args: tuple
    kwargs: dict
    name: str
    device: str
    knobs: dict[str, Any]
    variant: str = ""
    notes: list[str] | None = None

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
    as ``analyze`` would, for running it for real (the benchmarker). Arguments as in
    ``analyze``; an ``nn.Module`` stays where its parameters live."""
    check_run_device(device)
    specs = _input_specs(input_shape)
    # user models are loaded on the CPU (their code may not take a device) and then moved
    build_on = "cpu" if isinstance(model, str) and device == "cuda" else device
    target = _resolve_target(model, specs, batch, resolution, build_on, name, model_kwargs,
                             knobs)
    if isinstance(model, str) and target.device != device:
        target.module = target.module.to(device)
        target.device = device
    args, kwargs = _make_inputs(target, specs, input_kwargs, inputs)
    return PreparedModel(target.module, args, kwargs, target.name, target.device,
                         target.knobs, target.variant, list(target.notes or []))


def analyze(model: Any, input_shape: Any = None, *, inputs: Any = None,
            input_kwargs: dict[str, Any] | None = None, batch: int = 1,
            resolution: int | None = None, device: str = "meta", dtype: str | None = None,
            name: str | None = None, model_kwargs: dict[str, Any] | None = None,
            formulas: Mapping[Any, Callable[..., Any]] | None = None,
            **knobs: Any) -> ModelCost:
    """Trace one forward pass of ``model`` and return its per-op costs.

    ``model`` is a registered name (see ``costlab list``), a specifier of a user's model
    (``file.py:Class``, ``package.module:factory``, ``torchvision:NAME``, ``timm:NAME``,
    ``model.pt2``; built with ``model_kwargs``) or an ``nn.Module``. Registered models are
    built on ``device`` ("meta" allocates no weights) with ``knobs`` (e.g. ``width=0.75``)
    and fed a random input of their default shape, or ``resolution`` x ``resolution``, with
    ``batch``. ``input_shape`` gives the input instead: a shape, ``"1,128:int64"``, or a
    list of those for several inputs; ``input_kwargs`` maps keyword inputs to such specs or
    tensors; ``inputs`` gives the tensors themselves. A module is run where its parameters
    live. ``dtype`` sets the storage size of floating-point tensors for byte counts
    (default: each tensor's own). ``formulas`` maps ops (``torch.ops.mylib.op``, or one
    overload) to formulas counted instead of the built-in ones, for this analysis only: each
    gets the op's args, kwargs and output with tensors as ``TensorSpec(shape, dtype)`` and
    returns an ``OpCost`` or an int of MACs (see costlab/analysis/registry.py).
    """
    from costlab.analysis import build_cost
    from costlab.errors import ForwardError

    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    storage_dtype = _storage_dtype(dtype)
    specs = _input_specs(input_shape)
    target = _resolve_target(model, specs, batch, resolution, device, name, model_kwargs, knobs)

    while True:
        args, kwargs = _make_inputs(target, specs, input_kwargs, inputs)
        module = target.module
        was_training = module.training
        # eval() and train() set a flag on every module (1-3 ms on a small CNN): skip both
        # when every module is in eval already, which leaves the same state
        switch = any(m.training for m in module.modules())
        if switch:
            module.eval()
        try:
            cost = build_cost(module, args, name=target.name, knobs=target.knobs,
                              device=target.device, storage_dtype=storage_dtype,
                              reference=target.reference, variant=target.variant,
                              input_kwargs=kwargs, formulas=formulas)
        except ForwardError:
            if target.rebuild_on_cpu is None or inputs is not None:
                raise
            target = target.rebuild_on_cpu()  # meta cannot run it: data-dependent code
            continue
        finally:
            if switch:
                module.train(was_training)
        cost.info.notes = list(target.notes or [])
        return cost


@dataclass
class ModelComparison:
    """Several analyses side by side, with the published numbers beside each."""

    costs: list[ModelCost]
    published: list[PublishedEntry | None]
    latency: Any = None  # a bench.runner.LatencyComparison when latency was measured

    def ratios(self) -> list[dict[str, float | None]]:
        """Each model's MACs, FLOPs, params and bytes as a multiple of the first model's."""
        base = self.costs[0].total

        def ratio(a: int, b: int) -> float | None:
            return a / b if b else None

        return [{
            "macs": ratio(c.total.macs, base.macs),
            "flops": ratio(c.total.flops, base.flops),
            "params": ratio(c.total.params, base.params),
            "memory_access": ratio(c.total.memory_access_bytes, base.memory_access_bytes),
            "peak_activation": ratio(c.total.peak_activation_bytes, base.peak_activation_bytes),
        } for c in self.costs]

    def summary_lines(self) -> list[str]:
        """``mobilenet_v2: 0.53x MACs, 0.83x params`` for every model after the first."""
        lines = []
        for cost, r in list(zip(self.costs, self.ratios()))[1:]:
            parts = [f"{r[k]:.2f}x {label}" for k, label in (("macs", "MACs"), ("params", "params"))
                     if r[k] is not None]
            line = f"{cost.name}: {', '.join(parts)} (vs {self.costs[0].name})"
            if r["macs"] is not None and round(r["macs"], 4) != 1:
                change = round(100 * abs(1 - r["macs"]))
                line += f"; {change}% {'fewer' if r['macs'] < 1 else 'more'} MACs"
            lines.append(line)
        return lines

    def to_dataframe(self):
        from costlab.report.tables import comparison_frame

        return comparison_frame(self)


def compare(models: Sequence[Any], *, latency: bool = False,
            latency_options: dict[str, Any] | None = None, **options: Any) -> ModelComparison:
    """Analyze each model with the same options and line them up with published numbers.

    With ``latency``, also time them interleaved on the CPU (or ``latency_options``'
    device) with ``bench.runner.bench_models``; ``latency_options`` are its keywords.
    """
    from costlab.references import lookup_for_input

    if len(models) < 1:
        raise UsageError("compare needs at least one model")
    costs = [analyze(m, **options) for m in models]
    published = [lookup_for_input(c.name, c.info.knobs, c.info.input_shapes) for c in costs]
    comparison = ModelComparison(costs, published)
    if latency:
        from costlab.bench.runner import bench_models

        model_options = {k: v for k, v in options.items() if k not in ("device", "dtype")}
        comparison.latency = bench_models(models, model_options, **(latency_options or {}))
    return comparison


def fvcore_check(model: Any, cost: ModelCost, depth: int = 1,
                 model_kwargs: dict[str, Any] | None = None):
    """fvcore's per-module count of the same model beside ``cost`` (see fvcore_check.py)."""
    from torch import nn

    from costlab.analysis.fvcore_check import check_fvcore
    from costlab.models import registry
    from costlab.models.loaders import load

    input_dtype = "float32"
    if isinstance(model, str) and model not in registry().specs:
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


@dataclass
class SweepResult:
    """One analysis per point of a knob x resolution grid."""

    model: str
    axes: list[str]  # knob names swept, then "resolution" if swept
    points: list[dict[str, Any]]  # the axis values of each point
    costs: list[ModelCost]

    def to_dataframe(self):
        from costlab.report.tables import sweep_frame

        return sweep_frame(self)


def parse_values(text: str | Sequence[Any] | None) -> list[str]:
    """``"1,0.75,0.5"`` -> ["1", "0.75", "0.5"] (each parsed later by its knob)."""
    if text is None:
        return []
    if not isinstance(text, str):
        return [str(v) for v in text]
    values = [v.strip() for v in text.split(",")]
    if not all(values):
        raise UsageError(f"malformed value list {text!r}: expected e.g. 1,0.75,0.5")
    return values


def sweep(model: str, knobs: dict[str, Sequence[Any] | str] | None = None,
          resolutions: Sequence[int] | str | None = None, **options: Any) -> SweepResult:
    """Analyze ``model`` at every combination of knob values and resolutions."""
    import itertools

    from costlab.models import registry

    spec = registry().get(model)
    axes: list[str] = []
    grids: list[list[Any]] = []
    for name, values in (knobs or {}).items():
        knob = spec.knob(name)
        axes.append(name)
        grids.append([knob.parse(v) for v in parse_values(values)])
    if resolutions is not None:
        sizes = []
        for v in parse_values(resolutions):
            try:
                sizes.append(int(v))
            except ValueError:
                raise UsageError(f"resolution must be an integer, got {v!r}") from None
            _check_positive("resolution", sizes[-1])
        axes.append("resolution")
        grids.append(sizes)
    if not axes:
        raise UsageError("sweep needs at least one of --width, --resolution or --knob NAME=V1,V2")
    points, costs = [], []
    for combo in itertools.product(*grids):
        point = dict(zip(axes, combo))
        run_knobs = {k: v for k, v in point.items() if k != "resolution"}
        costs.append(analyze(model, resolution=point.get("resolution"), **run_knobs, **options))
        points.append(point)
    return SweepResult(model, axes, points, costs)
