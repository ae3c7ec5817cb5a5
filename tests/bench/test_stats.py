"""Statistics against numpy on fixed arrays."""

import json

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


# --- rounds: the hierarchical bootstrap ------------------------------------------------------

def _rounds(levels_ms, n=40, wiggle_ns=3):
    """One round per level: n samples at that level, a few ns of within-round noise."""
    return [[int(level * 1e6) + wiggle_ns * (i % 5) for i in range(n)] for level in levels_ms]


def test_hierarchical_bootstrap_draws_rounds_then_samples():
    from costlab.bench.stats import hierarchical_bootstrap_medians

    # constant rounds at 1..5: every resample's median is a median of drawn round levels
    rounds = [np.full(4, float(k)) for k in range(1, 6)]
    medians = hierarchical_bootstrap_medians([rounds], resamples=500)
    assert medians.shape == (500, 1)
    assert set(np.unique(medians)) <= {k / 2 for k in range(2, 11)}
    assert len(np.unique(medians)) > 3  # the rounds themselves were resampled
    assert np.array_equal(medians, hierarchical_bootstrap_medians([rounds], resamples=500))
    # a long round is stood for by MAX_DRAWS_PER_ROUND draws; the statistic is the same kind
    long = [np.full(50_000, float(k)) for k in range(1, 6)]
    assert set(np.unique(hierarchical_bootstrap_medians([long], resamples=50))) <= \
        {k / 2 for k in range(2, 11)}
    with pytest.raises(ValueError, match="same rounds"):
        hierarchical_bootstrap_medians([rounds, rounds[:2]])
    with pytest.raises(ValueError, match="at least one sample"):
        hierarchical_bootstrap_medians([[np.array([1.0]), np.array([])]])


def test_t_widening():
    from costlab.bench.stats import t_widening

    assert t_widening(1) == 1.0
    assert t_widening(2) == pytest.approx(2 ** 0.5 * 12.706 / 1.959964)
    assert t_widening(5) == pytest.approx((5 / 4) ** 0.5 * 2.776 / 1.959964)
    assert t_widening(5) == pytest.approx(1.58353, abs=1e-5)
    assert t_widening(100) == pytest.approx(1.0, abs=0.02)


def test_between_round_spread_widens_the_interval():
    from costlab.bench.stats import summarize_rounds

    rounds = _rounds([10.0, 10.5, 11.0, 9.5, 10.2])
    flat = summarize([s for r in rounds for s in r])
    (stats,) = summarize_rounds([rounds]).stats
    assert stats.median_ms == flat.median_ms == pytest.approx(10.2, abs=1e-5)
    flat_width = flat.ci_high_ms - flat.ci_low_ms
    width = stats.ci_high_ms - stats.ci_low_ms
    # the flat bootstrap sees 200 near-identical samples around 10.2; the rounds say more
    assert flat_width < 1e-4 and width > 2.0
    assert (round(flat.ci_low_ms, 6), round(flat.ci_high_ms, 6)) == (10.2, 10.200012)
    assert (round(stats.ci_low_ms, 6), round(stats.ci_high_ms, 6)) == (9.113956, 11.495503)
    summary = summarize_rounds([rounds])
    assert summary.round_medians_ms == [[pytest.approx(v, abs=1e-5)
                                         for v in (10.0, 10.5, 11.0, 9.5, 10.2)]]
    assert summary.round_cvs[0] == pytest.approx(np.std([10, 10.5, 11, 9.5, 10.2], ddof=1)
                                                 / np.mean([10, 10.5, 11, 9.5, 10.2]), rel=1e-5)


def test_paired_rounds_cancel_what_hits_both_models():
    from costlab.bench.stats import summarize_rounds

    # each round shifts both models by the same factor; the ratio is 0.5 in every round
    levels = [10.0, 11.0, 9.0, 10.5, 9.5]
    base = _rounds(levels, wiggle_ns=0)
    other = _rounds([level / 2 for level in levels], wiggle_ns=0)
    summary = summarize_rounds([base, other], drift=0)
    r = summary.ratios[1]
    assert r.ratio == 0.5 and r.round_ratios == (0.5,) * 5 and r.round_cv == 0.0
    assert (r.ci_low, r.ci_high, r.verdict, r.rounds, r.drift) == (0.5, 0.5, "faster", 5, 0)
    # the default drift term is all the width left: 0.5 * exp(+-1.96 * 0.035)
    d = summarize_rounds([base, other]).ratios[1]
    assert (d.rounds_ci_low, d.rounds_ci_high, d.drift) == (0.5, 0.5, 0.035)
    assert (round(d.ci_low, 6), round(d.ci_high, 6)) == (0.466851, 0.535503)
    assert summary.ratios[0].ratio == 1.0 and summary.ratios[0].verdict == "indistinguishable"
    s = summary.stats[1]
    assert s.ci_high_ms - s.ci_low_ms > 0.5  # each model alone moves with the rounds


