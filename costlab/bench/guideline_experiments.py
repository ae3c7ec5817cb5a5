"""ShuffleNet V2's four micro-benchmarks, timed here: do G1-G4 hold on this hardware?

For each guideline the paper (Ma et al. 2018, Tables 1-4) times a few variants of one
stacked unit at (nearly) equal FLOPs and finds one fastest: c1:c2 = 1:1 (G1), g = 1 (G2),
1 fragment (G3), no ReLU and no shortcut (G4). Here each variant
(``costlab.models.guideline_units``) is counted by costlab's analyzer, timed round-robin
with the others (``costlab.bench.timing.time_interleaved``), and compared with that
fastest one by the ratio of median latencies and its bootstrap CI
(``costlab.bench.stats.compare_samples``), at equal work: the paper's integer channel counts
leave some variants up to 5.5% lighter than their baseline (G1's 1:2 on ARM), so each
variant's latencies are scaled by baseline MACs / its MACs before the comparison (the raw
ratio is reported too). A variant confirms the paper when it is slower than the baseline
("holds"), contradicts it when faster ("reversed"), and is "inconclusive" when the ratio's
CI includes 1 or the difference is under the equivalence margin (stats.EQUIVALENCE_MARGIN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from costlab.bench.stats import LatencyStats, RatioEstimate
from costlab.bench.timing import TimingPolicy
from costlab.core.errors import UsageError
from costlab.core.records import shape_text
from costlab.references import guideline_experiment

if TYPE_CHECKING:
    import pandas as pd

HOLDS, REVERSED, INCONCLUSIVE = "holds", "reversed", "inconclusive"
VERDICTS = (HOLDS, REVERSED, INCONCLUSIVE)
SCALES = (1, 2, 4)
# Whose channel counts a device runs by default: the paper's ARM column on a CPU (its ARM
# runs were single-threaded, images/s), its GPU column on a GPU (batches/s).
DEFAULT_PLATFORM = {"cpu": "arm", "cuda": "gpu"}
UNITS = {"arm": "images/s", "gpu": "batches/s"}

Progress = Callable[[float, str], None]  # (fraction of the whole run done, what runs now)


@dataclass(frozen=True)
class Variant:
    """One setting of a guideline's table: the paper's name and costlab's model and knobs."""

    setting: str
    model: str
    knobs: dict[str, Any]


@dataclass(frozen=True)
class GuidelineBenchmark:
    """A guideline's micro-benchmark: its variants, the first being the paper's fastest."""

    guideline: str
    title: str
    claim: str  # the paper's direction, in words
    variants: tuple[Variant, ...]
    flops_matched: bool  # whether the paper holds FLOPs equal across the variants

    @property
    def baseline(self) -> Variant:
        return self.variants[0]


def _family(guideline: str, title: str, claim: str, model: str, knob: str,
            settings: dict[Any, str], flops_matched: bool = True) -> GuidelineBenchmark:
    return GuidelineBenchmark(guideline, title, claim, tuple(
        Variant(setting, model, {knob: value}) for value, setting in settings.items()),
        flops_matched)


BENCHMARKS: tuple[GuidelineBenchmark, ...] = (
    _family("G1", "equal channel width minimizes memory access cost",
            "c1:c2 = 1:1 is faster than 1:2, 1:6 and 1:12", "g1_channel_ratio", "ratio",
            {1: "c1:c2=1:1", 2: "c1:c2=1:2", 6: "c1:c2=1:6", 12: "c1:c2=1:12"}),
    _family("G2", "excessive group convolution increases memory access cost",
            "g = 1 is faster than g = 2, 4 and 8", "g2_group_conv", "groups",
            {1: "g=1", 2: "g=2", 4: "g=4", 8: "g=8"}),
    _family("G3", "network fragmentation reduces the degree of parallelism",
            "1 fragment is faster than 2 or 4 in series or in parallel", "g3_fragments",
            "fragments", {"1": "1-fragment", "2-series": "2-fragment-series",
                          "4-series": "4-fragment-series", "2-parallel": "2-fragment-parallel",
                          "4-parallel": "4-fragment-parallel"}),
    GuidelineBenchmark(
        "G4", "element-wise operations are non-negligible",
        "without ReLU and shortcut is faster than with either or both",
        tuple(Variant(f"relu={'yes' if r else 'no'} shortcut={'yes' if s else 'no'}",
                      "g4_elementwise", {"relu": r, "shortcut": s})
              for r, s in ((False, False), (True, False), (False, True), (True, True))),
        flops_matched=False),  # equal MACs; the FLOPs differ by the removed element-wise ops
)


def benchmark(guideline: str) -> GuidelineBenchmark:
    for bench in BENCHMARKS:
        if bench.guideline == guideline:
            return bench
    raise UsageError(f"unknown guideline {guideline!r}; choose from "
                     f"{', '.join(b.guideline for b in BENCHMARKS)}")


# ----------------------------------------------------------------------- verdicts

def comparison_verdict(estimate: RatioEstimate) -> str:
    """A variant against the baseline: slower confirms the paper, faster contradicts it."""
    return {"slower": HOLDS, "faster": REVERSED}.get(estimate.verdict, INCONCLUSIVE)


def guideline_verdict(verdicts: Sequence[str]) -> str:
    """Holds when some variant confirms the paper and none contradicts it; reversed when
    some contradicts it and none confirms it; otherwise (none either way, or both)
    inconclusive."""
    held, reversed_ = HOLDS in verdicts, REVERSED in verdicts
    if held and not reversed_:
        return HOLDS
    if reversed_ and not held:
        return REVERSED
    return INCONCLUSIVE


