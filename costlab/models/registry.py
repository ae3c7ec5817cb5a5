"""The model registry: ``@register_model`` records a builder with its knobs and input.

Configs are data: a ``ModelSpec`` says what a model is called, which knobs it takes
(with defaults, types and bounds), its default input and the paper table it follows.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from costlab.core.errors import UnknownModelError, UsageError


@dataclass(frozen=True)
class Knob:
    """One architecture parameter a user may set, e.g. MobileNet's width multiplier."""

    name: str
    default: Any
    kind: type = float
    help: str = ""
    positive: bool = True  # numeric values must be > 0
    choices: tuple | None = None  # the only values allowed, when the paper defines a few

    def parse(self, value: Any) -> Any:
        try:
            if self.kind is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                parsed = value.lower() in ("true", "1", "yes")
            else:
                parsed = self.kind(value)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"{self.name} must be a {self.kind.__name__}, got {value!r}") from None
        if isinstance(parsed, float) and not math.isfinite(parsed):
            raise UsageError(f"{self.name} must be a finite number, got {value!r}")
        if self.choices is not None:
            if parsed not in self.choices:
                allowed = ", ".join(str(c) for c in self.choices)
                raise UsageError(f"{self.name}={value} is not available; allowed: {allowed}")
        elif self.positive and self.kind in (int, float) and parsed <= 0:
            raise UsageError(f"{self.name} must be > 0, got {value!r}")
        return parsed


InputShape = tuple[int, ...] | Callable[[dict[str, Any]], tuple[int, ...]]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    ``input_shape`` excludes the batch dimension; it may be a function of the resolved knobs
    (a sequence length knob, say). ``input_dtype`` is "float32" for images and "int64" for
    token ids. With ``takes_input``, the builder also receives ``input_shape=`` (the full
    shape, batch included), for blocks whose channels follow the input.
    """

    name: str
    builder: Callable[..., Any]
    knobs: tuple[Knob, ...] = ()
    input_shape: InputShape = (3, 224, 224)
    family: str = ""
    reference: str = ""
    summary: str = ""
    input_dtype: str = "float32"
    takes_input: bool = False
    # knob values an alias fixes (``shufflenet_v2_x0_5`` is ``shufflenet_v2`` at scale=0.5)
    presets: tuple[tuple[str, Any], ...] = ()
    alias: str = ""  # the name it was asked for by, when that was an alias

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        names = ", ".join(k.name for k in self.knobs) or "none"
        raise UsageError(f"model '{self.name}' has no knob '{name}' (its knobs: {names})")

    def resolve_knobs(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``values``, each parsed and checked."""
        resolved = {k.name: k.default for k in self.knobs}
        resolved.update(self.presets)
        for name, value in values.items():
            if value is None:
                continue
            parsed = self.knob(name).parse(value)
            if name in dict(self.presets) and parsed != dict(self.presets)[name]:
                raise UsageError(f"{self.alias} is {self.name} with {name}="
                                 f"{dict(self.presets)[name]}; for {name}={value} ask for "
                                 f"{self.name}")
            resolved[name] = parsed
        return resolved

    def default_input(self, knobs: dict[str, Any] | None = None) -> tuple[int, ...]:
        """The input shape without batch, for ``knobs`` (defaults where not given)."""
        if callable(self.input_shape):
            return tuple(self.input_shape(self.resolve_knobs(knobs or {})))
        return tuple(self.input_shape)

    def input_for(self, batch: int = 1, resolution: int | None = None,
                  knobs: dict[str, Any] | None = None) -> tuple[int, ...]:
        shape = self.default_input(knobs)
        if resolution is not None:
            if len(shape) < 3 or self.input_dtype != "float32":
                raise UsageError(f"model '{self.name}' takes no resolution (its input is "
                                 f"{'x'.join(map(str, shape))})")
            shape = shape[:-2] + (resolution, resolution)
        return (batch, *shape)

    def build(self, input_shape: tuple[int, ...] | None = None, **knobs: Any) -> Any:
        """The model with ``knobs`` (validated); blocks also get the full input shape."""
        resolved = self.resolve_knobs(knobs)
        if self.takes_input:
            return self.builder(input_shape=input_shape or self.input_for(knobs=resolved),
                                **resolved)
        return self.builder(**resolved)


@dataclass(frozen=True)
class Alias:
    """Another library's name for a zoo model: the zoo model and the knob values it fixes."""

    name: str
    model: str
    knobs: tuple[tuple[str, Any], ...] = ()


# torchvision's classification names whose zoo model is the same architecture at the same
# width, where the names differ (same-named models need no alias). Each was checked against
# torchvision 0.28 (torchvision:NAME): MACs and params equal at the default input. Not
# aliased: torchvision's googlenet (BatchNorm, 3x3 "5x5" branches) is not the zoo's, which
# follows the paper under the same name; the vgg*_bn, wide_resnet, resnext101, regnet,
# convnext, swin, mnasnet, efficientnet_v2 and other vit variants have no zoo model.
TORCHVISION_ALIASES: tuple[Alias, ...] = (
    Alias("vit_b_16", "vit_b16"),
    Alias("squeezenet1_0", "squeezenet", (("version", "v1.0"),)),
    Alias("squeezenet1_1", "squeezenet", (("version", "v1.1"),)),
    Alias("shufflenet_v2_x0_5", "shufflenet_v2", (("scale", 0.5),)),
    Alias("shufflenet_v2_x1_0", "shufflenet_v2", (("scale", 1.0),)),
    Alias("shufflenet_v2_x1_5", "shufflenet_v2", (("scale", 1.5),)),
    Alias("shufflenet_v2_x2_0", "shufflenet_v2", (("scale", 2.0),)),
)


def normalized(name: str) -> str:
    """Model names match case-insensitively, surrounding spaces ignored."""
    return name.strip().lower()


@dataclass
class Registry:
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(
        default_factory=lambda: {a.name: a for a in TORCHVISION_ALIASES})

    def add(self, spec: ModelSpec) -> None:
        if spec.name in self.specs:
            raise ValueError(f"model '{spec.name}' registered twice")
        self.specs[spec.name] = spec

    def get(self, name: str) -> ModelSpec:
        """The spec registered as ``name`` (any case), or the one an alias names, with the
        alias's knob values fixed."""
        key = normalized(name)
        spec = self.specs.get(key)
        if spec is not None:
            return spec
        alias = self.aliases.get(key)
        if alias is not None:
            return replace(self.specs[alias.model], presets=alias.knobs, alias=alias.name)
        known = list(self.specs) + list(self.aliases)
        raise UnknownModelError(name.strip(), difflib.get_close_matches(key, known, n=3,
                                                                        cutoff=0.5))

    def owns(self, name: str) -> bool:
        """Whether ``name`` is for this registry to answer: a registered name or alias, or
        one in a registered namespace (``block:anything``), so a typo gets suggestions
        rather than being taken for a user's ``module:attr``."""
        key = normalized(name)
        namespace = key.split(":", 1)[0] if ":" in key else None
        return key in self.specs or key in self.aliases or (namespace is not None and any(
            other.startswith(namespace + ":") for other in self.specs))

    def names(self) -> list[str]:
        return sorted(self.specs)


# The one registry, filled at import of the family modules (like a table of contents).
REGISTRY = Registry()


def register_model(name: str | None = None, *, knobs: tuple[Knob, ...] = (),
                   input_shape: InputShape = (3, 224, 224), family: str = "",
                   reference: str = "", input_dtype: str = "float32",
                   takes_input: bool = False) -> Callable:
    """Decorator: register a model builder under ``name`` (default: the function's name)."""

    def deco(builder: Callable) -> Callable:
        doc = (builder.__doc__ or "").strip().splitlines()
        REGISTRY.add(ModelSpec(name or builder.__name__, builder, tuple(knobs), input_shape,
                               family, reference, doc[0] if doc else "", input_dtype,
                               takes_input))
        return builder

    return deco
