"""costlab: what a neural network really costs, layer by layer.

``costlab.analyze``, ``costlab.compare`` and ``costlab.sweep`` import torch on first use, so
that importing costlab (and ``costlab --help``) stays fast.
"""

from __future__ import annotations

from costlab.core.version import SCHEMA_VERSION, __version__

_API = ("analyze", "compare", "sweep", "prepare")


def __getattr__(name: str):
    if name in _API:
        from costlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'costlab' has no attribute {name!r}")


__all__ = [*_API, "__version__", "SCHEMA_VERSION"]
