"""Statistics of latency samples: pure functions of arrays of nanoseconds.

The median is the headline (latency distributions have long right tails); its 95%
confidence interval comes from a seeded percentile bootstrap so repeated reports of the same
samples agree.

A measurement made in several rounds (each a fresh worker process, README "Latency") gets a
hierarchical bootstrap instead: resample the rounds with replacement, then the samples
within each chosen round, and take the median of what was drawn. The spread between rounds
(process state, frequency, the neighbours' load) then counts, not only the noise within one
run. With few rounds a percentile interval is too narrow (the bootstrap sees R rounds as the
whole population), so it is widened by ``sqrt(R / (R - 1)) * t(R - 1) / z``, the small-sample
correction of Hesterberg's expanded percentile interval.

Rounds a minute apart are not the rounds of one run: the machine's state (its clock, the
host's other tenants) moves on that scale too, and a run of 25 s cannot see it. So a ratio's
interval also carries a between-run drift term, a relative standard deviation combined in
quadrature with the rounds' interval on the log scale (a Type B component in the GUM's
terms). ``DEFAULT_DRIFT`` is what this project measured (README "Latency"); ``drift=0``
gives the rounds' interval alone, which ``RatioEstimate`` keeps beside the combined one.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from costlab.core.errors import UsageError

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
NOISY_IQR_OVER_MEDIAN = 0.10  # above this a run is flagged as noisy
# Differences smaller than this are not called faster/slower even when significant: on a
# shared machine, interleaving order and frequency scaling move medians by about this much.
EQUIVALENCE_MARGIN = 0.02
# The between-run spread of a latency ratio assumed on top of what the rounds show: a
# relative standard deviation (of the log ratio). 0.035 lies between the pooled standard
# deviations of the log ratio between back-to-back runs of `compare mobilenet_v2
# shufflenet_v2 --latency` on this project's 2-core machine: 0.033 over 62 runs in 11
# ordinary series, 0.037 with a series beside a memory-bound neighbour switched on and off
# (70 runs). Those include each run's own noise, so they bound the drift from above there;
# reports/latency_repeatability.md.
DEFAULT_DRIFT = 0.035
# the 97.5% quantile of Student's t by degrees of freedom (numpy has no t distribution)
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
          2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
          2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z_975 = 1.959964
# a round of more samples is stood for by this many draws from it in each resample: its
# median then looks noisier than it is, never steadier, and a 20 us block timed for a
# second (50,000 samples a round) bootstraps in a second instead of a minute
MAX_DRAWS_PER_ROUND = 1000


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


def _describe(ms: np.ndarray, ci_low_ms: float, ci_high_ms: float) -> LatencyStats:
    q1, median, q3, p90, p99 = np.percentile(ms, [25, 50, 75, 90, 99])
    return LatencyStats(
        n=int(ms.size), median_ms=float(median), mean_ms=float(ms.mean()),
        std_ms=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
        min_ms=float(ms.min()), max_ms=float(ms.max()), p90_ms=float(p90), p99_ms=float(p99),
        iqr_ms=float(q3 - q1), iqr_over_median=float((q3 - q1) / median) if median else 0.0,
        ci_low_ms=ci_low_ms, ci_high_ms=ci_high_ms, total_s=float(ms.sum() / 1e3))


def summarize(samples_ns: Sequence[int]) -> LatencyStats:
    """Median, mean, spread, tail percentiles and the bootstrap CI of the median."""
    ms = _as_ms(samples_ns)
    return _describe(ms, *_interval(bootstrap_medians(ms)))


@dataclass(frozen=True)
class RatioEstimate:
    """``other``'s median latency as a multiple of ``base``'s, with a 95% bootstrap CI.

    The verdict is "faster" (or "slower") only when the whole interval lies below (above) 1
    and the ratio itself differs from 1 by more than ``margin``; otherwise the data cannot
    tell the two apart: "indistinguishable" (shown as "no clear difference"). Below 1,
    ``other`` is faster. Measured in rounds, ``round_ratios`` are the ratios of each round's
    medians and ``round_cv`` their coefficient of variation; with one round the interval
    covers the noise within that run only.
    """

    ratio: float
    ci_low: float
    ci_high: float
    verdict: str  # faster | slower | indistinguishable (other relative to base)
    rounds: int = 1
    round_ratios: tuple[float, ...] = ()
    round_cv: float = 0.0
    drift: float = 0.0
    rounds_ci_low: float | None = None  # None: the same as ci_low (no drift term)
    rounds_ci_high: float | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["round_ratios"] = list(self.round_ratios)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "RatioEstimate":
        return cls(**{**data, "round_ratios": tuple(data.get("round_ratios", ()))})


def ratio_verdict(ratio: float, low: float, high: float,
                  margin: float = EQUIVALENCE_MARGIN) -> str:
    """faster / slower when the interval excludes 1 and the ratio is outside the margin."""
    if high < 1 and ratio < 1 - margin:
        return "faster"
    if low > 1 and ratio > 1 + margin:
        return "slower"
    return "indistinguishable"


def compare_samples(base_ns: Sequence[int], other_ns: Sequence[int],
                    margin: float = EQUIVALENCE_MARGIN) -> RatioEstimate:
    """Ratio of medians other/base; the two sample sets are resampled independently."""
    base, other = _as_ms(base_ns), _as_ms(other_ns)
    ratio = float(np.median(other) / np.median(base))
    ratios = bootstrap_medians(other, seed=BOOTSTRAP_SEED + 1) / bootstrap_medians(base)
    low, high = _interval(ratios)
    return RatioEstimate(ratio, low, high, ratio_verdict(ratio, low, high, margin))


# ------------------------------------------------------------------ rounds

def t_widening(rounds: int) -> float:
    """The factor a 95% percentile interval over ``rounds`` rounds is widened by:
    ``sqrt(R / (R - 1)) * t_0.975(R - 1) / z_0.975``; 1 for a single round, which has no
    between-round spread to correct."""
    if rounds < 2:
        return 1.0
    df = rounds - 1
    t = _T_975[df - 1] if df <= len(_T_975) else _Z_975 + (_Z_975 ** 3 + _Z_975) / (4 * df)
    return math.sqrt(rounds / df) * t / _Z_975


def check_drift(drift: float) -> float:
    """``drift`` if it is a usable relative standard deviation: finite, 0 <= drift < 1."""
    if isinstance(drift, bool) or not isinstance(drift, (int, float)) or not (
            math.isfinite(drift) and 0 <= drift < 1):
        raise UsageError(f"drift must be a relative standard deviation >= 0 and < 1 (0.035 "
                         f"is 3.5%), got {drift!r}")
    return float(drift)


def with_drift(estimate: float, low: float, high: float, drift: float,
               confidence: float = CONFIDENCE) -> tuple[float, float]:
    """``[low, high]`` around a ratio ``estimate`` with a between-run drift of relative
    standard deviation ``drift`` added in quadrature on the log scale: each side's
    half-width h becomes sqrt(h^2 + (z * drift)^2)."""
    if drift == 0 or estimate <= 0 or low <= 0:
        return low, high
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    term = (z * drift) ** 2
    down = math.sqrt(math.log(estimate / low) ** 2 + term) if low < estimate else math.sqrt(term)
    up = math.sqrt(math.log(high / estimate) ** 2 + term) if high > estimate else math.sqrt(term)
    return estimate * math.exp(-down), estimate * math.exp(up)


def widened(estimate: float, low: float, high: float, factor: float) -> tuple[float, float]:
    """``[low, high]`` stretched away from ``estimate`` by ``factor`` on each side, on the
    log scale: latencies and their ratios are positive, and a stretch on the linear scale
    (a factor of 9.2 for 2 rounds) could take the low end below zero."""
    if estimate <= 0 or low <= 0:
        return (estimate - factor * max(estimate - low, 0.0),
                estimate + factor * max(high - estimate, 0.0))
    return (estimate * (min(low, estimate) / estimate) ** factor,
            estimate * (max(high, estimate) / estimate) ** factor)


def hierarchical_bootstrap_medians(rounds: Sequence[Sequence[np.ndarray]],
                                   resamples: int = BOOTSTRAP_RESAMPLES,
                                   seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Pooled medians of hierarchical resamples, shape (resamples, models).

    ``rounds[m][r]`` holds model m's samples of round r; every model has the same rounds.
    Each resample draws R round indices with replacement, the same ones for every model
    (they were timed interleaved in the same worker, so a round's conditions hit them
    alike), then within each drawn round that round's samples with replacement (as many
    as it has, at most ``MAX_DRAWS_PER_ROUND``), for each model on its own; the statistic
    is the median of everything drawn.
    """
    if not rounds or not rounds[0]:
        raise ValueError("need at least one model with at least one round")
    count = len(rounds[0])
    if any(len(model) != count for model in rounds):
        raise ValueError("every model needs the same rounds")
    rng = np.random.default_rng(seed)
    flat = [np.concatenate([np.asarray(r, dtype=np.float64) for r in model]) for model in rounds]
    sizes = [np.array([len(r) for r in model]) for model in rounds]
    if any((s == 0).any() for s in sizes):
        raise ValueError("every round needs at least one sample")
    starts = [np.concatenate(([0], np.cumsum(s)[:-1])) for s in sizes]
    out = np.empty((resamples, len(rounds)))
    for b in range(resamples):
        chosen = rng.integers(0, count, count)
        for m in range(len(rounds)):
            n = sizes[m][chosen]
            draws = np.minimum(n, MAX_DRAWS_PER_ROUND)
            # draws from each chosen round, uniform over that round's samples
            offsets = np.repeat(starts[m][chosen], draws)
            widths = np.repeat(n, draws)
            idx = offsets + (rng.random(int(draws.sum())) * widths).astype(np.int64)
            out[b, m] = np.median(flat[m][idx])
    return out


