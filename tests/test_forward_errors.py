"""A forward that raises is one line naming the model, the module and the input shapes,
whether analyze, bench or compare ran it (build.forward_errors)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import costlab
from costlab.build.forward_errors import failing_module, forward_error, named_forward_errors
from costlab.cli import app
from costlab.core.errors import ForwardError

MODELS = '''
from torch import nn


class Fails(nn.Module):
    def forward(self, x):
        raise ValueError("the user's bug")


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), Fails())

    def forward(self, x):
        return self.body(x)


class Fine(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x)


class FailsWhenRun(nn.Module):
    """Traces on meta, raises when it really runs (as bench runs it)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.tail = Fails()

    def forward(self, x):
        y = self.fc(x)
        return y if y.is_meta else self.tail(y)
'''

MESSAGE = ("forward failed in module 'body.1' (Fails) with inputs (3, 4): ValueError: "
           "the user's bug")


@pytest.fixture(scope="module")
def models_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "failing_models.py"
    path.write_text(MODELS)
    return str(path)


def one_line(result):
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    return result.stderr[len("error: "):].strip()


def test_analyze_says_where_and_with_what(models_file):
    with pytest.raises(ForwardError) as info:
        costlab.analyze(f"{models_file}:Broken", "3,4")
    assert str(info.value) == MESSAGE


def test_bench_names_the_model_the_module_and_the_shapes(models_file):
    result = CliRunner().invoke(app, ["bench", f"{models_file}:Broken", "-i", "3,4"])
    assert one_line(result) == f"{models_file}:Broken: {MESSAGE}"


def test_bench_of_several_models_names_the_one_that_failed(models_file):
    from costlab.bench.runner import bench_models

    with pytest.raises(ForwardError) as info:
        bench_models(["mobilenet_v1", f"{models_file}:FailsWhenRun"],
                     {"input_shape": "1,3,32,32"}, memory=False)
    # mobilenet_v1 runs at 1x3x32x32 (its own input); FailsWhenRun fails on its Linear
    assert str(info.value).startswith(f"{models_file}:FailsWhenRun: forward failed in "
                                      "module 'fc' (Linear) with inputs (1, 3, 32, 32): ")


def test_compare_names_the_model_that_failed(models_file):
    result = CliRunner().invoke(app, ["compare", "resnet18", f"{models_file}:Broken",
                                      "-i", "3,4"])
    assert one_line(result).startswith("resnet18: forward failed in module 'stem.conv.conv' "
                                       "(Conv2d) with inputs (3, 4): RuntimeError: ")


def test_compare_latency_names_the_model_that_failed_when_run(models_file):
    # both trace on meta; the second raises when timed
    result = CliRunner().invoke(app, ["compare", f"{models_file}:Fine",
                                      f"{models_file}:FailsWhenRun", "-i", "1,4", "--latency",
                                      "--quick"])
    assert one_line(result) == (f"{models_file}:FailsWhenRun: forward failed in module "
                                "'tail' (Fails) with inputs (1, 4): ValueError: the user's bug")


def test_failing_module_is_read_from_the_traceback():
    class Inner(nn.Module):
        def forward(self, x):
            return x @ torch.ones(3, 3)

    model = nn.Sequential(nn.Identity(), nn.Sequential(Inner()))
    with pytest.raises(RuntimeError) as info:
        model(torch.ones(2, 4))
    assert failing_module(model, info.value) == ("1.0", "Inner")
    assert failing_module(nn.Linear(1, 1), info.value) is None  # not that model's
    error = forward_error("1.0", "Inner", (torch.ones(2, 4),), info.value, model="m")
    assert str(error).startswith("m: forward failed in module '1.0' (Inner) with inputs "
                                 "(2, 4): RuntimeError: ")


def test_other_errors_pass_unchanged():
    with pytest.raises(KeyError):
        with named_forward_errors([]):
            raise KeyError("not a forward")
