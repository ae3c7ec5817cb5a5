"""Where results are written: paths checked before any work, files replaced atomically.

A path given with ``-o`` (or ``--plot``, ``--out-dir``) is checked up front: not empty, its
directory there and writable (proved by creating and removing a file in it, since
``os.access`` says yes on a read-only mount and for root), and the name, if it exists, a
regular file. A symlink is followed: the file it names is replaced, next to itself, and the
link stays a link. Devices, FIFOs, sockets and directories are refused, so ``-o /dev/full``
never swaps a device node for a text file. The write goes to a temporary file in the target's
directory and is renamed over the target only once it is complete, so a failure never leaves a
half-written or clobbered file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from costlab.core.errors import UsageError

_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    return next((words for test, words in _NOT_REGULAR if test(mode)), None)


def resolve_output(output: str, *, what: str = "write") -> Path:
    """The regular file that writing ``output`` will replace (a symlink's final target), after
    checking it can be written there. Raises UsageError ``cannot write OUTPUT: why``."""
    if not output or not output.strip():
        raise UsageError(f"cannot {what} an empty path: give a file name")
    if "\0" in output:
        raise UsageError(f"cannot {what} {output!r}: the name contains a NUL byte")
    given = Path(output)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    if given.is_symlink() and not target.parent.is_dir():
        raise UsageError(f"cannot {what} {output}: it is a symlink into {target.parent}, "
                         "which does not exist")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"cannot {what} {output}: {exc.strerror or exc}") from None
    if mode is not None and _kind(mode):
        raise UsageError(f"cannot {what} {output}: it is {_kind(mode)}, not a file")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot {what} {output}: directory {parent} does not exist")
    if mode is not None and not os.access(target, os.W_OK):
        raise UsageError(f"cannot {what} {output}: permission denied")
    probe_directory(parent, output, what=what)
    return target


def probe_directory(directory: Path, output: str, *, what: str = "write") -> None:
    """Create and remove a file in ``directory``: the one sure test that a write will work."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".costlab-probe-", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot {what} {output}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def same_file(a: str, b: str) -> bool:
    """Whether two output paths name the same file (through links and ``..``)."""
    return os.path.realpath(a) == os.path.realpath(b)


@contextlib.contextmanager
def atomic_path(output: str) -> Iterator[str]:
    """A temporary path beside the file ``output`` names (through a symlink) to write to;
    renamed over that file when the block succeeds, removed when it fails. A replaced file
    keeps its permissions; a new one gets 0666 less the umask (not mkstemp's 0600)."""
    target = resolve_output(output)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp",
                                   dir=target.parent if str(target.parent) else ".")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(output: str, text: str) -> None:
    """Write ``text`` to ``output`` atomically (see ``atomic_path``)."""
    with atomic_path(output) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def check_directory(directory: str, *, what: str = "write into") -> Path:
    """An output directory: created if missing (with its parents), else checked to be a
    writable directory."""
    if not directory or not directory.strip():
        raise UsageError("cannot write into an empty directory name")
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise UsageError(f"cannot {what} {directory}: it is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot {what} {directory}: {exc.strerror or exc}") from None
    probe_directory(path, directory, what=what)
    return path
