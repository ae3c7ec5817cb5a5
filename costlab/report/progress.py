"""A progress bar for long measurements, drawn on stderr so piped output stays clean."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator, Optional


@contextlib.contextmanager
def progress_bar(label: str, enabled: bool = True) \
        -> Iterator[Optional[Callable[..., None]]]:
    """Yield a callback taking the fraction done (0..1) and optionally a new label, or None
    when there is no terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=1.0)

        def update(fraction: float, now: Optional[str] = None) -> None:
            if now is None:
                progress.update(task, completed=fraction)
            else:
                progress.update(task, completed=fraction, description=f"{label} {now}")

        yield update


@contextlib.contextmanager
def count_bar(label: str, enabled: bool = True) \
        -> Iterator[Optional[Callable[[int, int], Callable[[int], None]]]]:
    """Yield ``start(done, total)``, which draws a bar of ``total`` items with their rate and
    the time left and returns ``advance(n)``; None when there is no terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:,.1f}/s" if task.speed else "-/s")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:

        def start(done: int, total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total, completed=done)
            return lambda n: progress.advance(task, n)

        yield start
