"""Input specifications: shapes and dtypes as users write them, and the tensors made from them.

Errors name the library's arguments (``input_shape``); the CLI maps them to its flags.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from costlab.core.errors import UsageError

# storage dtypes an analysis may count bytes at (``dtype=``)
DTYPES = ("float32", "float16", "bfloat16", "int8")
# where a model is built for analysis: meta allocates no weights
DEVICES = ("meta", "cpu")
# where a model can really run (the benchmarker, the profiler)
RUN_DEVICES = ("cpu", "cuda")
INPUT_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")

InputSpec = tuple[tuple[int, ...], "str | None"]  # (shape, dtype name or None: the default)


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


def check_positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise UsageError(f"{name} must be a positive integer, got {value!r}")


# torch sizes storage in bytes as int64: a tensor of more elements than this overflows it
# even at 8 bytes per element, and fails deep inside the first op
MAX_ELEMENTS = 2**63 // 16


def check_shape(shape: Sequence[int]) -> None:
    if not shape or any(int(d) <= 0 for d in shape):
        raise UsageError(f"malformed input shape {tuple(shape)}: every dimension must be > 0")
    if math.prod(int(d) for d in shape) > MAX_ELEMENTS:
        raise UsageError(f"input shape {'x'.join(str(int(d)) for d in shape)} is too large: "
                         f"more than {MAX_ELEMENTS:.2e} elements, which torch cannot index")


def parse_input(text: str | Sequence[int]) -> InputSpec:
    """``"1,128:int64"`` -> ((1, 128), "int64"); a bare shape leaves the dtype to the model
    (float32, or int64 for a registered model that takes token ids)."""
    if not isinstance(text, str):
        try:
            shape = tuple(int(d) for d in text)
        except (TypeError, ValueError):
            raise UsageError(f"malformed input shape {text!r}") from None
        check_shape(shape)
        return shape, None
    shape_text, _, dtype = text.partition(":")
    dtype = dtype.strip() or None
    if dtype is not None and dtype not in INPUT_DTYPES:
        raise UsageError(f"unknown input dtype {dtype!r} in {text!r}; choose from "
                         f"{', '.join(INPUT_DTYPES)}")
    return parse_shape(shape_text), dtype


def input_specs(input_shape: Any) -> list[InputSpec] | None:
    """One spec per positional input, from a shape, a string or a list of either."""
    if input_shape is None:
        return None
    if isinstance(input_shape, str) or (isinstance(input_shape, (tuple, list)) and input_shape
                                        and isinstance(input_shape[0], int)):
        return [parse_input(input_shape)]
    specs = [parse_input(item) for item in input_shape]
    if not specs:
        raise UsageError("give at least one input shape in input_shape")
    return specs


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


def storage_dtype(dtype: str | None):
    """The torch dtype bytes are counted at, or None for each tensor's own."""
    import torch

    if dtype is None:
        return None
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def check_analysis_device(device: str) -> None:
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")


def check_run_device(device: str) -> None:
    """A device a model can really run on here (cpu, or cuda when a GPU is present)."""
    if device not in RUN_DEVICES:
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(RUN_DEVICES)}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("device=cuda: no CUDA device is available here")