def round_medians(rounds_ns: Sequence[Sequence[int]]) -> list[float]:
    """Each round's median, in ms."""
    return [float(np.median(_as_ms(r))) for r in rounds_ns]


def coefficient_of_variation(values: Sequence[float]) -> float:
    """std (ddof 1) / mean; 0 for fewer than two values."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2 or not v.mean():
        return 0.0
    return float(v.std(ddof=1) / v.mean())


@dataclass(frozen=True)
class RoundsSummary:
    """Models measured together in rounds: each one's stats (CI from the hierarchical
    bootstrap) and median ratio to the first (paired rounds)."""

    stats: list[LatencyStats]
    ratios: list[RatioEstimate]
    round_medians_ms: list[list[float]] = field(default_factory=list)  # [model][round]
    round_cvs: list[float] = field(default_factory=list)  # per model


def summarize_rounds(rounds_ns: Sequence[Sequence[Sequence[int]]],
                     margin: float = EQUIVALENCE_MARGIN,
                     drift: float = DEFAULT_DRIFT) -> RoundsSummary:
    """Stats and ratios of models timed interleaved in the same rounds.

    ``rounds_ns[m][r]`` are model m's samples (ns) of round r. Each model's median and
    spread are of its pooled samples; the CIs of the medians and of the ratios of medians
    (other / first) come from one hierarchical bootstrap with paired rounds, widened for
    the number of rounds (``t_widening``). A ratio's interval then takes in the
    between-run ``drift`` (``with_drift``; not the first model's, 1 by definition), and so
    does its verdict; the medians' intervals are the rounds' alone.
    """
    drift = check_drift(drift)
    ms = [[_as_ms(r) for r in model] for model in rounds_ns]
    count = len(ms[0]) if ms else 0
    boot = hierarchical_bootstrap_medians(ms)
    factor = t_widening(count)
    medians = [round_medians(model) for model in rounds_ns]
    stats, ratios = [], []
    for m, model in enumerate(ms):
        pooled = np.concatenate(model)
        median = float(np.median(pooled))
        stats.append(_describe(pooled, *widened(median, *_interval(boot[:, m]), factor)))
        ratio = median / stats[0].median_ms
        rounds_low, rounds_high = widened(ratio, *_interval(boot[:, m] / boot[:, 0]), factor)
        used = drift if m else 0.0
        low, high = with_drift(ratio, rounds_low, rounds_high, used)
        per_round = tuple(float(a / b) for a, b in zip(medians[m], medians[0]))
        ratios.append(RatioEstimate(ratio, low, high, ratio_verdict(ratio, low, high, margin),
                                    rounds=count, round_ratios=per_round,
                                    round_cv=coefficient_of_variation(per_round), drift=used,
                                    rounds_ci_low=rounds_low, rounds_ci_high=rounds_high))
    return RoundsSummary(stats=stats, ratios=ratios, round_medians_ms=medians,
                         round_cvs=[coefficient_of_variation(m) for m in medians])


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (ties share their mean rank)."""
    import pandas as pd

    if len(x) != len(y) or len(x) < 2:
        raise ValueError("need two sequences of the same length, at least 2")
    return float(pd.Series(list(x)).rank().corr(pd.Series(list(y)).rank()))
