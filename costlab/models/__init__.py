"""The model zoo: a registry and one module per family."""

from __future__ import annotations

from costlab.models.registry import REGISTRY, Knob, ModelSpec, register_model

_FAMILIES = ("costlab.models.mobilenet",)


def registry():
    """The registry with every family imported (imports torch)."""
    import importlib

    for module in _FAMILIES:
        importlib.import_module(module)
    return REGISTRY


def get_model_spec(name: str) -> ModelSpec:
    return registry().get(name)


__all__ = ["Knob", "ModelSpec", "REGISTRY", "get_model_spec", "register_model", "registry"]
