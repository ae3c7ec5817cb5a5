"""Audit a model against ShuffleNet V2's G1-G4, optionally with G4's measured time shares
(the static audit from ``analysis.guidelines``, the shares from ``workflows.profile``)."""

from __future__ import annotations

from typing import Any, Callable

from costlab.analysis.guidelines import GuidelineAudit, audit, with_measured_g4
from costlab.bench.profile import DEPTHWISE, ELEMENTWISE
from costlab.bench.timing import TimingPolicy
from costlab.workflows.analyze import analyze
from costlab.workflows.profile import profile_model


def audit_model(model: Any, *, analysis_options: dict[str, Any],
                run_options: dict[str, Any] | None = None, latency: bool = False,
                threads: int | None = None, quick: bool = False,
                progress: Callable[[float], None] | None = None) -> GuidelineAudit:
    """The G1-G4 audit of ``model`` (built with ``analysis_options``, as ``analyze`` takes
    them). With ``latency``, G4 also gets the share of forward time that element-wise and
    depthwise ops take when ``model`` runs on the CPU (built with ``run_options``)."""
    result = audit(analyze(model, **analysis_options))
    if not latency:
        return result
    report = profile_model(model, run_options, threads=threads, progress=progress,
                           policy=TimingPolicy.quick() if quick else TimingPolicy())
    share = {row.name: row.time_share for row in report.categories}
    plural = "s" if report.threads != 1 else ""
    return with_measured_g4(result, share.get(ELEMENTWISE, 0.0),
                            share.get(DEPTHWISE, 0.0),
                            f"{report.device}, {report.threads} thread{plural}, "
                            f"median forward {report.measured.median_ms:.2f} ms")
