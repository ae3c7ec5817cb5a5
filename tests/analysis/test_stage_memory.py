"""Activation memory per spatial resolution, checked by hand on small traces."""

from __future__ import annotations

import pytest
from torch import nn

from costlab.core.categories import OpCategory
import costlab
from costlab.analysis import formulas
from costlab.core.records import Counts, OpRecord
from costlab.analysis.stage_memory import live_bytes_per_op, stage_memory


def record(index, op, category, inputs, output, sources, module="m"):
    return OpRecord(index=index, module=module, module_type="", op=op, category=category,
                    input_shapes=tuple(inputs), output_shapes=(output,), counts=Counts(),
                    params=0, sources=tuple(sources))


def residual_trace():
    """x(4ch, 8x8) -> conv -> bn -> relu -> conv -> add(x) -> mean -> linear."""
    x, y = (1, 4, 8, 8), (1, 4, 8, 8)
    return [
        record(0, "convolution", OpCategory.CONV, [x], y, [-1]),
        record(1, "native_batch_norm", OpCategory.NORM, [y], y, [0]),
        record(2, "relu", OpCategory.ACTIVATION, [y], y, [1]),
        record(3, "convolution", OpCategory.CONV, [y], y, [2]),
        record(4, "add", OpCategory.ELEMENTWISE, [y, x], y, [3, -1]),
        record(5, "mean", OpCategory.REDUCTION, [y], (1, 4, 1, 1), [4]),
        record(6, "addmm", OpCategory.MATMUL, [(1, 4)], (1, 10), [5]),
    ]


def test_live_bytes_follow_the_dataflow_with_norms_and_activations_in_place():
    tensor = 4 * 8 * 8 * 2  # 512 bytes at 16 bits
    # the input x stays alive until the add reads it; bn and relu overwrite the conv output
    assert live_bytes_per_op(residual_trace()) == [
        2 * tensor,  # conv: x and its output
        2 * tensor,  # bn in place
        2 * tensor,  # relu in place
        3 * tensor,  # conv: x, its input, its output
        3 * tensor,  # add: x, the conv output, the sum
        tensor + 8,  # mean: the sum and 4 values
        8 + 20,  # linear: 4 values in, 10 out
    ]


def test_a_norm_whose_input_has_another_reader_is_not_in_place():
    x = (1, 2, 4, 4)
    trace = [record(0, "convolution", OpCategory.CONV, [x], x, [-1]),
             record(1, "native_batch_norm", OpCategory.NORM, [x], x, [0]),
             record(2, "add", OpCategory.ELEMENTWISE, [x, x], x, [1, 0])]
    t = 2 * 16 * 2
    # in place it would be [2t, t, 2t]: the conv output must survive for the add
    assert live_bytes_per_op(trace) == [2 * t, 2 * t, 3 * t]


def test_stages_take_a_stride_two_op_at_the_resolution_it_reads():
    x, y = (1, 3, 16, 16), (1, 8, 8, 8)
    trace = [record(0, "convolution", OpCategory.CONV, [x], y, [-1]),
             record(1, "relu", OpCategory.ACTIVATION, [y], y, [0]),
             record(2, "mean", OpCategory.REDUCTION, [y], (1, 8, 1, 1), [1])]
    stages = stage_memory(trace, itemsize=2)
    x_bytes, y_bytes = 3 * 256 * 2, 8 * 64 * 2
    # the mean reads 8x8 and writes 1x1: it belongs to 8x8, so there is no 1x1 stage
    assert [(s.label, s.max_channels, s.largest_tensor_bytes, s.live_bytes, s.ops)
            for s in stages] == [
        ("16x16", 3, x_bytes, x_bytes + y_bytes, 1),
        ("8x8", 8, y_bytes, y_bytes + 8 * 2, 2)]
    assert stages[0].live_at == "m (convolution)"


def test_records_must_be_a_whole_trace():
    with pytest.raises(ValueError, match="whole trace"):
        live_bytes_per_op(residual_trace()[1:])


def test_mobilenet_v2_at_1x1_is_its_classifier():
    stages = stage_memory(costlab.analyze("mobilenet_v2").layers)
    last = stages[-1]
    assert (last.label, last.max_channels, last.largest_tensor_bytes, last.live_bytes) == \
        ("1x1", 1280, 2560, (1280 + 1000) * 2)
    assert last.live_at == "classifier.1 (addmm)"
    assert [s.label for s in stages] == ["224x224", "112x112", "56x56", "28x28", "14x14",
                                         "7x7", "1x1"]


def test_live_bytes_match_the_tracer_peak_on_a_chain_without_in_place_ops():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1))
    cost = costlab.analyze(model, (1, 3, 6, 6), dtype="float16")
    assert max(live_bytes_per_op(cost.layers)) == cost.total.peak_activation_bytes
