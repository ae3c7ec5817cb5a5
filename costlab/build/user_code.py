"""Running the user's code: its import, its constructor, its forward.

A model file is imported as a module, but it may have been written as a script: it calls
``sys.exit`` or parses ``sys.argv`` at import. ``running_user_code`` makes both a
one-line error (or harmless), and ``attributed_warnings`` re-issues the warnings a forward
raises at the user's line rather than at costlab's or torch's frame that relayed them.
``quiet_loggers`` silences torch's own log while costlab reports the error itself.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from costlab.core.errors import CostlabError


@contextmanager
def running_user_code(origin: str | Path, what: str = "importing") -> Iterator[None]:
    """Run the user's ``origin`` (a file or module) as a module, not a script: ``sys.argv``
    is ``[origin]`` (so an argparse at import sees no costlab flags), restored after, and a
    ``sys.exit`` becomes a CostlabError naming the file and the exit code."""
    saved = sys.argv
    sys.argv = [str(origin)]
    try:
        yield
    except SystemExit as exc:
        code = exc.code if exc.code is not None else 0
        raise CostlabError(
            f"{what} {origin} called sys.exit({code!r}); costlab imports the file as a "
            "module: put its script part under `if __name__ == \"__main__\":`") from None
    finally:
        sys.argv = saved


@contextmanager
def quiet_loggers(*names: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Raise these loggers' levels for the duration (restored after): for torch's log of an
    error costlab reports in one line of its own."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, saved):
            logger.setLevel(old)


@dataclass(frozen=True)
class _Relayed:
    message: Warning | str
    category: type[Warning]
    filename: str
    lineno: int
    module_globals: dict | None


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # costlab/
_ZOO = os.path.join(_PACKAGE, "models")


def _torch_dir() -> str:
    import torch

    return os.path.dirname(os.path.abspath(torch.__file__))


def _is_relay(filename: str, torch_dir: str) -> bool:
    """Frames that pass a warning on rather than cause it: torch, costlab's machinery (its
    zoo models are model code), the warnings and contextlib modules."""
    path = os.path.abspath(filename)
    if path.startswith(torch_dir + os.sep):
        return True
    if path.startswith(_PACKAGE + os.sep) and not path.startswith(_ZOO + os.sep):
        return True
    return os.path.basename(path) in ("warnings.py", "contextlib.py")


@contextmanager
def attributed_warnings() -> Iterator[None]:
    """Collect the warnings raised inside (a forward pass) and, when it ends without an
    error, issue each once at
    the innermost frame of the model's own code (the line that called ``grid_sample``, say),
    not at the frame of the dispatch mode or torch function that relayed it. The user's
    warning filters apply when they are re-issued."""
    torch_dir = _torch_dir()
    relayed: list[_Relayed] = []
    seen: set[tuple] = set()

    def capture(message, category, filename, lineno, file=None, line=None):
        frame = sys._getframe(1)
        while frame is not None and _is_relay(frame.f_code.co_filename, torch_dir):
            frame = frame.f_back
        if frame is not None:
            filename, lineno, module_globals = frame.f_code.co_filename, frame.f_lineno, \
                frame.f_globals
        else:
            module_globals = None
        key = (category, str(message), filename, lineno)
        if key not in seen:
            seen.add(key)
            relayed.append(_Relayed(message, category, filename, lineno, module_globals))

    with warnings.catch_warnings():
        warnings.simplefilter("always")  # every one reaches capture; filtered on re-issue
        warnings.showwarning = capture  # restored by catch_warnings on exit
        yield
    for w in relayed:  # a forward that raised is reported by its error alone
        registry = (w.module_globals.setdefault("__warningregistry__", {})
                    if w.module_globals is not None else None)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                               module=_module_name(w.module_globals, w.filename),
                               registry=registry, module_globals=w.module_globals)


def _module_name(module_globals: dict | None, filename: str) -> str:
    if module_globals and module_globals.get("__name__"):
        return str(module_globals["__name__"])
    return Path(filename).stem
