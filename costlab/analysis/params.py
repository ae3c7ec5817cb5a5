"""Parameter and buffer counts: unique tensors (by identity), frozen ones included."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def _ancestors(path: str) -> list[str]:
    """``a.b.c`` -> ["", "a", "a.b", "a.b.c"]: the module and every module above it."""
    if not path:
        return [""]
    above = [""]
    end = path.find(".")
    while end != -1:
        above.append(path[:end])
        end = path.find(".", end + 1)
    above.append(path)
    return above


@dataclass
class ModuleIndex:
    """One walk over a model: each module's path, and its unique parameters and buffers.

    Counting each module's parameters with ``module.parameters()`` walks every subtree
    again (modules x depth); here each parameter is visited once and credited to the
    modules above each place it is registered, so shared weights count once per module.
    """

    paths: dict[nn.Module, str]  # each module's first path, in named_modules order
    params: list[torch.Tensor]  # unique, in definition order
    buffers: list[torch.Tensor]
    _owners: dict[int, tuple[torch.Tensor, list[str]]]  # id -> (param, registering paths)

    def owners(self) -> list[tuple[torch.Tensor, list[str]]]:
        """(parameter, the paths of the modules registering it), each parameter once."""
        return list(self._owners.values())

    def tied(self) -> list[tuple[list[str], int]]:
        """Parameters registered in more than one module (tied weights): for each, the paths
        of the modules holding it and its elements. A module shared under
        two paths is one module (the tree counts it at its first path) and is not listed."""
        modules = set(self.paths.values())
        found = []
        for param, owners in self._owners.values():
            held = list(dict.fromkeys(path for path in owners if path in modules))
            if len(held) > 1:
                found.append((held, param.numel()))
        return found

    def tree(self) -> dict[str, tuple[str, int]]:
        """path -> (module type, unique parameter elements in it and its children)."""
        counts = dict.fromkeys(self.paths.values(), 0)
        for param, owners in self._owners.values():
            n = param.numel()
            above = _ancestors(owners[0]) if len(owners) == 1 else \
                {path for owner in owners for path in _ancestors(owner)}
            for path in above:
                if path in counts:
                    counts[path] += n
        return {path: (type(module).__name__, counts[path])
                for module, path in self.paths.items()}


def index_modules(model: nn.Module) -> ModuleIndex:
    paths: dict[nn.Module, str] = {}
    owners: dict[int, tuple[torch.Tensor, list[str]]] = {}
    buffers: dict[int, torch.Tensor] = {}
    # every path, shared modules included, so a shared weight is credited under each
    for path, module in model.named_modules(remove_duplicate=False):
        paths.setdefault(module, path)
        for p in module.parameters(recurse=False):
            entry = owners.get(id(p))
            if entry is None:
                owners[id(p)] = (p, [path])
            else:
                entry[1].append(path)
        for b in module.buffers(recurse=False):
            buffers.setdefault(id(b), b)
    params = [p for p, _ in owners.values()]
    return ModuleIndex(paths, params, list(buffers.values()), owners)


__all__ = ["ModuleIndex", "index_modules"]
