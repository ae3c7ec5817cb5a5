"""Hardware profiles for the roofline estimate: dense peaks, memory bandwidth, per-op overhead.

The packaged profiles are JSON files beside this module, one per device, each with the
source of its numbers. ``costlab calibrate`` writes the same format for the machine it runs
on, and ``load_profile`` reads either by name or by path.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from costlab.core.errors import UsageError

# How a dtype name given to ``estimate`` maps to the storage dtype of its tensors: TF32 is
# a float32 tensor multiplied on tensor cores.
STORAGE_DTYPE = {"float32": "float32", "tf32": "float32", "float16": "float16",
                 "bfloat16": "bfloat16", "int8": "int8"}


@dataclass(frozen=True)
class HardwareProfile:
    """What one device can do at best: the roof of its roofline."""

    name: str
    description: str
    kind: str  # "cpu" or "gpu"
    peak_gflops: dict[str, float]  # dense peak per dtype, 10^9 FLOP/s
    bandwidth_gbs: float  # memory bandwidth, 10^9 bytes/s
    overhead_s: float  # fixed cost of launching one op, seconds
    source: str  # where the numbers come from, and how they were derived
    measured: dict[str, Any] = field(default_factory=dict)  # calibrate's raw readings

    def peak_flops(self, dtype: str) -> float:
        """Dense peak in FLOP/s for ``dtype``; a one-line error if the profile has none."""
        if dtype not in self.peak_gflops:
            raise UsageError(f"profile {self.name!r} has no peak for {dtype!r}; it has "
                             f"{', '.join(self.peak_gflops)}")
        return self.peak_gflops[dtype] * 1e9

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth_gbs * 1e9

    def ridge_point(self, dtype: str) -> float:
        """The arithmetic intensity (FLOP/byte) above which an op is compute-bound."""
        return self.peak_flops(dtype) / self.bandwidth_bytes_per_s

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def _positive(value: Any, what: str, origin: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{origin}: {what} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{origin}: {what} must be > 0, got {value!r}")
    return number


def profile_from_dict(data: Any, origin: str) -> HardwareProfile:
    """Check and convert a profile read from JSON; ``origin`` names it in errors."""
    if not isinstance(data, dict):
        raise UsageError(f"{origin}: a hardware profile is a JSON object")
    required = ("name", "peak_gflops", "bandwidth_gbs", "overhead_s")
    missing = [key for key in required if key not in data]
    if missing:
        raise UsageError(f"{origin}: missing {', '.join(missing)}")
    peaks = data["peak_gflops"]
    if not isinstance(peaks, dict) or not peaks:
        raise UsageError(f"{origin}: peak_gflops must map dtypes to GFLOP/s, e.g. "
                         "{\"float32\": 100}")
    unknown = sorted(set(peaks) - set(STORAGE_DTYPE))
    if unknown:
        raise UsageError(f"{origin}: unknown dtype {unknown[0]!r} in peak_gflops; choose from "
                         f"{', '.join(STORAGE_DTYPE)}")
    overhead = data["overhead_s"]
    try:
        overhead = float(overhead)
    except (TypeError, ValueError):
        raise UsageError(f"{origin}: overhead_s must be a number, got {overhead!r}") from None
    if not math.isfinite(overhead) or overhead < 0:
        raise UsageError(f"{origin}: overhead_s must be >= 0, got {data['overhead_s']!r}")
    measured = data.get("measured") or {}
    if not isinstance(measured, dict):
        raise UsageError(f"{origin}: measured must be an object, got {measured!r}")
    return HardwareProfile(
        name=str(data["name"]), description=str(data.get("description", "")),
        kind=str(data.get("kind", "cpu")),
        peak_gflops={str(k): _positive(v, f"peak_gflops[{k!r}]", origin)
                     for k, v in peaks.items()},
        bandwidth_gbs=_positive(data["bandwidth_gbs"], "bandwidth_gbs", origin),
        overhead_s=overhead, source=str(data.get("source", "")),
        measured=dict(measured))


def packaged_names() -> list[str]:
    """Names of the profiles that ship with costlab."""
    return sorted(entry.name[:-5] for entry in resources.files(__package__).iterdir()
                  if entry.name.endswith(".json"))


def _read_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{origin} is not valid JSON: {exc}") from None


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """A packaged profile by name (``nvidia_a100``) or a user's JSON file by path."""
    text = str(name_or_path)
    names = packaged_names()
    if text.strip().lower() in names:  # names match as model names do: any case, spaces
        text = text.strip().lower()
    if text in names:
        data = resources.files(__package__).joinpath(f"{text}.json").read_text(encoding="utf-8")
        return profile_from_dict(_read_json(data, f"profile {text}"), f"profile {text}")
    path = Path(text)
    if path.suffix.lower() == ".json" or path.exists():
        if not path.is_file():
            raise UsageError(f"cannot read hardware profile {text}: no such file")
        try:
            data = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read hardware profile {text}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"cannot read hardware profile {text}: not a text (JSON) file") \
                from None
        return profile_from_dict(_read_json(data, text), text)
    close = difflib.get_close_matches(text.strip().lower(), names, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"unknown hardware profile {text!r}{hint}; known: {', '.join(names)} "
                     "(or a JSON file, e.g. from `costlab calibrate`)")


def load_all() -> list[HardwareProfile]:
    return [load_profile(name) for name in packaged_names()]


__all__ = ["HardwareProfile", "STORAGE_DTYPE", "load_all", "load_profile", "packaged_names",
           "profile_from_dict"]
