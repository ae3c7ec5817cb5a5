"""Profile a model: build it to run, count it statically, and time plain forwards against
profiled ones (``bench.profile``), so each category's share of time sits beside its share of
FLOPs and bytes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from costlab.bench.profile import (DEFAULT_ITERS, ProfiledForward, ProfileReport, build_report,
                                   middle_mean, quiet_kineto)
from costlab.bench.stats import summarize
from costlab.bench.timing import TimingPolicy, inference_context, time_interleaved, torch_threads
from costlab.build.inputs import check_run_device
from costlab.build.target import prepare
from costlab.core.errors import UsageError
from costlab.workflows.analyze import analyze


def profile_model(model: Any, options: dict[str, Any] | None = None, *, device: str = "cpu",
                  threads: int | None = None, iters: int | None = None, depth: int = 1,
                  policy: TimingPolicy | None = None,
                  progress: Callable[[float], None] | None = None) -> ProfileReport:
    """Measure where ``model``'s forward time goes, by category and by module.

    ``options`` are ``build.prepare``'s (input shapes, batch, resolution, knobs, ...). The
    model is built on ``device`` with random weights and analyzed statically; then plain
    forwards and profiled forwards are run interleaved (A B A B ..., ``policy``, at least
    ``iters`` of each after warm-up), so machine drift hits both alike. The measured time
    is the median plain forward; the breakdown is the mean of the profiled forwards in the
    middle half by total time.
    """
    check_run_device(device)
    if iters is not None and iters < 1:
        raise UsageError(f"iters must be >= 1, got {iters}")
    if depth < 1:
        raise UsageError(f"depth must be >= 1, got {depth}")
    policy = policy or TimingPolicy(min_iters=DEFAULT_ITERS)
    if iters is not None:
        policy = replace(policy, min_iters=iters)

    with torch_threads(threads) as used_threads:
        prepared = prepare(model, device=device, **(options or {}))
        device = prepared.device  # an nn.Module runs where its parameters live
        cost = analyze(prepared.module, inputs=prepared.args, input_kwargs=prepared.kwargs,
                       name=prepared.name, real_forward=True)  # records of the real kernels
        cost.info.variant = prepared.variant
        cost.info.notes = list(prepared.notes or []) + cost.info.notes
        profiled = ProfiledForward(prepared, cost, device)
        with inference_context([prepared.module]), quiet_kineto():
            run = time_interleaved([prepared, profiled], policy, device, progress)
    measured_forwards = profiled.forwards[-len(run.timings[1].samples_ns):]
    return build_report(cost, middle_mean(measured_forwards),
                        summarize(run.timings[0].samples_ns), device=device,
                        threads=used_threads, depth=depth)
