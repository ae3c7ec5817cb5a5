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
    OTHER = "other"


# in table order
CATEGORIES: tuple[OpCategory, ...] = tuple(OpCategory)


class Verdict(_StrValue):
    """A guideline's verdict."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


__all__ = ["CATEGORIES", "OpCategory", "Verdict"]
