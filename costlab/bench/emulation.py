"""Is this interpreter emulated? An emulator's latency is not the hardware's.

qemu user mode runs foreign-architecture code (an aarch64 wheel on an x86 host, say) and
Rosetta translates x86 on Apple silicon; timings there say nothing about either CPU. Every
timing loop (``timing.time_interleaved``) asks ``refuse_under_emulation`` first.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Mapping

from costlab.core.errors import CostlabError


def refuse_under_emulation() -> None:
    """Raise when latency measured here would be an emulator's rather than the CPU's."""
    reason = running_under_emulation()
    if reason:
        raise CostlabError(f"refusing to report latency: {reason}; run costlab on the "
                           "machine itself (or reach it with --device ssh://user@host)")


# --- emulation -----------------------------------------------------------------------------

_ARCH_FAMILIES = {
    "x86": ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86"),
    "arm": ("aarch64", "arm64", "armv6l", "armv7l", "armv8l", "armv8b", "arm"),
    "riscv": ("riscv64", "riscv32"),
    "power": ("ppc64le", "ppc64", "ppc"),
    "s390": ("s390x", "s390"),
}
# the qemu-user binary that runs each machine's code, as binfmt_misc names its handler
_QEMU_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "i686": "i386", "i386": "i386",
               "aarch64": "aarch64", "arm64": "aarch64", "armv7l": "arm", "armv6l": "arm",
               "armv8l": "arm", "riscv64": "riscv64", "ppc64le": "ppc64le",
               "s390x": "s390x"}


def arch_family(machine: str) -> str | None:
    machine = machine.lower()
    for family, names in _ARCH_FAMILIES.items():
        if machine in names:
            return family
    return None


def cpuinfo_family(cpuinfo: str) -> str | None:
    """The architecture family the fields of /proc/cpuinfo belong to, if they say."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip().lower(), value.strip())
    vendor = fields.get("vendor_id", "")
    if vendor.startswith("IBM/S390"):
        return "s390"
    if vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls"):
        return "x86"
    if "cpu implementer" in fields or "cpu architecture" in fields:
        return "arm"
    if fields.get("isa", "").startswith("rv"):
        return "riscv"
    if fields.get("cpu", "").upper().startswith("POWER"):
        return "power"
    return None


def emulation_reason(machine: str, cpuinfo: str | None = None, maps: str | None = None,
                     binfmt: Mapping[str, str] | None = None,
                     translated: bool = False) -> str | None:
    """Why this interpreter runs under emulation, or None; a pure function of its inputs.

    ``machine`` is ``platform.machine()``; ``cpuinfo`` and ``maps`` the text of
    /proc/cpuinfo and /proc/self/maps; ``binfmt`` the binfmt_misc handlers by name
    (each file's text); ``translated`` macOS's ``sysctl.proc_translated`` (Rosetta 2).
    """
    if translated:
        return (f"this {machine} Python runs under Rosetta 2 translation on Apple silicon; "
                "use an arm64 Python for latency")
    for line in (maps or "").splitlines():
        words = line.split()
        if len(words) >= 6 and "x" in words[1]:  # address perms offset dev inode path
            program = os.path.basename(words[5])
            if program.startswith("qemu-"):
                return f"{program} is running this {machine} interpreter (qemu user mode)"
    family, described = arch_family(machine), cpuinfo_family(cpuinfo or "")
    if family and described and family != described:
        return (f"the interpreter reports {machine} but /proc/cpuinfo describes "
                f"a{'n' if described in ('x86', 'arm') else ''} {described} CPU: "
                "it runs under emulation (qemu user mode)")
    qemu_name = _QEMU_NAMES.get(machine.lower())
    for name, text in (binfmt or {}).items():
        if qemu_name and name == f"qemu-{qemu_name}" and text.startswith("enabled"):
            # binfmt_misc hands every {machine} executable to qemu, this Python included
            return (f"binfmt_misc runs {machine} programs through {name} on this host, so "
                    "this interpreter is emulated")
    return None


def _read(path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return None


def _binfmt_handlers(directory: str = "/proc/sys/fs/binfmt_misc") -> dict[str, str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return {}
    handlers = {}
    for name in names:
        if name.startswith("qemu-"):
            text = _read(os.path.join(directory, name), 4096)
            if text is not None:
                handlers[name] = text
    return handlers


def _rosetta_translated() -> bool:
    if platform.system() != "Darwin":
        return False
    try:
        done = subprocess.run(["sysctl", "-n", "sysctl.proc_translated"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.stdout.strip() == "1"


def running_under_emulation() -> str | None:
    """Why latency measured here would be the emulator's, or None on real hardware.

    The environment variables qemu reads (QEMU_CPU, QEMU_LD_PREFIX) are not a signal:
    a native shell may export them for other programs.
    """
    return emulation_reason(platform.machine(), _read("/proc/cpuinfo"),
                            _read("/proc/self/maps"), _binfmt_handlers(),
                            _rosetta_translated())
