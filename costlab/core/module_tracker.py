"""Which modules are running right now: a stack of module paths, kept by two hooks.

The tracer attributes each op to the innermost module that ran it; the profiler opens a
``record_function`` scope per module call. Both use :class:`ModuleTracker`, which installs
torch's two process-wide module hooks (forward pre and forward) while its context is open,
rather than two hooks per module: setting up costs the same for a 1,000-layer model as for
a small one, and nothing is left on the user's modules.

Its hooks run once per module call (never per op); they do a dict lookup, a push or a pop
and, when given, one callback.
"""

from __future__ import annotations

from typing import Callable, Mapping

from torch import nn
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)

PathCallback = Callable[[str], None]


class ModuleTracker:
    """A context manager that keeps ``stack``: the paths of the modules being run,
    innermost last.

    ``paths`` maps the modules to track to their paths; any other module's calls are
    ignored. ``on_enter(path)`` runs after a path is pushed, ``on_exit(path)`` after it is
    popped. ``stack`` may be a list the caller already holds (it is used, not copied).

    After a forward that raised, ``stack`` still names the modules it was in (so the
    caller can say where it failed); ``on_exit`` is called for each of them on exit,
    innermost first, so that every ``on_enter`` is matched by one ``on_exit``.
    """

    def __init__(self, paths: Mapping[nn.Module, str], *, on_enter: PathCallback | None = None,
                 on_exit: PathCallback | None = None, stack: list[str] | None = None):
        self.paths = paths
        self.on_enter = on_enter
        self.on_exit = on_exit
        self.stack: list[str] = [] if stack is None else stack
        self._handles: tuple = ()
        self._base = 0  # the stack's depth on entry: only deeper paths are ours to unwind

    def _hooks(self):
        # locals, not attributes: the hooks run on every module call
        paths, stack = self.paths, self.stack
        on_enter, on_exit = self.on_enter, self.on_exit

        def pre(module, args):
            path = paths.get(module)
            if path is not None:
                stack.append(path)
                if on_enter is not None:
                    on_enter(path)

        def post(module, args, output):
            path = paths.get(module)
            # only the innermost path pops: a module outside a pair (its exit skipped by
            # an exception the model caught) does not pop its callers
            if path is not None and stack and stack[-1] == path:
                stack.pop()
                if on_exit is not None:
                    on_exit(path)

        return pre, post

    def __enter__(self) -> "ModuleTracker":
        if self._handles:
            raise RuntimeError("this ModuleTracker is already active")
        pre, post = self._hooks()
        self._base = len(self.stack)
        pre_handle = register_module_forward_pre_hook(pre)
        try:
            post_handle = register_module_forward_hook(post)
        except BaseException:
            pre_handle.remove()
            raise
        self._handles = (pre_handle, post_handle)
        return self

    def __exit__(self, *exc_info) -> None:
        handles, self._handles = self._handles, ()
        for handle in handles:
            handle.remove()
        if self.on_exit is not None:
            for path in reversed(self.stack[self._base:]):
                self.on_exit(path)
