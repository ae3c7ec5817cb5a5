"""A roofline estimate of latency from the traced per-op costs and a hardware profile.

Each recorded op takes ``max(FLOPs / peak, bytes / bandwidth) + overhead`` seconds: it is
limited either by arithmetic or by memory traffic, never both at once, and pays a fixed
launch cost. The ops run one after another, so the model's time is the sum. This is an
estimate: it ignores caches (every byte goes to memory), fusion, kernel efficiency and
parallel branches, and uses the profile's peaks, which real kernels rarely reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from costlab.core.records import ModelCost, OpRecord

if TYPE_CHECKING:
    import pandas as pd

    from costlab.hardware import HardwareProfile

COMPUTE, MEMORY, OVERHEAD, FREE = "compute", "memory", "overhead", "free"
BOUNDS = (COMPUTE, MEMORY, OVERHEAD, FREE)

LABEL = "roofline estimate"


@dataclass(frozen=True, slots=True)
class LayerEstimate:
    """One op's estimated time and what limits it."""

    index: int
    module: str
    op: str
    category: str
    flops: int
    bytes: int  # memory access: read + written
    compute_s: float  # flops / peak
    memory_s: float  # bytes / bandwidth
    overhead_s: float
    bound: str  # compute, memory, overhead (the largest of the three), or free

    @property
    def time_s(self) -> float:
        return max(self.compute_s, self.memory_s) + self.overhead_s

    @property
    def intensity(self) -> float | None:
        """Arithmetic intensity, FLOP per byte of memory access (None without bytes)."""
        return self.flops / self.bytes if self.bytes else None


@dataclass(frozen=True)
class RooflineEstimate:
    """A model's estimated latency on one device: per op, and summed."""

    model: str
    variant: str
    profile: str
    profile_source: str
    dtype: str  # the peak used, e.g. "float32" or "tf32"
    bytes_dtype: str  # storage size of the traced bytes
    peak_flops: float  # FLOP/s
    bandwidth: float  # bytes/s
    overhead_per_op_s: float
    layers: tuple[LayerEstimate, ...]
    partial: bool  # some ops had no formula: their FLOPs are unknown (counted as 0)

    @property
    def time_s(self) -> float:
        return sum(layer.time_s for layer in self.layers)

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    @property
    def bytes(self) -> int:
        return sum(layer.bytes for layer in self.layers)

    @property
    def ridge_point(self) -> float:
        """FLOP per byte where the compute and memory roofs meet."""
        return self.peak_flops / self.bandwidth

    def time_by_bound(self) -> dict[str, float]:
        """Estimated seconds spent in ops of each bound (the overhead of every op is
        included in its own bound's time)."""
        times = {bound: 0.0 for bound in BOUNDS}
        for layer in self.layers:
            times[layer.bound] += layer.time_s
        return times

    def count_by_bound(self) -> dict[str, int]:
        counts = {bound: 0 for bound in BOUNDS}
        for layer in self.layers:
            counts[layer.bound] += 1
        return counts

    def summary(self) -> str:
        """One line: the estimate, and where its time goes."""
        total = self.time_s
        shares = ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in
                           self.time_by_bound().items() if t and total)
        return (f"{self.model}: {LABEL} {1e3 * total:.3f} ms on {self.profile} ({self.dtype}); "
                f"time in {shares or 'nothing'}")

    def to_dataframe(self) -> "pd.DataFrame":
        """One row per op, in execution order, times in milliseconds."""
        import pandas as pd

        total = self.time_s
        return pd.DataFrame([{
            "index": layer.index, "module": layer.module, "op": layer.op,
            "category": layer.category, "flops": layer.flops, "bytes": layer.bytes,
            "intensity": layer.intensity, "compute_ms": 1e3 * layer.compute_s,
            "memory_ms": 1e3 * layer.memory_s, "overhead_ms": 1e3 * layer.overhead_s,
            "time_ms": 1e3 * layer.time_s, "share_time": layer.time_s / total if total else 0.0,
            "bound": layer.bound,
        } for layer in self.layers], columns=FRAME_COLUMNS)


FRAME_COLUMNS = ["index", "module", "op", "category", "flops", "bytes", "intensity",
                 "compute_ms", "memory_ms", "overhead_ms", "time_ms", "share_time", "bound"]


def _layer(record: OpRecord, peak: float, bandwidth: float, overhead: float) -> LayerEstimate:
    flops, nbytes = record.flops, record.memory_access_bytes
    if flops == 0 and nbytes == 0:
        # no arithmetic and no traffic: nothing for a kernel to do (views are not recorded
        # at all; this catches anything else that slipped through as free)
        return LayerEstimate(record.index, record.module, record.op, record.category, 0, 0,
                             0.0, 0.0, 0.0, FREE)
    compute_s, memory_s = flops / peak, nbytes / bandwidth
    if overhead > max(compute_s, memory_s):
        bound = OVERHEAD
    else:
        bound = COMPUTE if compute_s >= memory_s else MEMORY
    return LayerEstimate(record.index, record.module, record.op, record.category, flops,
                         nbytes, compute_s, memory_s, overhead, bound)


def estimate(cost: ModelCost, profile: "HardwareProfile", dtype: str = "float32") \
        -> RooflineEstimate:
    """The roofline estimate of ``cost`` on ``profile`` at ``dtype``'s peak.

    ``cost``'s bytes are taken as traced; trace with the matching storage dtype
    (``costlab.hardware.STORAGE_DTYPE[dtype]``) for a consistent estimate.
    """
    peak = profile.peak_flops(dtype)
    bandwidth = profile.bandwidth_bytes_per_s
    layers = tuple(_layer(r, peak, bandwidth, profile.overhead_s) for r in cost.layers)
    return RooflineEstimate(
        model=cost.name, variant=cost.info.variant, profile=profile.name,
        profile_source=profile.source, dtype=dtype,
        bytes_dtype=cost.info.dtype or "each tensor's own dtype", peak_flops=peak,
        bandwidth=bandwidth, overhead_per_op_s=profile.overhead_s, layers=layers,
        partial=cost.total.partial)


__all__ = ["BOUNDS", "COMPUTE", "FREE", "LABEL", "LayerEstimate", "MEMORY", "OVERHEAD",
           "RooflineEstimate", "estimate"]
