"""costlab: what a neural network really costs, layer by layer.

``costlab.analyze`` and ``costlab.compare`` import torch on first use, so that importing
costlab (and ``costlab --help``) stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
SCHEMA_VERSION = 1


def __getattr__(name: str):
    if name in ("analyze", "compare"):
        from costlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'costlab' has no attribute {name!r}")


__all__ = ["analyze", "compare", "__version__", "SCHEMA_VERSION"]
