"""Measured speed against the hardware's peak: achieved FLOP/s and bytes/s, MFU and MBU.

The static FLOPs and memory-access bytes of one call come from the analyzer of the same
model and input; this module never imports it (bench and analysis are independent): the
workflow layer passes the counts in. MFU is achieved FLOP/s over the profile's dense peak
for the run's dtype, MBU achieved bytes/s over its memory bandwidth. Achieved bytes/s count
every op's bytes as traced (no caches), so a model whose working set fits in a cache can
show more than 100% MBU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# a GPU's name as torch reports it -> the packaged profile of that device
RECOGNISED_GPUS = (("A100", "nvidia_a100"), ("H100", "nvidia_h100"))
# the peak a run in this dtype reaches at best (float32 matmuls may use TF32 on CUDA)
PEAK_DTYPE = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


@dataclass(frozen=True, kw_only=True)
class Utilization:
    """One model's achieved rates at its median latency, and their share of peak."""

    model: str
    flops: int  # static FLOPs of one call
    memory_access_bytes: int  # static bytes read + written of one call
    median_s: float
    profile: str | None = None  # the profile the peaks come from
    peak_flops: float | None = None  # FLOP/s
    bandwidth: float | None = None  # bytes/s

    @property
    def achieved_flops(self) -> float:
        return self.flops / self.median_s if self.median_s else 0.0

    @property
    def achieved_bytes(self) -> float:
        return self.memory_access_bytes / self.median_s if self.median_s else 0.0

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilization: achieved FLOP/s over the peak."""
        return self.achieved_flops / self.peak_flops if self.peak_flops else None

    @property
    def mbu(self) -> float | None:
        """Memory bandwidth utilization: achieved bytes/s over the bandwidth."""
        return self.achieved_bytes / self.bandwidth if self.bandwidth else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "achieved_flops_per_s": self.achieved_flops,
                "achieved_bytes_per_s": self.achieved_bytes, "mfu": self.mfu, "mbu": self.mbu}

    def line(self) -> str:
        text = (f"{self.model}: achieved {self.achieved_flops / 1e9:,.2f} GFLOP/s and "
                f"{self.achieved_bytes / 1e9:,.2f} GB/s (static count / median latency)")
        if self.profile:
            text += (f"; on {self.profile}: MFU {100 * self.mfu:.1f}% of peak compute, MBU "
                     f"{100 * self.mbu:.1f}% of peak bandwidth")
        return text


def recognised_profile(gpu: str | None) -> str | None:
    """The packaged profile of a GPU torch names (``NVIDIA A100-SXM4-80GB``), if any."""
    for marker, profile in RECOGNISED_GPUS:
        if gpu and marker in gpu.upper():
            return profile
    return None


def utilization(report: Any, *, flops: int, memory_access_bytes: int,
                hardware: str | None = None) -> Utilization:
    """``report`` (a BenchReport)'s achieved rates; with ``hardware`` (a profile name or
    file), or a recognised GPU it ran on, their share of that profile's peaks."""
    from costlab.hardware import load_profile

    name = hardware or (recognised_profile(report.environment.gpu)
                        if report.device == "cuda" else None)
    peak = bandwidth = None
    profile_name = None
    if name is not None:
        profile = load_profile(name)
        peak = profile.peak_flops(PEAK_DTYPE.get(report.dtype, report.dtype))
        bandwidth = profile.bandwidth_bytes_per_s
        profile_name = profile.name
    return Utilization(model=report.model, flops=flops, memory_access_bytes=memory_access_bytes,
                       median_s=report.stats.median_ms / 1e3, profile=profile_name,
                       peak_flops=peak, bandwidth=bandwidth)


__all__ = ["RECOGNISED_GPUS", "Utilization", "recognised_profile", "utilization"]
