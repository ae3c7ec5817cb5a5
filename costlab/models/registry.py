"""The model registry: ``@register_model`` records a builder with its knobs and input.

Configs are data: a ``ModelSpec`` says what a model is called, which knobs it takes
(with defaults, types and bounds), its default input and the paper table it follows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from costlab.errors import UnknownModelError, UsageError


@dataclass(frozen=True)
class Knob:
    """One architecture parameter a user may set, e.g. MobileNet's width multiplier."""

    name: str
    default: Any
    kind: type = float
    help: str = ""
    positive: bool = True  # values must be > 0

    def parse(self, value: Any) -> Any:
        try:
            parsed = self.kind(value)
        except (TypeError, ValueError):
            raise UsageError(f"{self.name} must be a {self.kind.__name__}, got {value!r}") from None
        if self.positive and parsed <= 0:
            raise UsageError(f"{self.name} must be > 0, got {value!r}")
        return parsed


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    knobs: tuple[Knob, ...] = ()
    input_shape: tuple[int, ...] = (3, 224, 224)  # without the batch dimension
    family: str = ""
    reference: str = ""
    summary: str = ""

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

    def input_for(self, batch: int = 1, resolution: int | None = None) -> tuple[int, ...]:
        shape = tuple(self.input_shape)
        if resolution is not None:
            if len(shape) < 2:
                raise UsageError(f"model '{self.name}' takes no resolution")
            shape = shape[:-2] + (resolution, resolution)
        return (batch, *shape)

    def build(self, **knobs: Any) -> Any:
        return self.builder(**self.resolve_knobs(knobs))


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

    def names(self) -> list[str]:
        return sorted(self.specs)


# The one registry, filled at import of the family modules (like a table of contents).
REGISTRY = Registry()


def register_model(name: str | None = None, *, knobs: tuple[Knob, ...] = (),
                   input_shape: tuple[int, ...] = (3, 224, 224), family: str = "",
                   reference: str = "") -> Callable:
    """Decorator: register a model builder under ``name`` (default: the function's name)."""

    def deco(builder: Callable) -> Callable:
        doc = (builder.__doc__ or "").strip().splitlines()
        REGISTRY.add(ModelSpec(name or builder.__name__, builder, tuple(knobs), input_shape,
                               family, reference, doc[0] if doc else ""))
        return builder

    return deco
