"""MFU and bandwidth use: a measured latency beside the static count of the same model.

The benchmarker cannot import the analyzer, so this layer counts the model (same model,
input and dtype as the run) and hands the counts to ``bench.utilization``.
"""

from __future__ import annotations

from typing import Any

from costlab.bench.utilization import Utilization, utilization
from costlab.workflows.analyze import analyze

# bench's dtypes are the ones bytes can be counted at
_COUNT_DTYPE = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def bench_utilization(model: Any, options: dict[str, Any], report: Any,
                      hardware: str | None = None) -> Utilization:
    """``report``'s achieved FLOP/s and bytes/s from the static count of ``model`` with
    ``options`` (bench's model options), bytes at the run's dtype; MFU/MBU on ``hardware``
    (or the recognised GPU it ran on)."""
    cost = analyze(model, **options, dtype=_COUNT_DTYPE.get(report.dtype))
    return utilization(report, flops=cost.total.flops,
                       memory_access_bytes=cost.total.memory_access_bytes, hardware=hardware)


def comparison_utilization(comparison: Any, hardware: str | None = None) -> list[Utilization]:
    """Per model of a ``compare --latency``: its analysis' counts over its median."""
    return [utilization(report, flops=cost.total.flops,
                        memory_access_bytes=cost.total.memory_access_bytes, hardware=hardware)
            for cost, report in zip(comparison.costs, comparison.latency.reports)]
