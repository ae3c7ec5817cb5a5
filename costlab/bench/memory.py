"""Peak memory of running a model.

On CUDA, ``torch.cuda.max_memory_allocated`` in the benchmarking process. On the CPU the
process's peak RSS only grows, so it is measured in a fresh Python subprocess that imports
torch, builds the model, runs a few forward passes and reports its peak RSS, beside the peak
before the model was built (the interpreter and torch themselves).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PeakMemory:
    """Peak memory in MB (10^6 bytes), and how it was measured."""

    peak_mb: float
    baseline_mb: float  # what the process held before the model was built
    method: str

    @property
    def model_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    def to_dict(self) -> dict:
        return {**asdict(self), "model_mb": self.model_mb}


def status_mb(field: str) -> float | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status in MB (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError):
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so torch's import peak is not
    mistaken for the model's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def maxrss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def cuda_peak(run: Any) -> PeakMemory:
    """Run ``run()`` once on CUDA and read the allocator's peak."""
    import torch

    torch.cuda.synchronize()
    baseline = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    run()
    torch.cuda.synchronize()
    return PeakMemory(torch.cuda.max_memory_allocated() / 1e6, baseline / 1e6,
                      "torch.cuda.max_memory_allocated")


def cpu_peak_in_subprocess(request: dict, timeout: float = 600) -> PeakMemory | None:
    """Peak RSS of a fresh process that runs the model described by ``request``.

    ``request`` holds JSON-able arguments of ``ready.ready_model``; None when the model
    cannot be described that way (an nn.Module object) or the subprocess fails.
    """
    try:
        payload = json.dumps(request)
    except (TypeError, ValueError):
        return None
    try:
        done = subprocess.run([sys.executable, "-m", "costlab.bench.memory"], input=payload,
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return PeakMemory(result["peak_mb"], result["baseline_mb"], "peak RSS of a fresh process")


def _probe() -> None:
    """Subprocess side: build the model from stdin's request, run it, print peak RSS."""
    request = json.loads(sys.stdin.read())
    import torch  # noqa: F401  (part of the baseline)

    from costlab.bench.ready import ready_model

    if _reset_peak() and status_mb("VmRSS") is not None:
        baseline, peak = status_mb("VmRSS"), lambda: status_mb("VmHWM")
    else:  # no resettable mark: the peak includes importing torch
        baseline, peak = maxrss_mb(), maxrss_mb
    prepared = ready_model(**request)
    with torch.inference_mode():
        for _ in range(3):
            prepared()
    print(json.dumps({"peak_mb": peak(), "baseline_mb": baseline}))


if __name__ == "__main__":
    _probe()
