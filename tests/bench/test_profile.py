"""costlab profile: category mapping, attribution of self times, hooks, report, CLI.

No timing assertions: times are only checked to be attributed (non-zero where ops ran,
shares summing to 1); the attribution itself is checked with exact numbers on synthetic
profiler events.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from costlab.analysis import formulas
from costlab.core.records import Counts, OpRecord
from costlab.api import analyze
from costlab.bench.profile import (FIGURE2_GROUP, PROFILE_CATEGORIES, ROOT,
                                   SCOPE_PREFIX, Attribution, ProfileReport, ProfileRow,
                                   attribute_events, middle_mean, module_scopes)
from costlab.workflows.profile import profile_model
from costlab.bench.stats import summarize
from costlab.bench.timing import TimingPolicy
from costlab.report.profile import profile_document, profile_frame
from costlab.report.renderers import render
from tests.cli_helpers import fails, invoke

TINY_POLICY = TimingPolicy(warmup_iters=1, warmup_s=0, min_iters=3, min_s=0, max_s=5)
SHAPE = (1, 3, 8, 8)


class Tiny(nn.Module):
    """One op of every category: conv, depthwise conv, BN + ReLU, a channel shuffle,
    max-pooling, linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.dw(self.relu(self.bn(self.conv(x))))
        n, c, h, w = x.shape  # channel shuffle, 2 groups
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.fc(self.pool(x).flatten(1))


def _static_group(category: str) -> str:
    # written out here rather than read from FIGURE2_GROUP, so the test can disagree
    return {"pointwise conv": "conv", "grouped conv": "conv", "norm": "element-wise",
            "activation": "element-wise", "reduction": "pooling"}.get(category, category)


@pytest.fixture(scope="module")
def tiny_report() -> ProfileReport:
    torch.manual_seed(0)
    return profile_model(Tiny(), {"input_shape": SHAPE}, policy=TINY_POLICY, threads=1)


@pytest.fixture(scope="module")
def tiny_cost():
    torch.manual_seed(0)
    return analyze(Tiny(), SHAPE, device="cpu")


# ------------------------------------------------------------------- categories

def test_every_analyzer_category_has_a_figure2_group():
    assert set(FIGURE2_GROUP) == set(formulas.CATEGORIES)
    assert set(FIGURE2_GROUP.values()) == set(PROFILE_CATEGORIES)
    assert FIGURE2_GROUP["pointwise conv"] == "conv"
    assert FIGURE2_GROUP["grouped conv"] == "conv"
    assert FIGURE2_GROUP["norm"] == "element-wise"


def test_tiny_model_has_every_category(tiny_report):
    rows = {r.name: r for r in tiny_report.categories}
    assert [r.name for r in tiny_report.categories] == list(PROFILE_CATEGORIES)
    # static ops per category: conv; depthwise; BN + ReLU; the shuffle's contiguous copy;
    # max-pool; linear (the conv bias is part of the conv)
    assert {name: r.ops for name, r in rows.items()} == {
        "conv": 1, "depthwise conv": 1, "linear/matmul": 1, "element-wise": 2,
        "data movement": 1, "pooling": 1, "other": 0}
    for name in ("conv", "depthwise conv", "linear/matmul", "element-wise", "data movement",
                 "pooling"):
        assert rows[name].time_ms > 0, name
    assert rows["other"].time_ms == 0
    assert tiny_report.matched_records == 7  # every static op found in every forward
    assert tiny_report.unmatched_ms == 0


def test_depthwise_is_the_analyzers_groups_equal_channels(tiny_cost):
    convs = [r for r in tiny_cost.layers if r.op == "convolution"]
    assert [(r.module, r.attrs["groups"], FIGURE2_GROUP[r.category]) for r in convs] == [
        ("conv", 1, "conv"), ("dw", 8, "depthwise conv")]


