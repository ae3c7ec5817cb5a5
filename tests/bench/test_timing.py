"""The timing loop on counting callables: iterations, warm-up excluded, interleaving."""

import pytest

from costlab.bench.timing import TimingPolicy, inference_context, time_interleaved, torch_threads
from costlab.core.errors import UsageError


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_counts_and_warmup_excluded():
    a, b = Counter(), Counter()
    policy = TimingPolicy(warmup_iters=4, warmup_s=0, min_iters=7, min_s=0, max_s=60)
    run = time_interleaved([a, b], policy)
    ta, tb = run.timings
    # first call + 4 warm-up rounds + 7 timed rounds; only the timed ones are samples
    assert a.calls == b.calls == 1 + 4 + 7
    assert ta.warmup_iters == tb.warmup_iters == 4
    assert len(ta.samples_ns) == len(tb.samples_ns) == 7
    assert ta.first_call_ns > 0 and all(s > 0 for s in ta.samples_ns)
    assert run.order == [0, 1] * 7  # A B A B ...


def test_min_time_extends_the_run_and_max_time_caps_it():
    import time

    slow = lambda: time.sleep(0.002)  # noqa: E731
    run = time_interleaved([slow], TimingPolicy(0, 0, 1, min_s=0.05, max_s=60))
    assert len(run.timings[0].samples_ns) > 5  # 1 iteration was not enough time
    run = time_interleaved([slow], TimingPolicy(0, 0, min_iters=10_000, min_s=0, max_s=0.05))
    assert 1 <= len(run.timings[0].samples_ns) < 10_000


def test_progress_reaches_one():
    seen = []
    time_interleaved([Counter()], TimingPolicy(0, 0, 5, 0, 60), progress=seen.append)
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)


def test_bad_policies():
    with pytest.raises(UsageError):
        TimingPolicy(min_iters=0)
    with pytest.raises(UsageError):
        TimingPolicy(max_s=0)
    with pytest.raises(UsageError):
        time_interleaved([], TimingPolicy())


def test_inference_context_restores_training_and_threads():
    import torch

    m = torch.nn.Linear(2, 2).train()
    with inference_context([m]):
        assert not m.training and torch.is_inference_mode_enabled()
    assert m.training and not torch.is_inference_mode_enabled()
    before = torch.get_num_threads()
    with torch_threads(1) as used:
        assert used == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(UsageError):
        with torch_threads(0):
            pass


@pytest.mark.skipif("not __import__('torch').cuda.is_available()")
def test_cuda_events():
    import torch

    x = torch.randn(256, 256, device="cuda")
    run = time_interleaved([lambda: x @ x], TimingPolicy(1, 0, 5, 0, 60), device="cuda")
    assert len(run.timings[0].samples_ns) == 5


def test_every_timing_loop_refuses_under_emulation(monkeypatch):
    from costlab.bench import emulation
    from costlab.core.errors import CostlabError

    monkeypatch.setattr(emulation, "running_under_emulation", lambda: "Rosetta translates it")
    calls = Counter()
    with pytest.raises(CostlabError, match="refusing to report latency: Rosetta"):
        time_interleaved([calls], TimingPolicy(0, 0, 1, 0, 60))
    assert calls.calls == 0  # refused before the first call


def test_cudnn_benchmark_is_restored():
    import torch

    from costlab.bench.timing import cudnn_benchmark

    before = torch.backends.cudnn.benchmark
    with cudnn_benchmark("cuda"):
        assert torch.backends.cudnn.benchmark is True
    assert torch.backends.cudnn.benchmark == before
    with cudnn_benchmark("cpu"):
        assert torch.backends.cudnn.benchmark == before  # the CPU leaves it alone


def test_rounds_take_30_timed_calls_each_a_single_run_50():
    from costlab.bench.timing import ROUND_MIN_ITERS
    from costlab.cli import TimingOptions

    assert ROUND_MIN_ITERS == 30
    assert TimingPolicy.in_rounds() == TimingPolicy(min_iters=30)
    assert TimingPolicy.default(5) == TimingPolicy.in_rounds()
    assert TimingPolicy.default(1) == TimingPolicy()
    assert TimingOptions().policy().min_iters == 30  # default: 5 rounds
    assert TimingOptions(rounds=1).policy().min_iters == 50
    assert TimingOptions(quick=True).policy() == TimingPolicy.quick()
    assert TimingOptions().policy(min_iters=80).min_iters == 80  # --iters wins
    assert TimingOptions(min_time=2.0).policy().min_s == 2.0
