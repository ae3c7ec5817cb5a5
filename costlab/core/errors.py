"""Errors a user can cause. The CLI prints their message as one line and exits non-zero."""

from __future__ import annotations


class CostlabError(Exception):
    """A problem with what the user asked for, reported without a traceback."""

    exit_code = 1


class UsageError(CostlabError):
    """Malformed or unknown input: a name, a shape, a knob value, a path."""

    exit_code = 2


class UnknownModelError(UsageError):
    def __init__(self, name: str, suggestions: list[str]):
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model '{name}'{hint} (`costlab list` shows them all)")
        self.name = name
        self.suggestions = suggestions


class ForwardError(CostlabError):
    """The model's forward pass raised."""
