"""Compare several models: the same analysis of each, published numbers, ratios, latency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from costlab.core.records import ModelCost
from costlab.core.errors import ForwardError, UsageError
from costlab.references import PublishedEntry, lookup_for_input
from costlab.workflows.analyze import analyze
from costlab.workflows.display import Displayed


@dataclass(kw_only=True)
class ModelComparison(Displayed):
    """Several analyses side by side, with the published numbers beside each."""

    costs: list[ModelCost]
    published: list[PublishedEntry | None]
    latency: Any = None  # a bench.runner.LatencyComparison when latency was measured
    # with several boards (compare --latency-device ssh://a --latency-device ssh://b): one
    # LatencyComparison per board, in the order given; ``latency`` is the first
    board_latency: list[Any] | None = None
    # per model, achieved FLOP/s and bytes/s (bench.utilization), with latency
    utilization: Any = None

    def ratios(self) -> list[dict[str, float | None]]:
        """Each model's MACs, FLOPs, params and bytes as a multiple of the first model's."""
        base = self.costs[0].total

        def ratio(a: int, b: int) -> float | None:
            return a / b if b else None

        return [{
            "macs": ratio(c.total.macs, base.macs),
            "flops": ratio(c.total.flops, base.flops),
            "params": ratio(c.total.params, base.params),
            "memory_access": ratio(c.total.memory_access_bytes, base.memory_access_bytes),
            "peak_activation": ratio(c.total.peak_activation_bytes, base.peak_activation_bytes),
        } for c in self.costs]

    def document(self):
        from costlab.report.export import comparison_document

        return comparison_document(self)

    def summary_lines(self) -> list[str]:
        """``mobilenet_v2: 0.53x MACs, 0.83x params`` for every model after the first."""
        lines = []
        for cost, r in list(zip(self.costs, self.ratios()))[1:]:
            parts = [f"{r[k]:.2f}x {label}" for k, label in (("macs", "MACs"), ("params", "params"))
                     if r[k] is not None]
            line = f"{cost.name}: {', '.join(parts)} (vs {self.costs[0].name})"
            if r["macs"] is not None and round(r["macs"], 4) != 1:
                change = round(100 * abs(1 - r["macs"]))
                line += f"; {change}% {'fewer' if r['macs'] < 1 else 'more'} MACs"
            lines.append(line)
        return lines

    def to_dataframe(self):
        from costlab.report.tables import comparison_frame

        return comparison_frame(self)


def _analyze_named(model: Any, options: dict[str, Any]) -> ModelCost:
    """``analyze``, its forward errors naming the model (one of several compared)."""
    try:
        return analyze(model, **options)
    except ForwardError as exc:
        name = model if isinstance(model, str) else type(model).__name__
        raise ForwardError(f"{name}: {exc}") from exc


def compare(models: Sequence[Any], *, latency: bool = False,
            latency_options: dict[str, Any] | None = None, **options: Any) -> ModelComparison:
    """Analyze each model with the same options and line them up with published numbers.

    With ``latency``, also time them interleaved on the CPU (or ``latency_options``'
    device) with ``bench.runner.bench_models``; ``latency_options`` are its keywords. The
    timing runs in ``bench.rounds.DEFAULT_ROUNDS`` rounds (fresh worker processes) unless
    ``latency_options`` names ``rounds``, as ``costlab compare --latency`` does.
    """
    if len(models) < 1:
        raise UsageError("compare needs at least one model")
    costs = [_analyze_named(m, options) for m in models]
    published = [lookup_for_input(c.name, c.info.knobs, c.info.input_shapes) for c in costs]
    comparison = ModelComparison(costs=costs, published=published)
    if latency:
        from costlab.bench.rounds import DEFAULT_ROUNDS
        from costlab.bench.runner import bench_models

        model_options = {k: v for k, v in options.items()
                         if k not in ("device", "dtype", "formulas")}
        timing = {"rounds": DEFAULT_ROUNDS, **(latency_options or {})}
        devices = timing.pop("device", "cpu")
        devices = [devices] if isinstance(devices, str) else list(devices)
        if len(devices) == 1 and not devices[0].startswith("ssh://"):
            comparison.latency = bench_models(models, model_options, device=devices[0],
                                              **timing)
        else:
            from costlab.workflows.fleet import time_on_boards

            comparison.board_latency = time_on_boards(list(models), model_options, devices,
                                                      **timing)
            comparison.latency = comparison.board_latency[0]
        from costlab.workflows.utilization import comparison_utilization

        comparison.utilization = comparison_utilization(comparison)
    return comparison
