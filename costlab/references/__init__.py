"""Published numbers from the papers, packaged with costlab (see published.csv's source column)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class PublishedEntry:
    model: str
    variant: str
    resolution: int | None
    macs_millions: float | None
    params_millions: float | None
    top1_percent: float | None
    source: str
    note: str


def _number(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


@lru_cache(maxsize=1)
def published() -> tuple[PublishedEntry, ...]:
    """Every row of the packaged published.csv."""
    text = resources.files(__package__).joinpath("published.csv").read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(text.splitlines()):
        resolution = _number(row["resolution"])
        rows.append(PublishedEntry(
            row["model"], row["variant"], int(resolution) if resolution else None,
            _number(row["macs_millions"]), _number(row["params_millions"]),
            _number(row["top1_percent"]), row["source"], row["note"]))
    return tuple(rows)


def _variant_matches(variant: str, knobs: dict[str, Any]) -> bool:
    """``width=1.0,groups=3`` matches knobs with those values; a bare token such as ``v1``
    matches any knob whose value is that string."""
    for token in filter(None, (t.strip() for t in variant.split(","))):
        if "=" in token:
            name, value = token.split("=", 1)
            if name not in knobs:
                return False
            try:
                if float(knobs[name]) != float(value):
                    return False
            except (TypeError, ValueError):
                if str(knobs[name]) != value:
                    return False
        elif token not in {str(v) for v in knobs.values()}:
            return False
    return True


def lookup(model: str, knobs: dict[str, Any], resolution: int | None) -> PublishedEntry | None:
    """The published row for this model, knob setting and input resolution, if any."""
    for entry in published():
        if entry.model != model:
            continue
        if None not in (entry.resolution, resolution) and entry.resolution != resolution:
            continue
        if _variant_matches(entry.variant, knobs):
            return entry
    return None


def lookup_for_input(model: str, knobs: dict[str, Any],
                     input_shapes: tuple[tuple[int, ...], ...]) -> PublishedEntry | None:
    """The published row for a model run on ``input_shapes`` (a square image's side is the
    resolution; other inputs match rows without a resolution only)."""
    shape = input_shapes[0] if input_shapes else ()
    square = len(shape) >= 3 and shape[-1] == shape[-2]
    if not square:
        return next((e for e in published() if e.model == model and e.resolution is None
                     and _variant_matches(e.variant, knobs)), None)
    return lookup(model, knobs, int(shape[-1]))


# ------------------------------------------- ShuffleNet V2's guideline experiments

@dataclass(frozen=True)
class GuidelineExperiment:
    """One measured setting of Ma et al. 2018 (ShuffleNet V2), Tables 1-4.

    ``channels`` are the widths at this row's ``scale`` (the CSV's ``channels_at_scale_1``
    times its ``scale``): (c1, c2) for G1, one width c for G2-G4. ``scale`` is the width
    step 1, 2 or 4. The CSV lists G3 and G4 at three widths with scale 1 each; their step is
    the width over the table's smallest, so that scale k means the same in all four tables
    (G1-G3: 2x the channels per step, about 4x the FLOPs; G4: its c 32, 64, 128).
    """

    guideline: str  # G1 .. G4
    setting: str  # as the paper names it: "c1:c2=1:2", "g=4", "2-fragment-series", ...
    platform: str  # gpu (GTX 1080Ti, batches/s) | arm (Snapdragon 810, images/s)
    channels: tuple[int, ...]
    scale: int
    speed: float
    unit: str


@lru_cache(maxsize=1)
def guideline_experiments() -> tuple[GuidelineExperiment, ...]:
    """Every row of the packaged shufflenet_v2_experiments.csv."""
    text = resources.files(__package__).joinpath("shufflenet_v2_experiments.csv") \
        .read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    smallest: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["guideline"], row["platform"])
        width = int(row["channels_at_scale_1"].split(",")[0])
        smallest[key] = min(smallest.get(key, width), width)
    experiments = []
    for row in rows:
        at_scale_1 = tuple(int(c) for c in row["channels_at_scale_1"].split(","))
        scale = int(row["scale"])
        if row["guideline"] in ("G3", "G4"):  # one row per width, all at scale 1
            scale = at_scale_1[0] // smallest[(row["guideline"], row["platform"])]
        experiments.append(GuidelineExperiment(
            row["guideline"], row["setting"], row["platform"],
            tuple(c * int(row["scale"]) for c in at_scale_1), scale, float(row["speed"]),
            row["unit"]))
    return tuple(experiments)


def guideline_experiment(guideline: str, setting: str, platform: str,
                         scale: int) -> GuidelineExperiment:
    """The paper's row for this setting, platform and width step (KeyError if none)."""
    for row in guideline_experiments():
        if (row.guideline, row.setting, row.platform, row.scale) == \
                (guideline, setting, platform, scale):
            return row
    raise KeyError(f"no {guideline} row for {setting!r} on {platform} at scale {scale}")
