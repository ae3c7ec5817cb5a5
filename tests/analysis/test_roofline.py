"""The roofline estimate on a tiny model and a made-up device, checked by hand."""

from __future__ import annotations

import pytest
from torch import nn

import costlab
from costlab.core.records import Counts, CostTotals, ModelCost, ModelInfo, OpRecord
from costlab.analysis.roofline import estimate
from costlab.core.errors import UsageError
from costlab.hardware import HardwareProfile

# 1 GFLOP/s, 1 GB/s, 5 us per op: times in microseconds are FLOPs / 1000 and bytes / 1000
DEVICE = HardwareProfile("toy", "a made-up device", "cpu", {"float32": 1.0}, 1.0, 5e-6,
                         "made up for the test")


@pytest.fixture(scope="module")
def tiny_cost():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                          nn.Linear(512, 10))
    return costlab.analyze(model, input_shape=(1, 3, 8, 8), name="tiny")


def test_each_layer_by_hand(tiny_cost):
    result = estimate(tiny_cost, DEVICE)
    conv, relu, linear = result.layers  # flatten is a view: not recorded, costs nothing
    # conv 3->8, 3x3 on 8x8: 13,824 MACs = 27,648 FLOPs; reads 3*64*4 + 8*3*9*4 = 1,632 B,
    # writes 8*64*4 = 2,048 B: 27.648 us of arithmetic beats 3.68 us of traffic
    assert (conv.flops, conv.bytes) == (27_648, 3_680)
    assert conv.compute_s == pytest.approx(27.648e-6) and conv.memory_s == pytest.approx(3.68e-6)
    assert conv.bound == "compute" and conv.time_s == pytest.approx(32.648e-6)
    assert conv.intensity == pytest.approx(27_648 / 3_680)
    # ReLU: 512 FLOPs, 4,096 B: 4.096 us of traffic, less than the 5 us launch
    assert (relu.flops, relu.bytes, relu.bound) == (512, 4_096, "overhead")
    assert relu.time_s == pytest.approx(9.096e-6)
    # addmm 512->10: 10,240 + 10 (bias) FLOPs; reads 2,048 + 20,480 + 40 B, writes 40 B
    assert (linear.flops, linear.bytes, linear.bound) == (10_250, 22_608, "memory")
    assert linear.time_s == pytest.approx(27.608e-6)
    assert result.time_s == pytest.approx(32.648e-6 + 9.096e-6 + 27.608e-6)
    assert result.flops == 38_410 and result.bytes == 30_384
    assert result.count_by_bound() == {"compute": 1, "memory": 1, "overhead": 1, "free": 0}
    assert result.ridge_point == pytest.approx(1.0)


def test_frame_and_summary(tiny_cost):
    result = estimate(tiny_cost, DEVICE)
    frame = result.to_dataframe()
    assert list(frame["bound"]) == ["compute", "overhead", "memory"]
    assert frame["time_ms"].sum() == pytest.approx(1e3 * result.time_s)
    assert frame["share_time"].sum() == pytest.approx(1.0)
    assert list(frame["overhead_ms"]) == pytest.approx([5e-3] * 3)
    assert result.summary().startswith("tiny: roofline estimate 0.069 ms on toy (float32)")


def test_faster_device_moves_the_bound(tiny_cost):
    # 1000x the arithmetic: the conv becomes memory-bound (its intensity 7.5 < ridge 1000)
    fast = HardwareProfile("fast", "", "cpu", {"float32": 1000.0}, 1.0, 0.0, "")
    conv = estimate(tiny_cost, fast).layers[0]
    assert conv.bound == "memory" and conv.time_s == pytest.approx(3.68e-6)


def test_zero_work_record_is_free():
    info = ModelInfo(name="stub", knobs={}, input_shapes=((1,),), device="meta", dtype=None)
    records = [OpRecord(index=0, module="", module_type="", op="fill", category="other",
                        input_shapes=(), output_shapes=(), counts=Counts(), params=0)]
    totals = CostTotals(counts=Counts(), params=0, buffers=0, peak_activation_bytes=0, ops=1,
                        partial=False)
    result = estimate(ModelCost(info=info, layers=records, total=totals, uncounted=[]), DEVICE)
    assert result.layers[0].bound == "free" and result.time_s == 0.0
    assert result.layers[0].intensity is None


def test_dtype_without_a_peak_is_a_usage_error(tiny_cost):
    with pytest.raises(UsageError, match="no peak for 'float16'; it has float32"):
        estimate(tiny_cost, DEVICE, "float16")
