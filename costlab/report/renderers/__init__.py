"""The registry of output formats: one module per format in this package, each registering
its ``render(document) -> str`` with ``@renderer``. A new format is one new module here;
``load`` finds it with pkgutil, so nothing else is edited."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from costlab.core.errors import UsageError

if TYPE_CHECKING:
    from costlab.report.document import Document

Render = Callable[["Document"], str]
DEFAULT_FORMAT = "table"


@dataclass(frozen=True)
class Renderer:
    format: str
    render: Render
    suffixes: tuple[str, ...] = ()
    # prints straight to a terminal (the rich table sizes itself to it); None: write the text
    to_terminal: Optional[Callable[["Document"], None]] = None


_registry: dict[str, Renderer] = {}  # filled once, by the decorators at import


def renderer(fmt: str, *, suffixes: tuple[str, ...] = (),
             to_terminal: Optional[Callable[["Document"], None]] = None
             ) -> Callable[[Render], Render]:
    """Register the decorated ``render(document) -> str`` as format ``fmt``, chosen by name
    (``-f fmt``) or by ``-o``'s suffix."""

    def register(render: Render) -> Render:
        if fmt in _registry:
            raise ValueError(f"format {fmt!r} is registered twice")
        taken = {s for r in _registry.values() for s in r.suffixes}
        if taken & set(suffixes):
            raise ValueError(f"format {fmt!r}: suffixes {sorted(taken & set(suffixes))} are "
                             "taken")
        _registry[fmt] = Renderer(format=fmt, render=render, suffixes=tuple(suffixes),
                                  to_terminal=to_terminal)
        return render

    return register


def load() -> dict[str, Renderer]:
    """Every format, the default first and the rest by name."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")  # registers on first import
    return dict(sorted(_registry.items(), key=lambda item: (item[0] != DEFAULT_FORMAT,
                                                            item[0])))


def formats() -> tuple[str, ...]:
    return tuple(load())


def get(fmt: str) -> Renderer:
    renderers = load()
    if fmt not in renderers:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(renderers)}")
    return renderers[fmt]


def format_for(fmt: str | None, output: str | None) -> str:
    """The format to write: ``fmt`` if given, else the one ``output``'s suffix names, else the
    table. With ``output``, its suffix must agree: ``-o x.csv -f json``, an unknown suffix
    (``-o x.xyz``) and no suffix without ``-f`` are usage errors, so the file's name never
    lies about its content."""
    if output is None:
        return get(DEFAULT_FORMAT if fmt is None else fmt).format
    renderers = load()
    by_suffix = {s: r.format for r in renderers.values() for s in r.suffixes}
    known = ", ".join(by_suffix)
    suffix = Path(output).suffix.lower()
    chosen = get(fmt).format if fmt is not None else None
    if suffix and suffix not in by_suffix:
        raise UsageError(f"cannot tell the format of {output}: {suffix} is not one of "
                         f"{known}")
    if not suffix:
        if chosen is None:
            raise UsageError(f"cannot tell the format of {output}: name it with one of "
                             f"{known}, or give --format")
        return chosen
    if chosen is not None and by_suffix[suffix] != chosen:
        raise UsageError(f"{output} names {by_suffix[suffix]} but --format is {chosen}: "
                         "drop one, or make them agree")
    return by_suffix[suffix]


def render(document: "Document", fmt: str) -> str:
    return get(fmt).render(document)