def test_rounds_that_disagree_make_no_verdict():
    from costlab.bench.stats import compare_samples, summarize_rounds

    # within each round B is clearly faster or slower than A, but the rounds disagree
    base = _rounds([10.0] * 5)
    other = _rounds([9.0, 10.8, 9.4, 10.5, 9.2])
    pooled = compare_samples([s for r in base for s in r], [s for r in other for s in r])
    assert pooled.verdict == "faster"  # one pooled run's interval says faster ...
    r = summarize_rounds([base, other]).ratios[1]
    assert r.verdict == "indistinguishable" and r.ci_low < 1 < r.ci_high  # ... rounds do not
    assert (round(r.ratio, 6), round(r.rounds_ci_low, 6), round(r.rounds_ci_high, 6)) == \
        (0.94, 0.877451, 1.171137)
    # and the between-run drift (3.5%) widens both sides in quadrature
    assert (round(r.ci_low, 6), round(r.ci_high, 6)) == (0.852934, 1.183444)
    assert pooled.ci_high - pooled.ci_low < 2e-6


def test_a_single_round_is_not_widened():
    from costlab.bench.stats import summarize_rounds

    summary = summarize_rounds([[SAMPLES_NS], [[x // 2 for x in SAMPLES_NS]]])
    r = summary.ratios[1]
    assert r.rounds == 1 and r.round_ratios == (pytest.approx(0.5, rel=1e-3),)
    assert r.round_cv == 0.0 and r.verdict == "faster" and r.ci_low < r.ratio < r.ci_high
    assert summary.stats[0].median_ms == summarize(SAMPLES_NS).median_ms


def test_ratio_verdict_and_round_trip():
    from costlab.bench.stats import RatioEstimate, ratio_verdict

    assert ratio_verdict(0.9, 0.85, 0.95) == "faster"
    assert ratio_verdict(1.1, 1.05, 1.15) == "slower"
    assert ratio_verdict(0.9, 0.8, 1.01) == "indistinguishable"  # interval reaches 1
    assert ratio_verdict(0.99, 0.985, 0.995) == "indistinguishable"  # within the margin
    assert ratio_verdict(0.99, 0.985, 0.995, margin=0.005) == "faster"
    r = RatioEstimate(0.5, 0.4, 0.6, "faster", rounds=3, round_ratios=(0.45, 0.5, 0.55),
                      round_cv=0.1)
    data = json.loads(json.dumps(r.to_dict()))
    assert data["round_ratios"] == [0.45, 0.5, 0.55]
    assert RatioEstimate.from_dict(data) == r


def test_drift_adds_in_quadrature_on_the_log_scale():
    import math

    from costlab.bench.stats import with_drift

    # half-widths 0.1 (rounds) and 0.075 (z * drift) make 0.125 on each side
    low, high = with_drift(1.0, math.exp(-0.1), math.exp(0.1), 0.075 / 1.959963984540054)
    assert (round(math.log(low), 12), round(math.log(high), 12)) == (-0.125, 0.125)
    # an interval that touches the estimate on one side gets the drift alone there
    low, high = with_drift(2.0, 2.0, 2.0 * math.exp(0.3), 0.4 / 1.959963984540054)
    assert (round(math.log(low / 2), 12), round(math.log(high / 2), 12)) == (-0.4, 0.5)
    assert with_drift(2.0, 1.5, 2.5, 0.0) == (1.5, 2.5)


@pytest.mark.parametrize("bad", [-0.01, 1.0, float("nan"), float("inf"), True, "0.1"])
def test_drift_must_be_a_relative_standard_deviation(bad):
    from costlab.bench.stats import check_drift
    from costlab.core.errors import UsageError

    with pytest.raises(UsageError, match="drift must be a relative standard deviation"):
        check_drift(bad)


def test_drift_can_turn_a_verdict_into_no_clear_difference():
    from costlab.bench.stats import summarize_rounds

    # B is 6% faster in every round, with a little noise: the rounds alone say faster;
    # a between-run drift of 3.5% (95%: about +-7%) does not let the verdict stand
    base = _rounds([10.0] * 5)
    other = _rounds([9.4, 9.45, 9.35, 9.42, 9.38])
    alone = summarize_rounds([base, other], drift=0).ratios[1]
    assert alone.verdict == "faster" and alone.ci_high < 1
    with_term = summarize_rounds([base, other]).ratios[1]
    assert with_term.verdict == "indistinguishable" and with_term.ci_high > 1
    assert (with_term.rounds_ci_low, with_term.rounds_ci_high) == (alone.ci_low, alone.ci_high)


def test_two_rounds_never_give_a_negative_interval():
    from costlab.bench.stats import summarize_rounds, t_widening, widened

    # t(1) makes the widening 9.2x: on the linear scale 1 - 9.2 * 0.3 is below zero
    assert round(t_widening(2), 4) == 9.168
    low, high = widened(1.0, 0.7, 1.2, t_widening(2))
    assert (round(low, 6), round(high, 6)) == (round(0.7 ** t_widening(2), 6),
                                               round(1.2 ** t_widening(2), 6))
    assert 0 < low < 0.04
    summary = summarize_rounds([_rounds([10.0, 11.0]), _rounds([5.0, 7.0])])
    assert all(s.ci_low_ms > 0 for s in summary.stats)
    assert 0 < summary.ratios[1].ci_low < summary.ratios[1].ratio
