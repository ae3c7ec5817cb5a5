"""The timing loop: warm up, then time each forward pass, several models interleaved.

Rules (README, "Latency"): eval mode and inference mode; warm-up of at least
``warmup_iters`` iterations and ``warmup_s`` seconds, then at least ``min_iters`` iterations
and ``min_s`` seconds, stopping at ``max_s``. On the CPU each call is timed with
``perf_counter_ns``; on CUDA with a pair of events per call, read after one final
synchronize, so the timing itself does not stall the GPU queue.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from costlab.core.errors import UsageError


# timed calls per round when measuring in rounds (TimingPolicy.in_rounds)
ROUND_MIN_ITERS = 30


@dataclass(frozen=True)
class TimingPolicy:
    """How long to warm up and to measure."""

    warmup_iters: int = 10
    warmup_s: float = 0.5
    min_iters: int = 50
    min_s: float = 1.0
    max_s: float = 30.0  # measurement stops here even if min_iters is not reached

    def __post_init__(self) -> None:
        if self.warmup_iters < 0 or self.min_iters < 1:
            raise UsageError("warm-up iterations must be >= 0 and iterations >= 1")
        times = (self.warmup_s, self.min_s, self.max_s)
        if not all(math.isfinite(t) for t in times):
            raise UsageError("warm-up and measurement times must be finite numbers of seconds")
        if self.warmup_s < 0 or self.min_s < 0 or self.max_s <= 0:
            raise UsageError("warm-up and measurement times must be >= 0 (max-time > 0)")

    @classmethod
    def in_rounds(cls) -> "TimingPolicy":
        """The default for each round of a measurement in rounds: fewer timed calls per
        round (30, not 50), since the spread between rounds, not the samples within one,
        bounds the interval; five rounds still give 150 samples a model."""
        return cls(min_iters=ROUND_MIN_ITERS)

    @classmethod
    def default(cls, rounds: int = 1) -> "TimingPolicy":
        """The default policy of a measurement in ``rounds``: ``in_rounds`` for several."""
        return cls.in_rounds() if rounds > 1 else cls()

    @classmethod
    def quick(cls) -> "TimingPolicy":
        """A short run for a first look; still enough samples for a median and its CI."""
        return cls(warmup_iters=3, warmup_s=0.1, min_iters=20, min_s=0.3, max_s=5.0)


@dataclass
class Timing:
    """The samples of one callable: first call, warm-up count, then each timed call."""

    first_call_ns: int
    warmup_iters: int = 0
    samples_ns: list[int] = field(default_factory=list)


@dataclass
class InterleavedRun:
    """The timings of several callables and the order in which they were called."""

    timings: list[Timing]
    order: list[int]  # index of the callable for every timed call, in call order


Progress = Callable[[float], None]  # called with the fraction done, 0..1


def _clock(device: str):
    """(start, stop) -> elapsed ns, for this device."""
    if device == "cuda":
        import torch

        def run(fn: Callable[[], Any]) -> Callable[[], int]:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            # read after the final synchronize; elapsed_time is in ms
            return lambda: int(start.elapsed_time(end) * 1e6)
        return run

    def run_cpu(fn: Callable[[], Any]) -> Callable[[], int]:
        t0 = time.perf_counter_ns()
        fn()
        elapsed = time.perf_counter_ns() - t0
        return lambda: elapsed
    return run_cpu


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def time_interleaved(fns: Sequence[Callable[[], Any]], policy: TimingPolicy | None = None,
                     device: str = "cpu", progress: Progress | None = None) -> InterleavedRun:
    """Time zero-argument callables round-robin (A B A B ...) so drift hits all equally.

    The first call of each is timed on its own (it includes lazy initialization); then all
    warm up together until every one has had ``warmup_iters`` calls and ``warmup_s`` has
    passed; then rounds are timed until every callable has ``min_iters`` samples and
    ``min_s`` has passed, or ``max_s`` is reached.
    """
    from costlab.bench.emulation import refuse_under_emulation

    policy = policy or TimingPolicy()
    if not fns:
        raise UsageError("nothing to time")
    refuse_under_emulation()  # every measurement passes here; an emulator's time is not ours
    clock = _clock(device)
    timings = []
    for fn in fns:
        t0 = time.perf_counter_ns()
        fn()
        _synchronize(device)
        timings.append(Timing(first_call_ns=time.perf_counter_ns() - t0))

    warm_start = time.perf_counter()
    rounds = 0
    while rounds < policy.warmup_iters or time.perf_counter() - warm_start < policy.warmup_s:
        for fn in fns:
            fn()
        rounds += 1
        if time.perf_counter() - warm_start > policy.max_s:
            break
    _synchronize(device)
    for timing in timings:
        timing.warmup_iters = rounds

    order: list[int] = []
    pending: list[Callable[[], int]] = []
    measure_start = time.perf_counter()
    rounds = 0
    while True:
        elapsed = time.perf_counter() - measure_start
        if rounds >= policy.min_iters and elapsed >= policy.min_s:
            break
        if elapsed >= policy.max_s and rounds >= 1:
            break
        for index, fn in enumerate(fns):
            pending.append(clock(fn))
            order.append(index)
        rounds += 1
        if progress is not None:
            done = max(min(rounds / policy.min_iters, 1.0) * min(elapsed / policy.min_s, 1.0)
                       if policy.min_s else rounds / policy.min_iters,
                       elapsed / policy.max_s)
            progress(min(done, 1.0))
    _synchronize(device)
    for index, read in zip(order, pending):
        timings[index].samples_ns.append(read())
    if progress is not None:
        progress(1.0)
    return InterleavedRun(timings, order)


@contextlib.contextmanager
def inference_context(modules: Sequence[Any] = ()) -> Iterator[None]:
    """eval mode and ``torch.inference_mode`` for the duration; training flags restored."""
    import torch

    flags = [(m, m.training) for m in modules]
    for m, _ in flags:
        m.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        for m, was_training in flags:
            m.train(was_training)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Set torch's intra-op threads for the duration (before the first op), yield the count."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise UsageError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def cudnn_benchmark(device: str) -> Iterator[None]:
    """cuDNN's benchmark mode on for the run (the paper's setting), restored after."""
    if device != "cuda":
        yield
        return
    import torch

    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous
