"""Benchmark models: build them for real, time them interleaved, and report.

``bench_models`` is what ``costlab bench`` and ``costlab compare --latency`` call: every
model is built with random weights on the device, put in eval mode under inference mode,
timed round-robin with the others (``timing.time_interleaved``) in one or more rounds
(``bench.rounds``: each a fresh worker process), summarized (``stats.summarize_rounds``)
and reported with its peak memory and the environment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from costlab.bench.environment import Environment, capture
from costlab.bench.memory import PeakMemory, cpu_peak_in_subprocess, cuda_peak
from costlab.bench.stats import (DEFAULT_DRIFT, LatencyStats, RatioEstimate, RoundsSummary,
                                 check_drift, summarize_rounds)
from costlab.bench.timing import (Progress, Timing, TimingPolicy, cudnn_benchmark,
                                  inference_context, time_interleaved, torch_threads)
from costlab.bench.ready import ready_model
from costlab.build.forward_errors import named_forward_errors
from costlab.core.errors import UsageError
from costlab.core.version import BENCH_REPORT_SCHEMA_VERSION

# a round median this far (coefficient of variation) from the others' is worth a warning
ROUNDS_DISAGREE_CV = 0.05


@dataclass
class BenchReport:
    """One model's measured latency, with everything needed to judge the number.

    ``samples_ms`` are every round's samples, round after round (``round_sizes`` says how
    many each); ``stats`` are of them all, its CI from the hierarchical bootstrap over the
    rounds (``bench.stats``). ``rounds_in_workers``: each round was a fresh process.
    """

    model: str
    variant: str
    input_shapes: list[list[int]]
    device: str
    batch: int
    dtype: str
    channels_last: bool
    threads: int
    stats: LatencyStats
    samples_ms: list[float]
    first_call_ms: float  # the median over rounds of each round's first call
    warmup_iters: int  # warm-up calls of the round with the fewest
    iterations: int
    measured_s: float
    throughput: float  # samples (batch elements) per second, at the median
    peak_memory: PeakMemory | None
    environment: Environment
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rounds: int = 1
    rounds_in_workers: bool = False
    round_sizes: list[int] = field(default_factory=list)
    round_medians_ms: list[float] = field(default_factory=list)
    round_cv: float = 0.0  # coefficient of variation of the round medians
    host: str = ""  # the board it ran on (ssh://user@host:port); empty for this machine
    schema_version: int = BENCH_REPORT_SCHEMA_VERSION

    def to_dict(self) -> dict:
        out = asdict(self)
        out["stats"] = self.stats.to_dict()
        out["peak_memory"] = self.peak_memory.to_dict() if self.peak_memory else None
        out["environment"] = self.environment.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "BenchReport":
        """The inverse of ``to_dict`` (e.g. a report read back from a remote board)."""
        data = dict(data)
        data["stats"] = LatencyStats(**data["stats"])
        memory = data.get("peak_memory")
        if memory is not None:
            memory = {k: v for k, v in memory.items() if k != "model_mb"}
            data["peak_memory"] = PeakMemory(**memory)
        data["environment"] = Environment(**data["environment"])
        return cls(**data)

    def round_samples_ns(self) -> list[list[int]]:
        """The samples of each round, in ns."""
        sizes = self.round_sizes or [len(self.samples_ms)]
        ns = [round(ms * 1e6) for ms in self.samples_ms]
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return [ns[a:a + n] for a, n in zip(starts, sizes)]


def rounds_text(rounds: int, in_workers: bool, drift: float = 0.0) -> str:
    """How a ratio's interval was formed, for a summary line."""
    if rounds == 1:
        how = "1 round"
    else:
        how = f"{rounds} rounds, {'each a fresh process' if in_workers else 'in this process'}"
    if drift:
        return f"{how}, plus {drift:.1%} between-run drift"
    if rounds == 1:
        return "1 round: the interval covers the noise within this run only"
    return how


