"""The model registry: ``@register_model`` records a builder with its knobs and input.

Configs are data: a ``ModelSpec`` says what a model is called, which knobs it takes
(with defaults, types and bounds), its default input and the paper table it follows.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
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

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        names = ", ".join(k.name for k in self.knobs) or "none"
        raise UsageError(f"model '{self.name}' has no knob '{name}' (its knobs: {names})")

    def resolve_knobs(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``values``, each parsed and checked."""
        resolved = {k.name: k.default for k in self.knobs}
        for name, value in values.items():
            if value is None:
                continue
            resolved[name] = self.knob(name).parse(value)
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


@dataclass
class Registry:
    specs: dict[str, ModelSpec] = field(default_factory=dict)

    def add(self, spec: ModelSpec) -> None:
        if spec.name in self.specs:
            raise ValueError(f"model '{spec.name}' registered twice")
        self.specs[spec.name] = spec

    def get(self, name: str) -> ModelSpec:
        spec = self.specs.get(name)
        if spec is None:
            raise UnknownModelError(name, difflib.get_close_matches(name, list(self.specs), n=3,
                                                                  cutoff=0.5))
        return spec

    def owns(self, name: str) -> bool:
        """Whether ``name`` is for this registry to answer: a registered name, or one in a
        registered namespace (``block:anything``), so a typo gets suggestions rather than
        being taken for a user's ``module:attr``."""
        namespace = name.split(":", 1)[0] if ":" in name else None
        return name in self.specs or (namespace is not None and any(
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
