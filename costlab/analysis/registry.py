"""The op cost registry: one formula per aten op packet, and per-analysis overrides.

The contract of a formula, built-in or a user's::

    formula(args: Sequence, kwargs: dict, out) -> OpCost

``args``, ``kwargs`` and ``out`` are the op's positional arguments, keyword arguments and
output(s), as the op received and returned them. A formula reads shapes, dtypes and flags
only, never data. The tracer passes every formula, built-in or a user's, a
``TensorSpec(shape, dtype)`` in place of each tensor (lists and tuples of tensors
included, one level deep as in aten schemas; ``shape`` is a tuple of ints, ``dtype`` a
torch.dtype), so no formula can depend on what a tensor holds. Built-in formulas read only
``.shape`` and ``.dtype``, so tests may call them on real tensors too.

A user formula (``costlab.analyze(model, formulas={torch.ops.mylib.op: formula})``) may
return an ``OpCost``, or a plain int: the op's MACs, counted as ``flops = 2 x MACs`` in
category "other". Keys are op packets (``torch.ops.mylib.op``: every overload) or single
overloads (``torch.ops.aten.add.Tensor``); an overload's key wins over its packet's, and
either over the built-in formula, for that analysis only. The global registry below is
filled once, at import, by the formula modules (formulas.py imports all of them) and is
never changed by an analysis.

Ops neither registered nor in ``KNOWN_ZERO`` are reported as uncounted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from costlab.build.opargs import op_arg
from costlab.core.categories import KNOWN_ZERO_NAMES, OpCategory

aten = torch.ops.aten


class TensorSpec(NamedTuple):
    """A stand-in for a tensor: formulas only look at shape and dtype."""

    shape: tuple[int, ...]
    dtype: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpCost:
    """What a formula says one op call costs."""

    macs: int
    flops: int
    category: OpCategory
    attrs: dict | None = None  # kernel, stride, groups, notes: shown in tables
    # (elements, dtype) pairs actually read; None: every tensor argument, whole
    reads: tuple[tuple[int, Any], ...] | None = None
    # how many leading outputs are really written; None: all of them
    outputs: int | None = None


Formula = Callable[[Sequence[Any], dict, Any], OpCost]


@dataclass(frozen=True, slots=True, kw_only=True)
class FormulaEntry:
    formula: Formula
    doc: str  # what the formula counts, in words, for the README table


class DuplicateFormulaError(ValueError):
    """A second formula for an op that has one: the first would silently be lost."""


_REGISTRY: dict[Any, FormulaEntry] = {}
_DOCS: dict[str, str] = {}  # op name -> doc, for the conventions table, in registration order


def packets(names: Sequence[str]) -> list[Any]:
    """Op packets for names that exist in this torch build (ops come and go)."""
    found = []
    for name in names:
        packet = getattr(aten, name, None) if hasattr(aten, name) else None
        if packet is not None:
            found.append(packet)
    return found


def register(names: Sequence[str] | str, doc: str) -> Callable[[Formula], Formula]:
    """Register ``formula`` for the aten ops ``names`` (one packet covers all overloads).

    Raises ``DuplicateFormulaError`` for an op that has a formula already."""
    if isinstance(names, str):
        names = [names]

    def deco(formula: Formula) -> Formula:
        for name in names:
            for packet in packets([name]):
                if packet in _REGISTRY:
                    raise DuplicateFormulaError(
                        f"aten.{name} has a formula already ({_REGISTRY[packet].doc!r}); "
                        f"register each op once")
                _REGISTRY[packet] = FormulaEntry(formula=formula, doc=doc)
                _DOCS[name] = doc
        return formula

    return deco


def lookup(packet: Any) -> FormulaEntry | None:
    """The built-in formula of an op packet, if any."""
    return _REGISTRY.get(packet)


def registered_docs() -> dict[str, str]:
    """Op name -> what its formula counts, for documentation."""
    return dict(_DOCS)


# their op packets in this torch build (core.categories names them)
KNOWN_ZERO = frozenset(packets(KNOWN_ZERO_NAMES))


# --------------------------------------------------------------------------- helpers

def numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def first(out: Any) -> Any:
    """The primary output of an op (first element of a tuple output)."""
    while isinstance(out, (tuple, list)) and not hasattr(out, "shape"):  # TensorSpec is a tuple
        if not out:
            return None
        out = out[0]
    return out


def out_numel(out: Any) -> int:
    t = first(out)
    return numel(t.shape) if t is not None and hasattr(t, "shape") else 0


# ------------------------------------------------ helpers the formula modules share

def _pointwise(flops_per_element: int, category: str) -> Formula:
    def formula(args, kwargs, out) -> OpCost:
        return OpCost(macs=0, flops=flops_per_element * out_numel(out), category=category)

    return formula


def register_pointwise(names: Sequence[str], flops_per_element: int, category: str,
                       doc: str | None = None) -> None:
    """Ops costing a fixed number of FLOPs per output element (in-place forms too)."""
    with_inplace = [n for name in names for n in (name, name + "_")]
    text = doc or f"{flops_per_element} FLOP(s) per output element"
    register(with_inplace, text)(_pointwise(flops_per_element, category))


def conv_category(input_channels: int, weight_shape: Sequence[int], groups: int) -> str:
    """ShuffleNet V2's kinds: depthwise (g = c_in > 1), grouped (1 < g < c_in), pointwise (1x1)."""
    if groups > 1 and groups == input_channels:
        return OpCategory.DEPTHWISE
    if groups > 1:
        return OpCategory.GROUPED
    if numel(weight_shape[2:]) == 1:  # every kernel dim is 1 (dims are >= 1)
        return OpCategory.POINTWISE
    return OpCategory.CONV