@dataclass
class LatencyComparison:
    """Several models timed interleaved; each one's ratio to the first, with its CI."""

    reports: list[BenchReport]
    ratios: list[RatioEstimate]  # one per model, the first is 1 by definition
    order: list[str]  # the model timed at every call, in call order (round after round)

    @property
    def rounds(self) -> int:
        return self.reports[0].rounds if self.reports else 1

    def summary_lines(self) -> list[str]:
        base = self.reports[0].model
        lines = []
        for report, r in list(zip(self.reports, self.ratios))[1:]:
            how = rounds_text(self.rounds, self.reports[0].rounds_in_workers, r.drift)
            if r.drift and r.rounds_ci_low is not None:
                how += f" (the rounds alone: {r.rounds_ci_low:.2f}-{r.rounds_ci_high:.2f})"
            verdict = (f"no clear difference from {base}" if r.verdict == "indistinguishable"
                       else f"{r.verdict} than {base}")
            spread = (f"; round ratios {min(r.round_ratios):.2f}-{max(r.round_ratios):.2f}"
                      if len(r.round_ratios) > 1 else "")
            lines.append(f"{report.model}: {r.ratio:.2f}x the latency of {base} "
                         f"(95% CI {r.ci_low:.2f}-{r.ci_high:.2f}, {how}{spread}): {verdict}")
        return lines

    def to_dict(self) -> dict:
        return {"rounds": self.rounds, "reports": [r.to_dict() for r in self.reports],
                "ratios": [r.to_dict() for r in self.ratios], "order": list(self.order)}

    @classmethod
    def from_dict(cls, data: dict) -> "LatencyComparison":
        return cls([BenchReport.from_dict(r) for r in data["reports"]],
                   [RatioEstimate.from_dict(r) for r in data["ratios"]], list(data["order"]))


def _warnings(env: Environment, stats: LatencyStats, round_cv: float) -> list[str]:
    out = []
    if env.threads > env.cores_available:
        out.append(f"{env.threads} threads on {env.cores_available} available cores: "
                   "threads compete for cores and latency suffers")
    if stats.noisy:
        out.append(f"noisy: IQR/median is {stats.iqr_over_median:.0%} (over 10%); close "
                   "other programs or raise --min-time")
    if round_cv > ROUNDS_DISAGREE_CV:
        out.append(f"rounds disagree: their medians vary by {round_cv:.0%} (coefficient of "
                   "variation, over 5%); the machine's state changes between runs")
    return out


@dataclass
class _Timed:
    """One model as measured: what it is, and one timing per round."""

    name: str
    variant: str
    input_shapes: list[list[int]]
    batch: int
    notes: list[str]
    threads: int
    rounds: list[Timing] = field(default_factory=list)
    peak: PeakMemory | None = None

    @classmethod
    def of(cls, report: BenchReport) -> "_Timed":
        return cls(name=report.model, variant=report.variant,
                   input_shapes=report.input_shapes, batch=report.batch,
                   notes=list(report.notes), threads=report.threads, peak=report.peak_memory)

    def add_round(self, report: BenchReport) -> None:
        """The timings of ``report``'s rounds, after the ones already here."""
        for samples in report.round_samples_ns():
            self.rounds.append(Timing(first_call_ns=round(report.first_call_ms * 1e6),
                                      warmup_iters=report.warmup_iters, samples_ns=samples))


def _batch(prepared: Any) -> int:
    args = prepared.args
    return int(args[0].shape[0]) if args and hasattr(args[0], "shape") and args[0].dim() else 1


def _round_progress(progress: Progress | None, done: int, rounds: int) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction: progress((done + fraction) / rounds)


def _in_this_process(models: Sequence[Any], options: dict[str, Any], device: str, dtype: str,
                     channels_last: bool, used_threads: int, policy: TimingPolicy,
                     memory: bool, progress: Progress | None, rounds: int,
                     ) -> tuple[list[_Timed], list[int]]:
    """Every round here, the models built once; the order rotates between rounds."""
    from costlab.bench.rounds import schedule

    prepared = [ready_model(m, options, device, dtype, channels_last) for m in models]
    timed = [_Timed(name=p.name, variant=p.variant,
                    input_shapes=[list(s) for s in p.input_shapes], batch=_batch(p),
                    notes=list(p.notes or []), threads=used_threads) for p in prepared]
    order: list[int] = []
    with inference_context([p.module for p in prepared]), named_forward_errors(prepared):
        for r, lineup in enumerate(schedule(len(models), rounds)):
            run = time_interleaved([prepared[i] for i in lineup], policy, device,
                                   _round_progress(progress, r, rounds))
            for slot, timing in zip(lineup, run.timings):
                timed[slot].rounds.append(timing)
            order += [lineup[i] for i in run.order]
        for t, p, m in zip(timed, prepared, models):
            if device == "cuda":
                t.peak = cuda_peak(p)
            elif memory and isinstance(m, str):
                t.peak = cpu_peak_in_subprocess(dict(
                    model=m, options=options, device=device, dtype=dtype,
                    channels_last=channels_last))
    return timed, order