def test_shares_sum_to_one_and_static_shares_are_exact(tiny_report, tiny_cost):
    for rows in (tiny_report.categories,
                 [r for r in tiny_report.modules if r.depth <= 1]):
        assert sum(r.time_share for r in rows) == pytest.approx(1, abs=1e-12)
        assert sum(r.flops_share for r in rows) == pytest.approx(1, abs=1e-12)
        assert sum(r.bytes_share for r in rows) == pytest.approx(1, abs=1e-12)
    total = tiny_cost.total
    assert tiny_report.flops == total.flops
    assert tiny_report.memory_access_bytes == total.memory_access_bytes
    for row in tiny_report.categories:
        records = [r for r in tiny_cost.layers if _static_group(r.category) == row.name]
        flops = sum(r.flops for r in records)
        nbytes = sum(r.memory_access_bytes for r in records)
        assert (row.flops, row.memory_access_bytes) == (flops, nbytes)
        assert row.flops_share == flops / total.flops
        assert row.bytes_share == nbytes / total.memory_access_bytes


def test_module_rows_match_the_static_modules(tiny_report, tiny_cost):
    rows = {r.name: r for r in tiny_report.modules}
    assert list(rows) == [ROOT, "conv", "bn", "relu", "dw", "pool", "fc"]
    for m in tiny_cost.modules(1):
        assert (rows[m.path].flops, rows[m.path].memory_access_bytes, rows[m.path].ops) == \
            (m.flops, m.memory_access_bytes, m.ops)
    # the shuffle runs in the model's own forward: its copy is the root's one static op
    assert rows[ROOT].ops == 1 and rows[ROOT].time_ms > 0
    assert rows["pool"].time_share > 0


def test_report_frames_and_json(tiny_report):
    frames = tiny_report.to_dataframes()
    assert list(frames["categories"]["category"]) == list(PROFILE_CATEGORIES)
    assert list(frames["modules"]["module"])[0] == ROOT
    frame = profile_frame(tiny_report)
    assert list(frame["kind"]).count("category") == len(PROFILE_CATEGORIES)
    payload = json.loads(render(profile_document(tiny_report), "json"))
    assert payload["kind"] == "profile"
    assert payload["coverage"] == tiny_report.coverage
    assert payload["measured"]["n"] == tiny_report.measured.n >= 3
    assert [r["name"] for r in payload["categories"]] == list(PROFILE_CATEGORIES)


# ------------------------------------------------------------------------ hooks

def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


def _global_hook_count() -> int:
    from torch.nn.modules import module

    return len(module._global_forward_pre_hooks) + len(module._global_forward_hooks)


def test_hooks_removed_on_exit():
    model = Tiny()
    before = _global_hook_count()
    with module_scopes(model) as scopes:
        # two process-wide hooks, none on the model's own modules
        assert _global_hook_count() == before + 2 and _hook_count(model) == 0
        assert scopes == {SCOPE_PREFIX + (path or ROOT): path
                          for path, _ in model.named_modules()}
        assert scopes[SCOPE_PREFIX + ROOT] == "" and scopes[SCOPE_PREFIX + "dw"] == "dw"
        model(torch.zeros(SHAPE))
    assert _global_hook_count() == before and _hook_count(model) == 0


class Boom(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.ReLU(), nn.Flatten(0))

    def forward(self, x):
        return self.inner(x) @ torch.zeros(3)  # fails inside the root, after inner ran


def test_hooks_removed_and_scopes_closed_after_an_exception():
    model = Boom()
    before = _global_hook_count()
    with torch.profiler.profile() as prof:
        with pytest.raises(RuntimeError):
            with module_scopes(model):
                model(torch.zeros(2, 2))
    assert _global_hook_count() == before and _hook_count(model) == 0
    scopes = [e for e in prof.events() if e.name.startswith(SCOPE_PREFIX)]
    # the root's scope was closed by the context manager: it encloses inner's
    assert {e.name for e in scopes} == {SCOPE_PREFIX + p for p in (ROOT, "inner", "inner.0",
                                                                   "inner.1")}
    root = next(e for e in scopes if e.name == SCOPE_PREFIX + ROOT)
    assert all(e.cpu_parent is not None for e in scopes if e is not root)


