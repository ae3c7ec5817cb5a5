"""The model zoo: a registry and one module per family."""

from __future__ import annotations

from costlab.models.registry import REGISTRY, Knob, ModelSpec, register_model

_NOT_FAMILIES = {"registry", "blocks", "loaders"}


def registry():
    """The registry with every family module of this package imported (imports torch).

    A family is any module here other than the registry and the shared blocks, so adding
    a file is all it takes to add a family.
    """
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_FAMILIES and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY


def get_model_spec(name: str) -> ModelSpec:
    return registry().get(name)


__all__ = ["Knob", "ModelSpec", "REGISTRY", "get_model_spec", "register_model", "registry"]
