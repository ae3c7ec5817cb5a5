"""The op categories tables group by, and the verdicts the guideline audit gives.

Both are ``str`` enums, so a member compares equal to its value and prints as the bare
value everywhere outputs are written: ``str()``, f-strings, ``json.dumps`` and pandas
(``(str, Enum)`` alone would print ``OpCategory.CONV`` in f-strings on Python 3.11+).
"""

from __future__ import annotations

from enum import Enum


class _StrValue(str, Enum):
    """A str enum that prints as its value (``enum.StrEnum`` needs Python 3.11)."""

    __str__ = str.__str__

    def __format__(self, spec: str) -> str:
        return str.__format__(self.value, spec)


class OpCategory(_StrValue):
    """What an op is, as shown in tables (ShuffleNet V2 Figure 2's breakdown, refined)."""

    CONV = "conv"
    DEPTHWISE = "depthwise conv"
    POINTWISE = "pointwise conv"
    GROUPED = "grouped conv"
    MATMUL = "linear/matmul"
    ATTENTION = "attention"
    NORM = "norm"
    ACTIVATION = "activation"
    ELEMENTWISE = "element-wise"
    POOLING = "pooling"
    DATA_MOVEMENT = "data movement"
    REDUCTION = "reduction"
    EMBEDDING = "embedding"
    OPTIMIZER = "optimizer"
    OTHER = "other"


# in table order
CATEGORIES: tuple[OpCategory, ...] = tuple(OpCategory)


class Phase(_StrValue):
    """Which part of a training step an op belongs to (an inference analysis is all forward).

    The loss is part of the forward: it is the last thing the forward computes."""

    FORWARD = "forward"
    BACKWARD = "backward"
    OPTIMIZER = "optimizer"


PHASES: tuple[Phase, ...] = tuple(Phase)


class Mode(_StrValue):
    """What is analyzed: one inference forward, or one training step."""

    INFERENCE = "inference"
    TRAIN = "train"


class Verdict(_StrValue):
    """A guideline's verdict."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"




# Views, aliases, metadata queries, bare allocations (``empty_like`` writes nothing) and
# checks (``_linalg_check_errors`` reads an info flag torch set): no arithmetic, no data
# traffic.
# The analyzer counts them as known zeros; the profiler leaves their (tiny) time aside.
KNOWN_ZERO_NAMES = (
    "view", "_unsafe_view", "reshape", "_reshape_alias", "view_as", "t", "t_", "transpose",
    "transpose_", "permute", "expand", "expand_as", "slice", "select", "unsqueeze",
    "unsqueeze_", "squeeze", "squeeze_", "alias", "as_strided", "as_strided_", "detach",
    "detach_", "split", "split_with_sizes", "unsafe_split", "unsafe_split_with_sizes",
    "unsafe_chunk", "unbind", "narrow", "diagonal", "unfold", "movedim", "view_as_real",
    "view_as_complex", "_neg_view", "_conj", "conj", "resolve_conj", "resolve_neg",
    "lift_fresh", "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided",
    "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size",
    "_local_scalar_dense", "_assert_tensor_metadata", "_assert_async", "dropout",
    "feature_dropout", "alpha_dropout", "contiguous", "flatten", "unflatten", "_to_dense",
    "set_", "resize_", "_has_compatible_shallow_copy_type", "_nested_tensor_from_mask",
    "item", "size", "stride", "numel", "dim", "_linalg_check_errors",
)


__all__ = ["CATEGORIES", "KNOWN_ZERO_NAMES", "Mode", "OpCategory", "PHASES", "Phase", "Verdict"]