# ------------------------------------------------------------------------- counts

@dataclass(frozen=True)
class VariantCount:
    """costlab's count of one variant (traced on meta)."""

    guideline: str
    setting: str
    model: str
    platform: str
    scale: int
    input_shape: tuple[int, ...]
    macs: int
    flops: int
    memory_access_bytes: int
    macs_vs_baseline_pct: float


@dataclass(frozen=True)
class VariantResult:
    """One variant measured: its count, its latency, its speed and the paper's."""

    count: VariantCount
    latency: LatencyStats
    first_call_ms: float
    speed: float  # in the run's unit (images/s or batches/s), from the median latency
    speed_ci_low: float
    speed_ci_high: float
    paper_gpu_speed: float | None  # batches/s, at the paper's GPU channels for this scale
    paper_arm_speed: float | None  # images/s, at its ARM channels
    versus_baseline: RatioEstimate | None  # latency / the baseline's; None for the baseline
    # the same at equal work (latency scaled by baseline MACs / these MACs): the verdict's
    equal_work: RatioEstimate | None
    verdict: str | None  # holds | reversed | inconclusive; None for the baseline

    @property
    def setting(self) -> str:
        return self.count.setting


@dataclass(frozen=True)
class GuidelineResult:
    """A guideline's variants measured, and whether the paper's direction held."""

    guideline: str
    title: str
    claim: str
    verdict: str
    explanation: str
    variants: tuple[VariantResult, ...]


@dataclass(frozen=True)
class EmpiricalRun:
    """A whole run: the settings, where it ran, and a result per guideline."""

    device: str
    platform: str  # whose channel counts were built
    scale: int
    batch: int
    unit: str
    policy: TimingPolicy
    environment: Any  # costlab.bench.environment.Environment
    started: str  # ISO 8601, UTC
    results: tuple[GuidelineResult, ...] = field(default_factory=tuple)

    def to_dataframe(self) -> "pd.DataFrame":
        """One row per variant: counts, latency, speed beside the paper's, verdict."""
        import pandas as pd

        rows = []
        for result in self.results:
            for v in result.variants:
                ratio, fair = v.versus_baseline, v.equal_work
                rows.append({
                    "guideline": result.guideline, "setting": v.setting,
                    "baseline": v.versus_baseline is None,
                    "input": shape_text(v.count.input_shape),
                    "macs_m": v.count.macs / 1e6, "flops_m": v.count.flops / 1e6,
                    "macs_vs_baseline_pct": v.count.macs_vs_baseline_pct,
                    "memory_access_mb": v.count.memory_access_bytes / 1e6,
                    "median_ms": v.latency.median_ms, "ci_low_ms": v.latency.ci_low_ms,
                    "ci_high_ms": v.latency.ci_high_ms, "iqr_ms": v.latency.iqr_ms,
                    "samples": v.latency.n, "speed": v.speed,
                    "speed_ci_low": v.speed_ci_low, "speed_ci_high": v.speed_ci_high,
                    "unit": self.unit, "paper_gpu_speed": v.paper_gpu_speed,
                    "paper_arm_speed": v.paper_arm_speed,
                    "latency_ratio": ratio.ratio if ratio else None,
                    "ratio_ci_low": ratio.ci_low if ratio else None,
                    "ratio_ci_high": ratio.ci_high if ratio else None,
                    "equal_work_ratio": fair.ratio if fair else None,
                    "equal_work_ci_low": fair.ci_low if fair else None,
                    "equal_work_ci_high": fair.ci_high if fair else None,
                    "paper_gpu_ratio": _paper_ratio(result.variants[0].paper_gpu_speed,
                                                    v.paper_gpu_speed) if ratio else None,
                    "paper_arm_ratio": _paper_ratio(result.variants[0].paper_arm_speed,
                                                    v.paper_arm_speed) if ratio else None,
                    "verdict": v.verdict,
                })
        return pd.DataFrame(rows)

    def verdict_frame(self) -> "pd.DataFrame":
        """One row per guideline: the paper's claim and whether it held here."""
        import pandas as pd

        return pd.DataFrame([{"guideline": r.guideline, "title": r.title, "claim": r.claim,
                              "verdict": r.verdict, "explanation": r.explanation}
                             for r in self.results])

    def settings_dict(self) -> dict[str, Any]:
        return {"device": self.device, "platform": self.platform, "scale": self.scale,
                "batch": self.batch, "unit": self.unit, "policy": asdict(self.policy),
                "started": self.started}


def _paper_ratio(base_speed: float | None, speed: float | None) -> float | None:
    """The paper's latency ratio variant/baseline: its baseline's speed over the variant's."""
    if not base_speed or not speed:
        return None
    return base_speed / speed


def paper_speed(guideline: str, setting: str, platform: str, scale: int) -> float | None:
    try:
        return guideline_experiment(guideline, setting, platform, scale).speed
    except KeyError:
        return None


def explanation(bench: GuidelineBenchmark, variants: Sequence[VariantResult]) -> str:
    parts = []
    for v in variants[1:]:
        r = v.equal_work
        parts.append(f"{v.setting} x{r.ratio:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] {v.verdict}")
    return (f"latency vs {bench.baseline.setting} at equal MACs (95% CI): "
            + "; ".join(parts))