def _worker_settings(models: Sequence[Any], options: dict[str, Any], device: str = "cpu",
                     **settings: Any):
    """The bench request a round worker gets, or None when the models or options cannot
    travel as JSON (modules, objects among the model's keyword arguments) or the device is
    not one a worker takes."""
    import json

    from costlab.bench.protocol import BenchRequest, RoundRequest

    if not all(isinstance(m, str) for m in models):
        return None
    try:
        request = BenchRequest.for_bench(models[0], options, memory=False, **settings)
        RoundRequest.from_dict(json.loads(RoundRequest(models=list(models), bench=request,
                                                       device=device).to_json()))
    except (TypeError, ValueError, UsageError):
        return None
    return request


def _in_workers(models: Sequence[str], options: dict[str, Any], settings: Any, device: str,
                dtype: str, channels_last: bool, memory: bool, progress: Progress | None,
                rounds: int, board: str | None = None,
                round_runner: Callable[[Any], list[dict]] | None = None
                ) -> tuple[list[_Timed], list[int], Environment | None]:
    """Each round in a fresh worker process (``bench.rounds``), the order rotated; on
    ``board``, ``round_runner`` runs each round there (and its environment is returned)."""
    from costlab.bench.emulation import refuse_under_emulation
    from costlab.bench.protocol import RoundRequest
    from costlab.bench.rounds import run_round, schedule

    if board is None:
        refuse_under_emulation()  # before starting workers that would each refuse
    timed: list[_Timed | None] = [None] * len(models)
    order: list[int] = []
    board_env = None
    for r, lineup in enumerate(schedule(len(models), rounds)):
        if progress is not None:
            progress(r / rounds)
        request = RoundRequest(models=[models[i] for i in lineup], bench=settings,
                               device=device)
        for slot, data in zip(lineup, (round_runner or run_round)(request)):
            report = BenchReport.from_dict(data)
            board_env = board_env or report.environment
            timed[slot] = timed[slot] or _Timed.of(report)
            timed[slot].add_round(report)
        iterations = len(timed[lineup[0]].rounds[-1].samples_ns)
        order += lineup * iterations  # each worker times its models round-robin
    if progress is not None:
        progress(1.0)
    done = [t for t in timed if t is not None]
    if board is not None:
        return done, order, board_env  # no peak-memory probe on a board in compare
    if memory and device != "cuda":
        # after all timing, so the probes may run side by side
        from concurrent.futures import ThreadPoolExecutor

        requests = [dict(model=m, options=options, device=device, dtype=dtype,
                         channels_last=channels_last) for m in models]
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            for t, peak in zip(done, pool.map(cpu_peak_in_subprocess, requests)):
                t.peak = peak
    return done, order, None


