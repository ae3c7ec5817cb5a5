"""What the paper reports share: the analyses and timings they ask for, and the header.

A ``ReportContext`` lives for one ``costlab report`` run. It analyzes each model setting
once (several reports ask for the same one), times groups of settings interleaved with
the benchmarker when latency is on, and writes the header every report opens with: the
machine, the versions, the date and how latency was measured.
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from costlab.core import conventions
from costlab.core.version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost
    from costlab.bench.environment import Environment
    from costlab.bench.runner import LatencyComparison
    from costlab.bench.timing import TimingPolicy

LATENCY_PREFIX = "latency_"  # every column measured by timing starts with this
MILLION = 1_000_000
# families of the zoo that are image CNNs (the guidelines audit and Table 8's extra rows)
CNN_FAMILIES = ("alexnet", "vgg", "inception", "resnet", "densenet", "squeezenet", "mobilenet",
                "shufflenet", "efficientnet", "nasnet", "xception")


@dataclass(frozen=True)
class Setting:
    """A registered model at one knob setting and resolution."""

    model: str
    knobs: tuple[tuple[str, Any], ...] = ()
    resolution: int | None = None

    @classmethod
    def of(cls, model: str, resolution: int | None = None, **knobs: Any) -> "Setting":
        return cls(model, tuple(sorted(knobs.items())), resolution)

    @property
    def knob_dict(self) -> dict[str, Any]:
        return dict(self.knobs)

    @property
    def variant(self) -> str:
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in self.knobs)

    @property
    def label(self) -> str:
        return f"{self.model} ({self.variant})" if self.variant else self.model


@dataclass
class PaperReport:
    """One report: its data (the CSV) and its Markdown sections (after the header)."""

    name: str
    title: str
    frame: "pd.DataFrame"
    sections: list[str]
    timed: bool  # whether latency was measured for it


@dataclass
class ReportContext:
    """Settings and memo of one ``costlab report`` run."""

    latency: bool = True
    quick: bool = False
    threads: int | None = None
    command: str = "costlab report --all"
    say: Callable[[str], None] = field(default=lambda message: None)
    _costs: dict[Setting, "ModelCost"] = field(default_factory=dict, repr=False)
    _environment: "Environment | None" = field(default=None, repr=False)
    started: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))

    @property
    def policy(self) -> "TimingPolicy":
        from costlab.bench.timing import TimingPolicy

        return TimingPolicy.quick() if self.quick else TimingPolicy()

    def analyze(self, setting: Setting) -> "ModelCost":
        cost = self._costs.get(setting)
        if cost is None:
            from costlab.workflows.analyze import analyze

            cost = analyze(setting.model, resolution=setting.resolution, **setting.knob_dict)
            self._costs[setting] = cost
        return cost

    def time(self, settings: Sequence[Setting]) -> "LatencyComparison | None":
        """Time ``settings`` interleaved on the CPU (None when latency is off). They must
        share one input shape; the first is the baseline of the ratios."""
        if not self.latency:
            return None
        from costlab.build.target import prepare
        from costlab.bench.runner import bench_models
        from costlab.core.errors import UsageError

        prepared = [prepare(s.model, device="cpu", resolution=s.resolution, **s.knob_dict)
                    for s in settings]
        shapes = {tuple(p.input_shapes) for p in prepared}
        if len(shapes) != 1:
            raise UsageError(f"cannot time {', '.join(s.label for s in settings)} together: "
                             f"their inputs differ ({shapes})")
        self.say(f"timing {', '.join(s.label for s in settings)} interleaved")
        # modules rather than names: each setting has its own knobs, the input is shared
        comparison = bench_models([p.module for p in prepared],
                                  {"input_shape": [list(prepared[0].input_shapes[0])]},
                                  policy=self.policy, threads=self.threads, memory=False)
        self._environment = comparison.reports[0].environment
        return comparison

    def environment(self) -> "Environment":
        if self._environment is None:
            from costlab.bench.environment import capture
            from costlab.bench.timing import torch_threads

            with torch_threads(self.threads):
                self._environment = capture("cpu")  # inside: it reads the thread count
        return self._environment

    def policy_text(self) -> str:
        p = self.policy
        kind = "the quick policy (--quick)" if self.quick else "the default policy"
        return (f"{kind}: at least {p.warmup_iters} warm-up calls and {p.warmup_s:g} s, then "
                f"at least {p.min_iters} timed calls and {p.min_s:g} s (at most {p.max_s:g} s), "
                "the models of each table timed interleaved")

    def header(self, report: PaperReport) -> list[str]:
        import pandas
        import torch

        env = self.environment()
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") \
            else "unknown"
        stamp = self.started.strftime("%Y-%m-%d %H:%M UTC")
        lines = [f"# {report.title}", "",
                 f"Generated {stamp} by `{self.command}`: costlab {__version__}, torch "
                 f"{torch.__version__}, pandas {pandas.__version__}, Python "
                 f"{platform.python_version()}.", "",
                 "Machine: " + "; ".join(env.lines()) + f"; load average {load} at the start.",
                 ""]
        if report.timed:
            lines += [f"Latency: measured on this CPU with {self.policy_text()}, "
                      f"{env.threads} torch thread{'s' if env.threads != 1 else ''}.", ""]
        elif self.latency:
            lines += ["Latency: none in this report (static counts only).", ""]
        else:
            lines += ["Latency: not measured (--no-latency).", ""]
        return lines

    def footer(self, report: PaperReport) -> list[str]:
        lines = ["_" + conventions.caption() + "_", ""]
        if report.timed:
            lines[-1:] = ["", "_" + conventions.LATENCY + "_", ""]
        return lines


def markdown_table(frame: "pd.DataFrame", left: int = 1) -> str:
    """A Markdown table of cells formatted by the caller (tabulate would re-parse number
    strings); the first ``left`` columns left-aligned, the others right-aligned."""
    frame = frame.astype(object).where(frame.notna(), "")
    align = ("left",) * left + ("right",) * (len(frame.columns) - left)
    return frame.to_markdown(index=False, disable_numparse=True, colalign=align)


def markdown(report: PaperReport, context: ReportContext) -> str:
    return "\n".join(context.header(report) + report.sections + [""]
                     + context.footer(report))


def noisy_note(frame: "pd.DataFrame", labels: Sequence[str]) -> list[str]:
    """A line naming the timed rows whose spread (IQR/median) says the machine was busy."""
    from costlab.bench.stats import NOISY_IQR_OVER_MEDIAN

    if "latency_iqr_over_median" not in frame.columns:
        return []
    noisy = [f"{label} ({spread:.0%})" for label, spread
             in zip(labels, frame["latency_iqr_over_median"]) if spread > NOISY_IQR_OVER_MEDIAN]
    if not noisy:
        return []
    return [f"Noisy timings (interquartile range over {NOISY_IQR_OVER_MEDIAN:.0%} of the "
            "median, as when other programs share the CPU): " + ", ".join(noisy)
            + ". The medians' confidence intervals above include that noise.", ""]


def latency_text(row: dict[str, Any] | Any) -> str:
    """``12.34 (12.10-12.60)``, or blank when not measured."""
    median = row.get("latency_median_ms") if hasattr(row, "get") else None
    if median is None or median != median:
        return ""
    return f"{median:.2f} ({row['latency_ci_low_ms']:.2f}-{row['latency_ci_high_ms']:.2f})"


def ratio_text(row: dict[str, Any] | Any) -> str:
    """``0.91x (0.89-0.93), faster``, or blank when not measured."""
    ratio = row.get("latency_ratio") if hasattr(row, "get") else None
    if ratio is None or ratio != ratio:
        return ""
    if row["latency_verdict"] == "baseline":
        return "1.00x (baseline)"
    return (f"{ratio:.2f}x ({row['latency_ratio_ci_low']:.2f}-"
            f"{row['latency_ratio_ci_high']:.2f}), {row['latency_verdict']}")
