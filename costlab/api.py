"""The Python API: ``analyze`` one model, ``compare`` several."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from costlab.analysis.records import ModelCost
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


def analyze(model: Any, input_shape: Sequence[int] | str | None = None, *, inputs: Any = None,
            batch: int = 1, resolution: int | None = None, device: str = "meta",
            dtype: str | None = None, name: str | None = None, **knobs: Any) -> ModelCost:
    """Trace one forward pass of ``model`` and return its per-op costs.

    ``model`` is a registered name (see ``costlab list``) or an ``nn.Module``. Registered
    models are built on ``device`` ("meta" allocates no weights) with ``knobs`` (e.g.
    ``width=0.75``) and fed a random input of their default shape, or ``input_shape``, or
    ``resolution`` x ``resolution``, with ``batch``. A module is run where its parameters
    live, on ``inputs`` or a random tensor of ``input_shape``. ``dtype`` sets the storage
    size of floating-point tensors for byte counts (default: each tensor's own).
    """
    import torch
    from torch import nn

    from costlab.analysis import build_cost
    from costlab.models import registry

    _check_positive("batch", batch)
    _check_positive("resolution", resolution)
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    storage_dtype = _storage_dtype(dtype)
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape)

    reference = variant = ""
    if isinstance(model, str):
        spec = registry().get(model)
        resolved = spec.resolve_knobs(knobs)
        shape = (tuple(input_shape) if input_shape is not None
                 else spec.input_for(batch, resolution, resolved))
        _check_shape(shape)
        with torch.device(device):
            module = spec.build(input_shape=shape, **resolved)
        name = name or spec.name
        reference = spec.reference
        variant = ",".join(f"{k.name}={resolved[k.name]}" for k in spec.knobs
                           if resolved[k.name] != k.default)
        input_dtype = spec.input_dtype
        run_device = device
    elif isinstance(model, nn.Module):
        if knobs:
            raise UsageError(f"knobs {sorted(knobs)} apply to registered models only")
        module, resolved = model, {}
        input_dtype = "float32"
        name = name or type(model).__name__
        first = next(iter(module.parameters()), None)
        if first is None:
            first = next(iter(module.buffers()), None)
        run_device = str(first.device) if first is not None else "cpu"
        shape = tuple(input_shape) if input_shape is not None else None
    else:
        raise UsageError(f"cannot analyze {type(model).__name__}: give a model name or an nn.Module")

    if inputs is None:
        if shape is None:
            raise UsageError("give input_shape or inputs for a module")
        _check_shape(shape)
        inputs = (make_input(shape, input_dtype, run_device),)
    elif isinstance(inputs, torch.Tensor):
        inputs = (inputs,)

    was_training = module.training
    module.eval()
    try:
        return build_cost(module, tuple(inputs), name=name, knobs=resolved, device=run_device,
                          storage_dtype=storage_dtype, reference=reference, variant=variant)
    finally:
        module.train(was_training)


@dataclass
class ModelComparison:
    """Several analyses side by side, with the published numbers beside each."""

    costs: list[ModelCost]
    published: list[PublishedEntry | None]

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
        for cost, r in list(zip(self.costs, self.ratios(), strict=False))[1:]:
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


def compare(models: Sequence[Any], **options: Any) -> ModelComparison:
    """Analyze each model with the same options and line them up with published numbers."""
    from costlab.references import lookup_for_input

    if len(models) < 1:
        raise UsageError("compare needs at least one model")
    costs = [analyze(m, **options) for m in models]
    published = [lookup_for_input(c.name, c.info.knobs, c.info.input_shapes) for c in costs]
    return ModelComparison(costs, published)


def fvcore_check(model: Any, cost: ModelCost, depth: int = 1):
    """fvcore's per-module count of the same model beside ``cost`` (see fvcore_check.py)."""
    from torch import nn

    from costlab.analysis.fvcore_check import check_fvcore
    from costlab.models import registry

    input_dtype = "float32"
    if isinstance(model, str):
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