# ------------------------------------------------------------ synthetic events

def _event(name: str, self_us: float, start: int, children=()):
    event = SimpleNamespace(name=name, self_cpu_time_total=self_us,
                            self_device_time_total=self_us / 2,
                            time_range=SimpleNamespace(start=start),
                            cpu_children=list(children), cpu_parent=None)
    for child in event.cpu_children:
        child.cpu_parent = event
    return event


def _record(module: str, op: str, category: str) -> OpRecord:
    return OpRecord(index=0, module=module, module_type="", op=op, category=category,
                    input_shapes=(), output_shapes=(), counts=Counts(), params=0)


def _forward(start: int, add_us: float = 4.0):
    conv = _event("aten::conv2d", 1, start + 2, [
        _event("aten::convolution", 2, start + 3, [
            _event("aten::_convolution", 3, start + 4, [
                _event("aten::mkldnn_convolution", 10, start + 5)])])])
    scope = _event(SCOPE_PREFIX + "conv", 100, start + 1, [conv])
    view = _event("aten::flatten", 0.25, start + 6, [_event("aten::view", 0.25, start + 7)])
    add = _event("aten::add", add_us, start + 8)
    mystery = _event("aten::mystery", 8, start + 9, [_event("aten::copy_", 1, start + 10)])
    return _event(SCOPE_PREFIX + ROOT, 1000, start, [add, view, scope, mystery])


SYNTHETIC_COST = SimpleNamespace(layers=[
    _record("conv", "convolution", "depthwise conv"), _record("", "add", "element-wise"),
    _record("", "copy_", "data movement")])
SYNTHETIC_SCOPES = {SCOPE_PREFIX + ROOT: "", SCOPE_PREFIX + "conv": "conv"}


def test_attribution_of_synthetic_events_is_exact():
    # on CUDA the root scope also shows as an annotation on the GPU timeline: not a forward
    gpu_annotation = _event(SCOPE_PREFIX + ROOT, 0, 0)
    gpu_annotation.device_type = torch.autograd.DeviceType.CUDA
    events = [_forward(0), gpu_annotation]
    forwards = attribute_events(events, SYNTHETIC_COST, SYNTHETIC_SCOPES)
    assert len(forwards) == 1
    a = forwards[0]
    # conv2d's composite wrappers go with the matched convolution below them; the view
    # chain is free to the analyzer: data movement; the unknown op's copy_ child matches
    # the root's next record, so the wrapper's self time follows it. Scopes' own time
    # (hook overhead) is not an aten op's.
    assert dict(a.by_category) == {"depthwise conv": 16.0, "element-wise": 4.0,
                                   "data movement": 9.5}
    assert dict(a.by_module) == {"conv": 16.0, "": 13.5}
    assert a.matched_records == 3 and a.unmatched_us == 0
    cuda = attribute_events(events, SYNTHETIC_COST, SYNTHETIC_SCOPES, device="cuda")[0]
    assert cuda.total_us == 29.5 / 2


def test_unmatched_ops_fall_back_to_the_analyzers_category_for_their_name():
    cost = SimpleNamespace(layers=[_record("conv", "convolution", "conv"),
                                   _record("elsewhere", "add", "element-wise")])
    a = attribute_events([_forward(0)], cost, SYNTHETIC_SCOPES)[0]
    # the root's add has no record in the root: categorized by name, and counted unmatched;
    # the unknown op with nothing to match: other
    assert dict(a.by_category) == {"conv": 16.0, "element-wise": 4.0, "data movement": 0.5,
                                   "other": 9.0}
    assert a.unmatched_us == 13.0 and a.matched_records == 1