def bench_models(models: Sequence[Any], options: dict[str, Any] | None = None, *,
                 device: str = "cpu", dtype: str = "float32", channels_last: bool = False,
                 threads: int | None = None, policy: TimingPolicy | None = None,
                 memory: bool = True, progress: Progress | None = None,
                 rounds: int = 1, board: str | None = None,
                 round_runner: Callable[[Any], list[dict]] | None = None,
                 drift: float = DEFAULT_DRIFT) -> LatencyComparison:
    """Time ``models`` (names, specifiers or modules) interleaved on ``device``; with
    ``board`` (``ssh://user@host``), on that board's CPU: ``round_runner(request)`` runs each
    round there (``bench.remote.run_remote_round``, a fresh ``costlab serve-bench``).

    ``rounds`` > 1 measures in rounds, each meeting ``policy``: for names and specifiers
    each round is a fresh worker process, for modules or options that are not JSON (which
    cannot be sent to one) a round in this process. The model order rotates between
    rounds; the intervals come from the hierarchical bootstrap over the rounds
    (``stats.summarize_rounds``), a ratio's with the between-run ``drift`` added (a
    relative standard deviation; 0 for the rounds' interval alone).
    """
    options = dict(options or {})
    drift = check_drift(drift)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise UsageError(f"rounds must be an integer >= 1, got {rounds!r}")
    policy = policy or TimingPolicy.default(rounds)
    if not models:
        raise UsageError("nothing to time")
    settings = _worker_settings(models, options, device, dtype=dtype,
                                channels_last=channels_last, threads=threads,
                                policy=policy) if rounds > 1 or board else None
    if board is not None and settings is None:
        raise UsageError(f"cannot time these models on {board}: a board gets registered "
                         "names or importable specifiers, with JSON options")
    if board is not None and device != "cpu":
        raise UsageError(f"a board is timed on its CPU, not {device}")
    if (board is None) != (round_runner is None):
        raise ValueError("a board's rounds need its round_runner, and only a board's")
    in_workers = settings is not None
    with torch_threads(threads) as used_threads, cudnn_benchmark(device):
        if in_workers:
            timed, order, board_env = _in_workers(list(models), options, settings, device,
                                                  dtype, channels_last, memory, progress,
                                                  rounds, board, round_runner)
        else:
            timed, order = _in_this_process(models, options, device, dtype, channels_last,
                                            used_threads, policy, memory, progress, rounds)
            board_env = None
        env = board_env or capture(device)
    comparison = _reports(timed, order, env, device=device, dtype=dtype,
                          channels_last=channels_last, in_workers=in_workers, drift=drift)
    if board is not None:
        for report in comparison.reports:
            report.host = board
            report.notes.append(f"measured on {board} (its CPU) over ssh, each round a "
                                "fresh costlab serve-bench there")
    return comparison


def _reports(timed: list[_Timed], order: list[int], env: Environment, *, device: str,
             dtype: str, channels_last: bool, in_workers: bool,
             drift: float = DEFAULT_DRIFT) -> LatencyComparison:
    """The comparison of models measured in the same rounds (``timed[m].rounds``)."""
    summary: RoundsSummary = summarize_rounds([[t.samples_ns for t in m.rounds] for m in timed],
                                              drift=drift)
    rounds = len(timed[0].rounds)
    reports = []
    for t, stats, medians, cv in zip(timed, summary.stats, summary.round_medians_ms,
                                     summary.round_cvs):
        samples = [s for timing in t.rounds for s in timing.samples_ns]
        first_calls = sorted(timing.first_call_ns for timing in t.rounds)
        notes = list(t.notes)
        if rounds > 1 and not in_workers:
            notes.append(f"{rounds} rounds in this process: a model given as a module, or "
                         "options that are not JSON, cannot be sent to a worker process")
        reports.append(BenchReport(
            model=t.name, variant=t.variant, input_shapes=t.input_shapes, device=device,
            batch=t.batch, dtype=dtype, channels_last=channels_last, threads=t.threads,
            stats=stats, samples_ms=[s / 1e6 for s in samples],
            first_call_ms=first_calls[len(first_calls) // 2] / 1e6,
            warmup_iters=min(timing.warmup_iters for timing in t.rounds),
            iterations=len(samples), measured_s=stats.total_s,
            throughput=t.batch / (stats.median_ms / 1e3) if stats.median_ms else 0.0,
            peak_memory=t.peak, environment=env, warnings=_warnings(env, stats, cv),
            notes=notes, rounds=rounds, rounds_in_workers=in_workers,
            round_sizes=[len(timing.samples_ns) for timing in t.rounds],
            round_medians_ms=medians, round_cv=cv))
    return LatencyComparison(reports, summary.ratios, [reports[i].model for i in order])


def merge_rounds(rounds: Sequence[BenchReport]) -> BenchReport:
    """One model's report from the reports of its rounds, each measured by a process of
    its own (e.g. one ``serve-bench`` on a board per round); the first round's peak
    memory, environment and notes."""
    if not rounds:
        raise ValueError("no rounds to merge")
    first = rounds[0]
    timed = _Timed.of(first)
    for report in rounds:
        timed.add_round(report)
    comparison = _reports([timed], [0] * sum(len(r.samples_ms) for r in rounds),
                          first.environment, device=first.device, dtype=first.dtype,
                          channels_last=first.channels_last, in_workers=True)
    return comparison.reports[0]


def bench(model: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> BenchReport:
    """One model's latency report (``bench_models`` with one model)."""
    return bench_models([model], options, **kwargs).reports[0]
