"""Users' own models: files, modules, wrappers, exported programs, and what goes wrong.

Every model file here is written by the test itself.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from torch import nn
from typer.testing import CliRunner

import costlab
from costlab.cli import app
from costlab.core.errors import CostlabError, ForwardError, UsageError

MODELS = '''
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self, num_classes=10, width=8):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def make_tiny(width=8, **kw):
    return Tiny(width=width, **kw)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(5, 3)

    def forward(self, x, y, scale=None):
        out = self.a(x) + self.b(y)
        return out * scale if scale is not None else out


class TiedLM(nn.Module):
    """Token ids in, logits out, the output layer tied to the embedding."""

    def __init__(self, vocab=100, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.block = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        h = self.embed(ids)
        for _ in range(3):  # one module called three times
            h = self.block(h)
        return self.head(h)


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), Fails())

    def forward(self, x):
        return self.body(x)


class Fails(nn.Module):
    def forward(self, x):
        raise ValueError("the user's bug")


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.abs().sum().item() > 0:  # needs data: cannot run on meta
            return self.fc(x)
        return x


class LoadsInConstructor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = float(torch.ones(1).item())  # needs data: cannot build on meta

    def forward(self, x):
        return self.fc(x) * self.scale


@torch.library.custom_op("costlab_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


@mystery.register_fake
def _(x):
    return torch.empty_like(x)


class Mystery(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.odd = Odd()

    def forward(self, x):
        return self.odd(self.fc(x))


class Odd(nn.Module):
    def forward(self, x):
        return mystery(mystery(x))


instance = Tiny()
parallel = nn.DataParallel(Tiny())
not_a_model = 42
'''


@pytest.fixture(scope="module")
def models_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "user_models.py"
    path.write_text(MODELS)
    return str(path)


def tiny_macs(batch=1, hw=8, width=8, classes=10):
    return batch * hw * hw * width * 3 * 9 + batch * width * classes


def run_cli(*args):
    return CliRunner().invoke(app, list(args))


def test_class_with_kwargs(models_file):
    cost = costlab.analyze(f"{models_file}:Tiny", "1,3,8,8", model_kwargs={"num_classes": 5})
    assert cost.total.macs == tiny_macs(classes=5)
    assert cost.info.device == "meta" and cost.info.notes == []
    assert [r.module for r in cost.layers] == ["conv", "", "fc"]


def test_factory_function_through_the_cli(models_file):
    result = run_cli("analyze", f"{models_file}:make_tiny", "--input", "2,3,8,8", "--kwargs",
                     '{"width": 4}', "-f", "json", "--no-layers")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["totals"]["macs"] == tiny_macs(batch=2, width=4)
    assert payload["model"]["name"].endswith("user_models.py:make_tiny")


def test_instance_and_wrappers_are_unwrapped(models_file):
    plain = costlab.analyze(f"{models_file}:instance", "1,3,8,8")
    wrapped = costlab.analyze(f"{models_file}:parallel", "1,3,8,8")
    assert plain.total.macs == wrapped.total.macs == tiny_macs()
    assert [r.module for r in wrapped.layers] == ["conv", "", "fc"]  # no "module." prefix
    compiled = costlab.analyze(torch.compile(nn.Linear(4, 2)), (1, 4))
    assert compiled.total.macs == 8 and compiled.layers[0].module == ""


def test_two_positional_inputs_and_a_keyword_input(models_file):
    cost = costlab.analyze(f"{models_file}:TwoInputs", ["2,4", "2,5"],
                           input_kwargs={"scale": "2,3"})
    assert cost.total.macs == 2 * 4 * 3 + 2 * 5 * 3
    assert cost.info.input_shapes == ((2, 4), (2, 5), (2, 3))
    assert [r.op for r in cost.layers] == ["addmm", "addmm", "add", "mul"]
    result = run_cli("analyze", f"{models_file}:TwoInputs", "-i", "2,4", "-i", "2,5",
                     "--kwargs-inputs", '{"scale": "2,3"}', "-f", "csv")
    assert result.exit_code == 0, result.stderr


def test_token_inputs_tied_weights_and_repeated_module(models_file):
    cost = costlab.analyze(f"{models_file}:TiedLM", "2,7:int64")
    tokens = 2 * 7
    assert cost.total.macs == 3 * tokens * 16 * 16 + tokens * 16 * 100
    assert cost.total.params == 100 * 16 + 16 * 16 + 16  # the tied weight once
    blocks = [r for r in cost.layers if r.module == "block"]
    assert len(blocks) == 3 and [r.params for r in blocks] == [16 * 16 + 16, 0, 0]
    head = next(r for r in cost.layers if r.module == "head")
    assert head.params == 0  # already read by the embedding


def test_forward_that_raises_names_the_module(models_file):
    with pytest.raises(ForwardError, match=r"module 'body\.1' \(Fails\) with inputs \(3, 4\): "
                                           r"ValueError: the user's bug"):
        costlab.analyze(f"{models_file}:Broken", "3,4", device="cpu")
    result = run_cli("analyze", f"{models_file}:Broken", "-i", "3,4")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "body.1" in result.stderr


def test_meta_fallbacks_are_noted(models_file):
    forward = costlab.analyze(f"{models_file}:DataDependent", "1,4")
    assert forward.info.device == "cpu" and forward.total.macs == 16
    assert forward.info.notes == ["traced on cpu: the forward pass cannot run on meta"]
    built = costlab.analyze(f"{models_file}:LoadsInConstructor", "1,4")
    assert built.info.device == "cpu" and built.total.macs == 16
    assert built.info.notes[0].startswith("built on cpu: the constructor failed on meta")
    result = run_cli("analyze", f"{models_file}:DataDependent", "-i", "1,4", "--no-layers")
    assert "Note: traced on cpu" in result.stdout


def test_custom_op_without_formula_is_reported(models_file):
    cost = costlab.analyze(f"{models_file}:Mystery", "2,4")
    assert cost.total.partial is True
    assert [(u.op, u.calls, u.modules) for u in cost.uncounted] == [("mystery", 2, ["odd"])]
    assert cost.total.macs == 2 * 4 * 4  # the Linear is still counted
    result = run_cli("analyze", f"{models_file}:Mystery", "-i", "2,4", "--no-layers")
    assert "mystery x2 (in odd)" in result.stdout and "partial" in result.stdout


def test_package_module_specifier_matches_the_registered_model():
    cost = costlab.analyze("costlab.models.mobilenet:MobileNetV2", "1,3,224,224")
    assert cost.total.macs == costlab.analyze("mobilenet_v2").total.macs == 300_774_272


def test_exported_program(tmp_path, models_file):
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_models_export", models_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    program = torch.export.export(module.Tiny().eval(), (torch.randn(1, 3, 8, 8),))
    path = tmp_path / "tiny.pt2"
    torch.export.save(program, str(path))
    cost = costlab.analyze(str(path))  # its own example input
    assert cost.total.macs == tiny_macs()
    assert {r.module for r in cost.layers} == {"conv", "", "fc"}  # hierarchy restored
    # an export with static shapes says so when given another one
    with pytest.raises(ForwardError, match="dynamic_shapes"):
        costlab.analyze(str(path), "4,3,8,8")


@pytest.mark.parametrize("specifier,message", [
    ("{file}:Nope", "has no attribute 'Nope'"),
    ("{file}:not_a_model", "is a int, not a model class or factory"),
    ("missing_dir/x.py:Model", "no such file"),
    ("no_such_package_xyz.sub:Model", "cannot import module"),
    ("weights.pt", "holds weights, not an architecture"),
    ("missing.pt2", "no such file"),
    (":Model", "malformed model specifier"),
    ("block:nope", "unknown model 'block:nope'"),
])
def test_bad_specifiers(specifier, message, models_file):
    result = run_cli("analyze", specifier.format(file=models_file), "-i", "1,4")
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_bad_constructor_kwargs(models_file):
    with pytest.raises(UsageError, match=r"unexpected keyword argument 'depth'.*takes \("):
        costlab.analyze(f"{models_file}:Tiny", "1,3,8,8", model_kwargs={"depth": 3})


@pytest.mark.parametrize("package", ["torchvision", "timm"])
def test_optional_packages_say_how_to_install(package):
    pytest.importorskip("torch")
    try:
        __import__(package)
        pytest.skip(f"{package} is installed")
    except ImportError:
        pass
    result = run_cli("analyze", f"{package}:resnet50")
    assert result.exit_code == 2
    assert f"{package} is not installed: pip install {package}" in result.stderr


junk = st.from_regex(r"[a-z0-9_./]{0,6}-[a-z0-9_.,:/]{0,8}", fullmatch=True)
shapes = st.one_of(st.text(max_size=12), st.from_regex(r"[0-9,x:]{0,12}[a-z]{0,5}",
                                                      fullmatch=True))
json_text = st.one_of(st.text(max_size=15), st.just("{"), st.just("[1, 2]"),
                      st.just('{"a": 1}'), st.just("null"))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specifier=st.one_of(junk, junk.map(lambda j: j + ".py:Model"),
                           junk.map(lambda j: "torchvision:" + j), junk.map(lambda j: j + ".pt2")),
       shape=shapes, kwargs=json_text)
def test_malformed_input_never_tracebacks(specifier, shape, kwargs):
    result = run_cli("analyze", specifier, "--input", shape, "--kwargs", kwargs, "--no-layers")
    assert result.exit_code != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    # typer's own usage errors draw a box; everything of costlab's is one line
    assert lines and (lines[0].startswith("error: ") and len(lines) == 1
                      or lines[0].startswith("Usage:")), result.stderr


# ------------------------------------------------- files written as scripts, warnings, logs

SCRIPT_EXITS = '''
import sys
sys.exit(3)
'''

SCRIPT_PARSES_ARGV = '''
import argparse

from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--width", type=int, default=8)
args = parser.parse_args()  # at import: sees costlab's flags unless argv is the file's


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, args.width)

    def forward(self, x):
        return self.fc(x)


def exits():
    raise SystemExit(4)
'''

WARNS = '''
import warnings

import torch
import torch.nn.functional as F
from torch import nn


class Warp(nn.Module):
    def forward(self, x):
        grid = torch.zeros(x.shape[0], 4, 4, 2, device=x.device)
        return F.grid_sample(x, grid)  # line 12: torch warns about align_corners


class Says(nn.Module):
    def forward(self, x):
        warnings.warn("from the user's forward")  # line 17
        return x * 2
'''


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_file_that_calls_sys_exit_at_import_is_a_one_line_error(tmp_path):
    path = _write(tmp_path, "exits.py", SCRIPT_EXITS)
    with pytest.raises(CostlabError, match=r"importing .*exits\.py called sys\.exit\(3\); "
                                           r"costlab imports the file as a module"):
        costlab.analyze(f"{path}:Net", "1,4")
    result = run_cli("analyze", f"{path}:Net", "-i", "1,4")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "sys.exit(3)" in result.stderr


def test_a_file_that_parses_argv_at_import_sees_only_its_own_name(tmp_path, monkeypatch):
    import sys

    path = _write(tmp_path, "parses.py", SCRIPT_PARSES_ARGV)
    argv = ["costlab", "analyze", f"{path}:Net", "-i", "1,4", "--no-layers"]
    monkeypatch.setattr(sys, "argv", argv)  # as when run as `costlab analyze ...`
    cost = costlab.analyze(f"{path}:Net", "1,4")
    assert cost.total.macs == 4 * 8
    assert sys.argv == argv  # restored


def test_a_factory_that_exits_is_a_one_line_error(tmp_path):
    path = _write(tmp_path, "parses2.py", SCRIPT_PARSES_ARGV)
    with pytest.raises(CostlabError, match=r"building .*:exits called sys\.exit\(4\)"):
        costlab.analyze(f"{path}:exits", "1,4")


def test_warnings_in_the_forward_are_attributed_to_the_model_file(tmp_path):
    import warnings

    path = _write(tmp_path, "warns.py", WARNS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        costlab.analyze(f"{path}:Warp", "1,3,8,8")
    grid = [w for w in caught if "grid_sample" in str(w.message)]
    assert len(grid) == 1  # once, though the trace ran on meta first
    assert (grid[0].filename, grid[0].lineno) == (path, 12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        costlab.analyze(f"{path}:Says", "1,3,8,8")
    assert [(str(w.message), w.filename, w.lineno) for w in caught] == [
        ("from the user's forward", path, 17)]


def test_user_warning_filters_still_apply(tmp_path):
    import warnings

    path = _write(tmp_path, "warns2.py", WARNS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        costlab.analyze(f"{path}:Says", "1,3,8,8")
    assert caught == []


def test_a_corrupt_exported_program_logs_nothing_of_torchs(tmp_path):
    import logging

    path = tmp_path / "corrupt.pt2"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("torch.export")
    handler, level = Keep(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    try:
        with pytest.raises(UsageError, match=r"cannot load exported program .*corrupt\.pt2"):
            costlab.analyze(str(path))
    finally:
        logger.removeHandler(handler)
    assert records == [] and logger.level == level
    result = run_cli("analyze", str(path))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


# ------------------------------------------------ default inputs of timm and torchvision

class _Net(nn.Module):
    def __init__(self, channels=3, classes=5):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, bias=False)
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


def _fake_timm(input_size, created):
    """A stand-in for timm: one model, with the config timm gives its models."""
    import types

    def create_model(name, pretrained=True, **kwargs):
        assert pretrained is False  # never a download
        created.append(kwargs)
        model = _Net(channels=input_size[0])
        model.pretrained_cfg = {"input_size": input_size, "num_classes": 5}
        return model

    return types.SimpleNamespace(is_model=lambda name: name == "fakenet",
                                 create_model=create_model)


def test_timm_models_take_their_configs_input_size(monkeypatch):
    import sys

    created = []
    monkeypatch.setitem(sys.modules, "timm", _fake_timm((3, 40, 48), created))
    cost = costlab.analyze("timm:fakenet")  # no input given
    assert cost.info.input_shapes == ((1, 3, 40, 48),)
    assert cost.total.macs == 38 * 46 * 4 * 3 * 9 + 4 * 5
    assert costlab.analyze("timm:fakenet", batch=2).info.input_shapes == ((2, 3, 40, 48),)
    assert costlab.analyze("timm:fakenet", resolution=32).info.input_shapes == ((1, 3, 32, 32),)
    given = costlab.analyze("timm:fakenet", "1,3,20,20")  # a given input wins
    assert given.info.input_shapes == ((1, 3, 20, 20),)
    result = run_cli("analyze", "timm:fakenet", "--no-layers")
    assert result.exit_code == 0, result.stderr
    assert "timm:fakenet   input 1x3x40x48" in result.stdout


def test_timm_input_size_follows_img_size():
    from costlab.build.loaders import timm_input_size

    model = _Net()
    model.pretrained_cfg = {"input_size": (3, 224, 224)}
    assert timm_input_size(model, {}) == (3, 224, 224)
    assert timm_input_size(model, {"img_size": 160}) == (3, 160, 160)
    assert timm_input_size(model, {"img_size": (96, 128)}) == (3, 96, 128)
    legacy = _Net()
    legacy.default_cfg = {"input_size": [1, 28, 28]}  # timm before pretrained_cfg
    assert timm_input_size(legacy, {}) == (1, 28, 28)
    assert timm_input_size(_Net(), {}) is None


def test_torchvision_classification_models_default_to_224(monkeypatch):
    import sys
    import types

    classification = {"fakenet": _Net}
    models = types.SimpleNamespace(
        list_models=lambda module=None: sorted(classification) + (
            [] if module is not None else ["fake_detector"]),
        get_model_builder=lambda name: (lambda weights=None, **kw: _Net(**kw)))
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=models))
    monkeypatch.setitem(sys.modules, "torchvision.models", models)
    assert costlab.analyze("torchvision:fakenet").info.input_shapes == ((1, 3, 224, 224),)
    # a model outside the classification set still needs an input
    with pytest.raises(UsageError, match="needs an input"):
        costlab.analyze("torchvision:fake_detector")


def test_real_timm_without_weights():
    timm = pytest.importorskip("timm")
    cost = costlab.analyze("timm:resnet18")
    assert cost.info.input_shapes == ((1, 3, 224, 224),)
    assert cost.total.params == sum(p.numel() for p in timm.create_model(
        "resnet18", pretrained=False).parameters())