def test_one_attribution_per_forward_and_the_middle_mean():
    events = [_forward(0, 4.0), _forward(100, 8.0)]
    forwards = attribute_events(events, SYNTHETIC_COST, SYNTHETIC_SCOPES)
    assert [f.by_category["element-wise"] for f in forwards] == [4.0, 8.0]
    assert middle_mean(forwards).by_category["element-wise"] == 6.0  # fewer than 4: all
    many = [Attribution(by_category={"conv": us}, by_module={"": us}, matched_records=m)
            for us, m in ((1.0, 5), (10.0, 5), (12.0, 4), (1000.0, 5))]
    mean = middle_mean(many)  # the middle half by total: 10 and 12
    assert dict(mean.by_category) == {"conv": 11.0} and mean.forwards == 2
    assert mean.matched_records == 4


# ------------------------------------------------------------------- coverage

def _report(profiled_ms: float, median_ms: float) -> ProfileReport:
    row = ProfileRow("conv", "", 0, profiled_ms, 1.0, 10, 1.0, 10, 1.0, 1)
    stats = summarize([int(median_ms * 1e6)] * 3)
    return ProfileReport("m", "", "cpu", 1, [(1, 3)], 3, 1, [row], [], profiled_ms, stats,
                         0.0, 1, 10, 10)


def test_coverage_and_its_warning():
    assert _report(9.5, 10).coverage == 0.95 and _report(9.5, 10).warnings() == []
    low = _report(8.5, 10)
    assert not low.coverage_ok and low.coverage == 0.85
    assert low.warnings() == [
        "self times add up to 85.0% of the measured forward (8.50 of 10.00 ms), outside "
        "100 +/- 10%: time outside aten ops (Python, launch gaps) is not in the breakdown"]
    high = _report(11.5, 10)
    assert "115.0%" in high.warnings()[0] and "profiler overhead" in high.warnings()[0]


# ------------------------------------------------------------------------ CUDA

@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_profile_matches_every_op():
    report = profile_model(Tiny(), {"input_shape": SHAPE}, device="cuda", policy=TINY_POLICY)
    assert report.device == "cuda" and report.matched_records == 7
    assert sum(r.time_share for r in report.categories) == pytest.approx(1, abs=1e-12)


# ------------------------------------------------------------------------- CLI

@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cli_cuda_without_cuda_is_one_line():
    assert "no CUDA device" in fails("profile", "block:residual", "--device", "cuda", code=2)


@pytest.mark.parametrize("args, words", [
    (["nosuchmodel"], "unknown model"),
    (["block:residual", "--device", "tpu"], "unknown device 'tpu'"),
    (["block:residual", "--iters", "0"], "--iters must be >= 1"),
    (["block:residual", "--depth", "0"], "--depth must be >= 1"),
    (["block:residual", "--threads", "0"], "--threads must be >= 1"),
    (["block:residual", "-o", "/nonexistent/dir/out.csv"], "does not exist"),
    (["block:residual", "-f", "xml"], "unknown format"),
])
def test_cli_bad_input_is_one_line(args, words):
    assert words in fails("profile", *args, code=2)


def test_cli_refuses_under_emulation(monkeypatch):
    from costlab.bench import emulation

    monkeypatch.setattr(emulation, "running_under_emulation", lambda: "qemu-aarch64 runs this")
    line = fails("profile", "block:residual", code=1)
    assert "refusing to report latency: qemu-aarch64 runs this" in line


def test_cli_writes_csv(tmp_path):
    out = tmp_path / "profile.csv"
    result = invoke("profile", "block:depthwise_separable", "--quick", "--iters", "2",
                    "--threads", "1", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    import pandas as pd

    frame = pd.read_csv(out)
    categories = frame[frame["kind"] == "category"]
    assert list(categories["name"]) == list(PROFILE_CATEGORIES)
    assert categories["time_share"].sum() == pytest.approx(1)
    assert dict(zip(categories["name"], categories["ops"]))["depthwise conv"] == 1
    assert "USDT" not in result.stderr  # kineto's log lines are silenced
