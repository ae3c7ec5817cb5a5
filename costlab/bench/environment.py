"""Where a measurement ran: the machine, the threads and the torch build behind a latency."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field


def cpu_model() -> str:
    """The CPU's marketing name, as /proc/cpuinfo (or macOS's sysctl) gives it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                # x86 says "model name"; ARM boards say "Model" or "Hardware"
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                  capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def available_cores() -> list[int]:
    """The CPU cores this process may run on (its affinity), or all of them."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass
class Environment:
    """The machine and software a measurement ran on."""

    cpu: str
    arch: str
    os: str
    python: str
    cores_available: int
    cores: list[int]  # the ids of the cores this process may run on
    logical_cpus: int
    threads: int  # torch intra-op threads
    interop_threads: int
    torch: str
    cpu_capability: str
    mkldnn: bool
    mkl: bool
    openmp: bool
    device: str
    gpu: str | None = None
    cuda: str | None = None
    cudnn: int | None = None
    cudnn_benchmark: bool | None = None
    tf32_matmul: bool | None = None
    tf32_cudnn: bool | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The environment block printed under a latency table."""
        out = [f"CPU: {self.cpu} ({self.arch}), cores {self.cores_available} of "
               f"{self.logical_cpus} available, torch threads {self.threads}",
               f"torch {self.torch} (CPU capability {self.cpu_capability}, "
               f"oneDNN {'on' if self.mkldnn else 'off'}, MKL {'on' if self.mkl else 'off'}, "
               f"OpenMP {'on' if self.openmp else 'off'}), Python {self.python}, {self.os}"]
        if self.gpu:
            out.append(f"GPU: {self.gpu}, CUDA {self.cuda}, cuDNN {self.cudnn}, "
                       f"cudnn.benchmark {self.cudnn_benchmark}, TF32 matmul "
                       f"{self.tf32_matmul}, TF32 cuDNN {self.tf32_cudnn}")
        return out + self.notes


def capture(device: str = "cpu") -> Environment:
    """Read the environment now (after threads are set)."""
    import torch

    cores = available_cores()
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # older builds
        capability = "unknown"
    env = Environment(
        cpu=cpu_model(), arch=platform.machine(), os=platform.platform(terse=True),
        python=platform.python_version(), cores_available=len(cores), cores=cores,
        logical_cpus=os.cpu_count() or len(cores), threads=torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(), torch=torch.__version__,
        cpu_capability=capability, mkldnn=torch.backends.mkldnn.is_available(),
        mkl=torch.backends.mkl.is_available(), openmp=torch.backends.openmp.is_available(),
        device=device)
    if device == "cuda" and torch.cuda.is_available():
        env.gpu = torch.cuda.get_device_name()
        env.cuda = torch.version.cuda
        env.cudnn = torch.backends.cudnn.version()
        env.cudnn_benchmark = torch.backends.cudnn.benchmark
        env.tf32_matmul = torch.backends.cuda.matmul.allow_tf32
        env.tf32_cudnn = torch.backends.cudnn.allow_tf32
    return env
