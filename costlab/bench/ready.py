"""A model built to be timed: ``build.prepare`` plus the benchmark's dtype and memory format.

Its own module because both the timing side (runner) and the fresh-process memory probe
(memory) build models this way.
"""

from __future__ import annotations

from typing import Any

from costlab.core.errors import UsageError

BENCH_DTYPES = ("float32", "float16", "bfloat16")


def ready_model(model: Any, options: dict[str, Any] | None = None, device: str = "cpu",
                dtype: str = "float32", channels_last: bool = False):
    """``build.prepare`` plus the benchmark's dtype and memory format, inputs included."""
    import torch

    from costlab.build.target import prepare

    if dtype not in BENCH_DTYPES:
        raise UsageError(f"unknown benchmark dtype {dtype!r}; choose from "
                         f"{', '.join(BENCH_DTYPES)}")
    prepared = prepare(model, device=device, **(options or {}))
    torch_dtype = getattr(torch, dtype)

    def convert(x: Any) -> Any:
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            x = x.to(torch_dtype)
            if channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
        return x

    if dtype != "float32":
        prepared.module = prepared.module.to(torch_dtype)
    if channels_last:
        prepared.module = prepared.module.to(memory_format=torch.channels_last)
    prepared.args = tuple(convert(a) for a in prepared.args)
    prepared.kwargs = {k: convert(v) for k, v in prepared.kwargs.items()}
    return prepared