def expand_kernel(kernel, dims: int) -> list[int]:
    """A kernel size as one int per spatial dim (pooling ops take an int or a list)."""
    kernel = [kernel] if isinstance(kernel, int) else list(kernel)
    return kernel * dims if len(kernel) == 1 else kernel



# ----------------------------------------------------------- per-analysis overrides

@dataclass(frozen=True, slots=True)
class _UserFormula:
    """A user's formula, its result made an ``OpCost`` (the tracer passes it specs)."""

    name: str
    formula: Callable[..., Any]

    def __call__(self, args: Sequence[Any], kwargs: dict, out: Any) -> OpCost:
        result = self.formula(args, kwargs, out)
        if isinstance(result, OpCost):
            try:
                category = OpCategory(result.category)
            except ValueError:
                raise ValueError(
                    f"the formula for {self.name} returned category {result.category!r}; "
                    f"use one of {[c.value for c in OpCategory]}") from None
            return result if result.category is category else \
                OpCost(macs=result.macs, flops=result.flops, category=category,
                       attrs=result.attrs, reads=result.reads, outputs=result.outputs)
        if isinstance(result, int) and not isinstance(result, bool):
            return OpCost(macs=result, flops=2 * result, category=OpCategory.OTHER)
        raise TypeError(f"the formula for {self.name} returned {type(result).__name__}; "
                        f"return an OpCost or an int of MACs")


OpKey = Any  # torch._ops.OpOverloadPacket or torch._ops.OpOverload


def override_entries(formulas: Mapping[OpKey, Callable[..., Any]] | None
                     ) -> dict[OpKey, FormulaEntry]:
    """A per-analysis ``{op packet or overload: formula}`` mapping, checked and wrapped."""
    entries: dict[OpKey, FormulaEntry] = {}
    for key, formula in (formulas or {}).items():
        if not isinstance(key, (torch._ops.OpOverloadPacket, torch._ops.OpOverload)):
            raise TypeError(f"formulas keys are ops such as torch.ops.aten.relu, not "
                            f"{type(key).__name__} {key!r}")
        if not callable(formula):
            raise TypeError(f"the formula for {key} is {type(formula).__name__}, not callable")
        entries[key] = FormulaEntry(formula=_UserFormula(str(key), formula),
                                    doc="a formula passed to this analysis")
    return entries


__all__ = [
    "DuplicateFormulaError", "Formula", "FormulaEntry", "KNOWN_ZERO", "KNOWN_ZERO_NAMES",
    "OpCost", "TensorSpec", "conv_category", "expand_kernel", "first", "lookup", "numel",
    "op_arg", "out_numel", "register_pointwise",
    "override_entries", "packets", "register", "registered_docs",
]
