"""ModuleTracker: the stack at each op, repeated calls, foreign modules, and cleanup."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.modules import module as torch_module

from costlab.core.module_tracker import ModuleTracker


def _global_hooks() -> tuple[int, int]:
    return (len(torch_module._global_forward_pre_hooks),
            len(torch_module._global_forward_hooks))


class Probe(nn.Module):
    """Records the tracker's stack when it runs: stands in for an op."""

    def __init__(self, seen: list, tracker_box: list):
        super().__init__()
        self.seen = seen
        self.tracker_box = tracker_box

    def forward(self, x):
        self.seen.append(list(self.tracker_box[0].stack))
        return x


class Block(nn.Module):
    def __init__(self, seen, box):
        super().__init__()
        self.probe = Probe(seen, box)
        self.inner = nn.Sequential(Probe(seen, box))

    def forward(self, x):
        self.probe.seen.append(list(self.probe.tracker_box[0].stack))  # before any child
        return self.inner(self.probe(x))


class Net(nn.Module):
    def __init__(self, seen, box):
        super().__init__()
        self.block = Block(seen, box)
        self.after = Probe(seen, box)

    def forward(self, x):
        x = self.block(x)
        x = self.block(x)  # the same module twice
        return self.after(x)


def _net_and_tracker(**kwargs):
    seen: list = []
    box: list = []
    net = Net(seen, box)
    paths = {m: p for p, m in net.named_modules()}
    tracker = ModuleTracker(paths, **kwargs)
    box.append(tracker)
    return net, tracker, seen


def test_nested_modules_give_the_stack_at_each_op():
    net, tracker, seen = _net_and_tracker()
    with tracker:
        net(torch.zeros(1))
    once = [["", "block"], ["", "block", "block.probe"],
            ["", "block", "block.inner", "block.inner.0"]]
    assert seen == once + once + [["", "after"]]
    assert tracker.stack == []


def test_callbacks_pair_up_for_a_module_called_twice():
    events = []
    net, tracker, _ = _net_and_tracker(on_enter=lambda p: events.append(("enter", p)),
                                       on_exit=lambda p: events.append(("exit", p)))
    with tracker:
        net(torch.zeros(1))
    block = [("enter", "block"), ("enter", "block.probe"), ("exit", "block.probe"),
             ("enter", "block.inner"), ("enter", "block.inner.0"), ("exit", "block.inner.0"),
             ("exit", "block.inner"), ("exit", "block")]
    assert events == [("enter", ""), *block, *block, ("enter", "after"), ("exit", "after"),
                      ("exit", "")]


def test_modules_outside_paths_are_ignored():
    seen: list = []
    box: list = []
    tracked = Probe(seen, box)
    stranger = nn.Sequential(Probe(seen, box), tracked)
    tracker = ModuleTracker({tracked: "tracked"})
    box.append(tracker)
    with tracker:
        stranger(torch.zeros(1))
        nn.ReLU()(torch.zeros(1))
    assert seen == [[], ["tracked"]]


def test_nothing_is_tracked_outside_the_context():
    net, tracker, seen = _net_and_tracker()
    before = _global_hooks()
    with tracker:
        assert _global_hooks() == (before[0] + 1, before[1] + 1)
    assert _global_hooks() == before
    net(torch.zeros(1))
    assert all(stack == [] for stack in seen)


class Fails(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Identity(), nn.Flatten(0))

    def forward(self, x):
        return self.inner(x) @ torch.zeros(3)  # fails in the root, inside inner's parent


def test_hooks_removed_after_an_exception():
    model = Fails()
    before = _global_hooks()
    tracker = ModuleTracker({m: p for p, m in model.named_modules()})
    with pytest.raises(RuntimeError):
        with tracker:
            model(torch.zeros(2, 2))
    assert _global_hooks() == before
    assert tracker.stack == [""]  # where the forward failed


def test_open_paths_are_exited_innermost_first_after_an_exception():
    model = nn.Sequential(nn.Identity(), Fails())
    exits = []
    tracker = ModuleTracker({m: p for p, m in model.named_modules()}, on_exit=exits.append)
    with pytest.raises(RuntimeError):
        with tracker:
            model(torch.zeros(2, 2))
    assert exits == ["0", "1.inner.0", "1.inner.1", "1.inner", "1", ""]
    assert tracker.stack == ["", "1"]


def test_a_shared_stack_is_used_not_copied():
    stack = ["outer"]
    model = nn.Identity()
    with ModuleTracker({model: "id"}, stack=stack) as tracker:
        assert tracker.stack is stack
        model(torch.zeros(1))
    assert stack == ["outer"]
    # after a failure only the paths pushed inside this context are exited
    model = Fails()
    exits = []
    with pytest.raises(RuntimeError):
        with ModuleTracker({model: "fails"}, on_exit=exits.append, stack=stack):
            model(torch.zeros(2, 2))
    assert exits == ["fails"] and stack == ["outer", "fails"]


def test_a_tracker_cannot_be_entered_twice_at_once():
    tracker = ModuleTracker({})
    before = _global_hooks()
    with tracker:
        with pytest.raises(RuntimeError, match="already active"):
            tracker.__enter__()
    assert _global_hooks() == before
