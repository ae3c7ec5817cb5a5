"""Tables printed in the papers, packaged for the reports (``costlab report``).

Each CSV holds one table as the paper prints it, with the model and knob setting of
costlab's zoo it corresponds to. Nothing here is computed.

- ``shufflenet_v2_table8.csv``: Ma et al. 2018 (ShuffleNet V2), Table 8, the rows whose
  network is in costlab's zoo (MFLOPs = multiply-adds; top-1 error in %; GPU speed in
  batches/s on a GTX 1080Ti; ARM speed in images/s on a Snapdragon 810).
- ``mobilenet_v1_tables6_7.csv``: Howard et al. 2017 (MobileNets), Tables 6 (width
  multiplier) and 7 (resolution).
- ``mobilenet_v2_table3.csv``: Sandler et al. 2018 (MobileNetV2), Table 3, the max number of
  channels and memory (in Kb, 16-bit activations) materialized at each spatial resolution.
- ``inception_v3_factorizations.csv``: the savings Szegedy et al. claim for each
  factorization, beside the registered blocks that build it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


def _rows(filename: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _number(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def knobs_of(variant: str) -> dict[str, str]:
    """``"groups=3,scale=0.5"`` -> {"groups": "3", "scale": "0.5"}."""
    pairs = (t.split("=", 1) for t in variant.split(",") if "=" in t)
    return {name.strip(): value.strip() for name, value in pairs}


@dataclass(frozen=True)
class Table8Row:
    """One row of ShuffleNet V2's Table 8."""

    budget_mflops: int
    label: str  # as the paper names the network
    model: str  # costlab's registered name
    variant: str  # its knobs, "width=0.5"
    mflops: float
    top1_error: float
    gpu_batches_per_s: float | None
    arm_images_per_s: float | None
    note: str


@lru_cache(maxsize=1)
def shufflenet_v2_table8() -> tuple[Table8Row, ...]:
    return tuple(Table8Row(int(r["budget_mflops"]), r["label"], r["model"], r["variant"],
                           float(r["mflops"]), float(r["top1_error"]),
                           _number(r["gpu_batches_per_s"]), _number(r["arm_images_per_s"]),
                           r["note"])
                 for r in _rows("shufflenet_v2_table8.csv"))


@dataclass(frozen=True)
class MobileNetGridRow:
    """One row of MobileNet V1's Table 6 or 7."""

    table: int
    width: float
    resolution: int
    top1_percent: float
    macs_millions: float
    params_millions: float


@lru_cache(maxsize=1)
def mobilenet_v1_tables6_7() -> tuple[MobileNetGridRow, ...]:
    return tuple(MobileNetGridRow(int(r["table"]), float(r["width"]), int(r["resolution"]),
                                  float(r["top1_percent"]), float(r["macs_millions"]),
                                  float(r["params_millions"]))
                 for r in _rows("mobilenet_v1_tables6_7.csv"))


@dataclass(frozen=True)
class MemoryTableCell:
    """One cell of MobileNetV2's Table 3: a network at one resolution (or its "max" row)."""

    network: str  # mobilenet_v1, mobilenet_v2 or shufflenet (the paper's 2x, g=3)
    resolution: str  # "112", ..., "1", or "max"
    channels: int | None
    memory_kb: float


@lru_cache(maxsize=1)
def mobilenet_v2_table3() -> tuple[MemoryTableCell, ...]:
    cells = []
    for r in _rows("mobilenet_v2_table3.csv"):
        for network in ("mobilenet_v1", "mobilenet_v2", "shufflenet"):
            channels = _number(r[f"{network}_channels"])
            cells.append(MemoryTableCell(network, r["resolution"],
                                         int(channels) if channels is not None else None,
                                         float(r[f"{network}_kb"])))
    return tuple(cells)


@dataclass(frozen=True)
class FactorizationClaim:
    """A factorization's registered blocks and the saving its paper claims."""

    baseline: str
    factorized: str
    claimed_saving_pct: float | None  # None: the paper prints no figure
    claim: str
    source: str


@lru_cache(maxsize=1)
def inception_factorizations() -> tuple[FactorizationClaim, ...]:
    return tuple(FactorizationClaim(r["baseline"], r["factorized"],
                                    _number(r["claimed_saving_pct"]), r["claim"], r["source"])
                 for r in _rows("inception_v3_factorizations.csv"))
