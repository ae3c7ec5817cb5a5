"""Statistics against numpy on fixed arrays."""

import numpy as np
import pytest

from costlab.bench.stats import compare_samples, summarize

SAMPLES_NS = [1_000_000 + 10_000 * ((i * 37) % 101) for i in range(200)]  # 1.0-2.0 ms


def test_summary_matches_numpy():
    ms = np.array(SAMPLES_NS) / 1e6
    s = summarize(SAMPLES_NS)
    assert s.n == 200
    assert s.median_ms == pytest.approx(np.median(ms))
    assert s.mean_ms == pytest.approx(ms.mean())
    assert s.std_ms == pytest.approx(ms.std(ddof=1))
    assert s.min_ms == 1.0 and s.max_ms == 2.0
    assert s.p90_ms == pytest.approx(np.percentile(ms, 90))
    assert s.p99_ms == pytest.approx(np.percentile(ms, 99))
    q1, q3 = np.percentile(ms, [25, 75])
    assert s.iqr_ms == pytest.approx(q3 - q1)
    assert s.iqr_over_median == pytest.approx((q3 - q1) / np.median(ms))
    assert s.total_s == pytest.approx(ms.sum() / 1e3)
    assert s.ci_low_ms <= s.median_ms <= s.ci_high_ms
    assert s.noisy  # uniform over 1-2 ms: IQR/median is about 0.33


def test_bootstrap_is_seeded_and_narrows_with_samples():
    assert summarize(SAMPLES_NS) == summarize(SAMPLES_NS)
    wide = summarize(SAMPLES_NS[:20])
    narrow = summarize(SAMPLES_NS * 10)
    assert narrow.ci_high_ms - narrow.ci_low_ms < wide.ci_high_ms - wide.ci_low_ms


def test_constant_samples():
    s = summarize([5_000_000] * 10)
    assert (s.median_ms, s.std_ms, s.iqr_ms, s.ci_low_ms, s.ci_high_ms) == (5, 0, 0, 5, 5)
    assert not s.noisy


def test_single_sample_and_empty():
    assert summarize([3_000_000]).std_ms == 0.0
    with pytest.raises(ValueError):
        summarize([])


def test_compare_verdicts():
    fast = [x // 2 for x in SAMPLES_NS]
    assert compare_samples(SAMPLES_NS, fast).verdict == "faster"
    r = compare_samples(fast, SAMPLES_NS)
    assert r.verdict == "slower" and r.ratio == pytest.approx(2.0, rel=0.05)
    assert r.ci_low < r.ratio < r.ci_high
    same = compare_samples(SAMPLES_NS, SAMPLES_NS[::-1])
    assert same.verdict == "indistinguishable" and same.ratio == 1.0


def test_small_significant_difference_is_within_margin():
    # 1% slower, measured very precisely: significant, but under the 2% margin
    base = [1_000_000 + (i % 3) for i in range(500)]
    other = [1_010_000 + (i % 3) for i in range(500)]
    r = compare_samples(base, other)
    assert r.ci_low > 1 and r.verdict == "indistinguishable"
    assert compare_samples(base, other, margin=0.005).verdict == "slower"


def test_rank_correlation():
    from costlab.bench.stats import rank_correlation

    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1, 2, 3, 4) against (1, 3, 2, 4): 1 - 6 * 2 / (4 * 15) = 0.8
    assert rank_correlation([1, 2, 3, 4], [5, 9, 7, 11]) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        rank_correlation([1, 2], [1])
