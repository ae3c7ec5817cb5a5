"""Statistics of latency samples: pure functions of arrays of nanoseconds.

The median is the headline (latency distributions have long right tails); its 95%
confidence interval comes from a seeded percentile bootstrap so repeated reports of the same
samples agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
NOISY_IQR_OVER_MEDIAN = 0.10  # above this a run is flagged as noisy
# Differences smaller than this are not called faster/slower even when significant: on a
# shared machine, interleaving order and frequency scaling move medians by about this much.
EQUIVALENCE_MARGIN = 0.02


@dataclass(frozen=True)
class LatencyStats:
    """A summary of one model's latency samples, in milliseconds."""

    n: int
    median_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p90_ms: float
    p99_ms: float
    iqr_ms: float
    iqr_over_median: float
    ci_low_ms: float  # 95% bootstrap confidence interval of the median
    ci_high_ms: float
    total_s: float  # measured time: the sum of the samples

    @property
    def noisy(self) -> bool:
        return self.iqr_over_median > NOISY_IQR_OVER_MEDIAN

    def to_dict(self) -> dict:
        return asdict(self)


def _as_ms(samples_ns: Sequence[int]) -> np.ndarray:
    values = np.asarray(samples_ns, dtype=np.float64) / 1e6
    if values.ndim != 1 or values.size == 0:
        raise ValueError("need a non-empty 1-d sequence of samples")
    return values


def bootstrap_medians(values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """The medians of ``resamples`` resamples (with replacement) of ``values``."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(resamples, values.size))
    return np.median(values[idx], axis=1)


def _interval(estimates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def summarize(samples_ns: Sequence[int]) -> LatencyStats:
    """Median, mean, spread, tail percentiles and the bootstrap CI of the median."""
    ms = _as_ms(samples_ns)
    q1, median, q3, p90, p99 = np.percentile(ms, [25, 50, 75, 90, 99])
    low, high = _interval(bootstrap_medians(ms))
    return LatencyStats(
        n=int(ms.size), median_ms=float(median), mean_ms=float(ms.mean()),
        std_ms=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
        min_ms=float(ms.min()), max_ms=float(ms.max()), p90_ms=float(p90), p99_ms=float(p99),
        iqr_ms=float(q3 - q1), iqr_over_median=float((q3 - q1) / median) if median else 0.0,
        ci_low_ms=low, ci_high_ms=high, total_s=float(ms.sum() / 1e3))


@dataclass(frozen=True)
class RatioEstimate:
    """``other``'s median latency as a multiple of ``base``'s, with a 95% bootstrap CI.

    The verdict is "faster" (or "slower") only when the whole interval lies below (above) 1
    and the ratio itself differs from 1 by more than ``margin``; otherwise the data cannot
    tell the two apart: "indistinguishable". Below 1, ``other`` is faster.
    """

    ratio: float
    ci_low: float
    ci_high: float
    verdict: str  # faster | slower | indistinguishable (other relative to base)

    def to_dict(self) -> dict:
        return asdict(self)


def compare_samples(base_ns: Sequence[int], other_ns: Sequence[int],
                    margin: float = EQUIVALENCE_MARGIN) -> RatioEstimate:
    """Ratio of medians other/base; the two sample sets are resampled independently."""
    base, other = _as_ms(base_ns), _as_ms(other_ns)
    ratio = float(np.median(other) / np.median(base))
    ratios = bootstrap_medians(other, seed=BOOTSTRAP_SEED + 1) / bootstrap_medians(base)
    low, high = _interval(ratios)
    if high < 1 and ratio < 1 - margin:
        verdict = "faster"
    elif low > 1 and ratio > 1 + margin:
        verdict = "slower"
    else:
        verdict = "indistinguishable"
    return RatioEstimate(ratio, low, high, verdict)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (ties share their mean rank)."""
    import pandas as pd

    if len(x) != len(y) or len(x) < 2:
        raise ValueError("need two sequences of the same length, at least 2")
    return float(pd.Series(list(x)).rank().corr(pd.Series(list(y)).rank()))
