"""The bench request/report schema and the board's ``serve-bench`` command (no ssh)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from costlab.core.version import BENCH_PROTOCOL_SCHEMA_VERSION as SCHEMA_VERSION
from costlab.bench.protocol import (BenchRequest, read_report_envelope,
                                    report_envelope)
from costlab.bench.runner import BenchReport
from costlab.bench.timing import TimingPolicy
from costlab.cli import app
from costlab.core.errors import CostlabError, UsageError
from costlab.core.version import __version__

TINY = TimingPolicy(warmup_iters=1, warmup_s=0.0, min_iters=3, min_s=0.0, max_s=2.0)
FULL = BenchRequest(model="block:conv3x3", input_shape=["1,8,12,12", [1, 8]], batch=2,
                    resolution=96, model_kwargs={"depth": 3, "names": ["a", "b"]},
                    input_kwargs={"mask": "1,8:int64"}, knobs={"width": 0.5, "n": "7"},
                    dtype="bfloat16", channels_last=True, threads=2, policy=TINY,
                    memory=False)


def test_a_request_round_trips_through_json():
    data = json.loads(FULL.to_json())
    assert data == {
        "model": "block:conv3x3", "input_shape": ["1,8,12,12", [1, 8]], "batch": 2,
        "resolution": 96, "model_kwargs": {"depth": 3, "names": ["a", "b"]},
        "input_kwargs": {"mask": "1,8:int64"}, "knobs": {"width": 0.5, "n": "7"},
        "dtype": "bfloat16", "channels_last": True, "threads": 2,
        "policy": {"warmup_iters": 1, "warmup_s": 0.0, "min_iters": 3, "min_s": 0.0,
                   "max_s": 2.0},
        "memory": False, "schema_version": SCHEMA_VERSION, "kind": "bench_request"}
    assert BenchRequest.from_json(FULL.to_json()) == FULL
    assert BenchRequest.from_json(BenchRequest(model="x").to_json()) == BenchRequest(model="x")


def test_a_request_carries_benchs_arguments_unchanged():
    # as the CLI's options for --width 0.5 --knob n=7 --input ... --kwargs ... --batch 2
    options = {"width": 0.5, "n": "7", "batch": 2, "resolution": None,
               "input_shape": ["1,8,12,12"], "model_kwargs": {"depth": 3},
               "input_kwargs": {"mask": "1,8:int64"}}
    request = BenchRequest.for_bench("block:conv3x3", options, dtype="float16", threads=1,
                                     policy=TINY, memory=False)
    assert request.knobs == {"width": 0.5, "n": "7"}
    assert request.bench_options() == options
    assert request.bench_settings() == dict(device="cpu", dtype="float16",
                                            channels_last=False, threads=1, policy=TINY,
                                            memory=False)
    # a library shape given as a tuple travels as the list JSON reads back
    assert BenchRequest.for_bench("m", {"input_shape": (1, 3, 8, 8), "batch": 1}) \
        .input_shape == [1, 3, 8, 8]
    assert BenchRequest.for_bench("m", {}).bench_options() == {"batch": 1, "resolution": None}


def _request_dict(**changes) -> dict:
    return {**FULL.to_dict(), **changes}


@pytest.mark.parametrize("data,message", [
    (_request_dict(kind="bench_report"), "expected a bench_request, got kind 'bench_report'"),
    ({k: v for k, v in FULL.to_dict().items() if k not in ("batch", "memory")},
     "malformed bench_request: missing batch, memory"),
    (_request_dict(extra=1), "malformed bench_request: unknown extra"),
    (_request_dict(batch="2"), 'malformed bench_request: batch must be an integer, got "2"'),
    (_request_dict(batch=True), "malformed bench_request: batch must be an integer, got true"),
    (_request_dict(threads=1.5), "malformed bench_request: threads must be null or an "
                                 "integer, got 1.5"),
    (_request_dict(input_shape=[[]]), "malformed bench_request: input_shape must be null, a "
                                      "shape (string or list of integers) or a list of "
                                      "shapes, got [[]]"),
    (_request_dict(input_kwargs={"mask": [1, 8]}), "malformed bench_request: input_kwargs "
                                                   "must be an object of shape strings, got "
                                                   '{"mask": [1, 8]}'),
    (_request_dict(model=""), 'malformed bench_request: model must be a model name or '
                              'specifier, got ""'),
    (_request_dict(policy={"warmup_iters": 1}), "malformed bench_request: policy must be an "
                                                "object of the timing policy's numbers: "
                                                "warmup_iters, warmup_s, min_iters, min_s, "
                                                'max_s, got {"warmup_iters": 1}'),
])
def test_malformed_requests_are_one_line_usage_errors(data, message):
    with pytest.raises(UsageError) as err:
        BenchRequest.from_json(json.dumps(data))
    assert str(err.value) == message


@pytest.mark.parametrize("text,message", [
    ("bench mobilenet_v2", "the bench_request is not JSON: 'bench mobilenet_v2'"),
    ("[1, 2]", "the bench_request is not a JSON object"),
    ("", "the bench_request is not JSON: 'nothing'"),
])
def test_requests_that_are_not_json_objects_are_one_line(text, message):
    with pytest.raises(UsageError) as err:
        BenchRequest.from_json(text)
    assert str(err.value) == message


def _version_error(version) -> str:
    return (f"this costlab ({__version__}) reads bench requests of schema {SCHEMA_VERSION}; "
            f"the request is schema {version}: install the same costlab version on both "
            "machines")


def test_the_schema_version_is_checked_before_anything_else():
    newer = {"schema_version": SCHEMA_VERSION + 1, "kind": "bench_request_v2", "model": 7}
    with pytest.raises(UsageError) as err:
        BenchRequest.from_json(json.dumps(newer))
    assert str(err.value) == _version_error(SCHEMA_VERSION + 1)
    with pytest.raises(UsageError) as err:
        BenchRequest.from_json(json.dumps({"model": "x"}))
    assert str(err.value) == _version_error(None)


def test_serve_bench_refuses_a_request_of_another_schema():
    request = replace(FULL, schema_version=SCHEMA_VERSION + 1)
    result = CliRunner().invoke(app, ["serve-bench"], input=request.to_json())
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {_version_error(SCHEMA_VERSION + 1)}"]


def test_serve_bench_is_hidden_from_help():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0 and "bench" in result.stdout
    assert "serve-bench" not in result.stdout


def test_serve_bench_runs_the_request_and_writes_a_versioned_report():
    request = BenchRequest(model="block:conv3x3", input_shape="1,8,12,12", threads=1,
                           policy=TINY, memory=False)
    result = CliRunner().invoke(app, ["serve-bench"], input=request.to_json())
    assert result.exit_code == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert sorted(envelope) == ["kind", "report", "schema_version"]
    assert envelope["schema_version"] == SCHEMA_VERSION and envelope["kind"] == "bench_report"
    report = BenchReport.from_dict(read_report_envelope(result.stdout, "board"))
    assert report.model == "block:conv3x3" and report.device == "cpu"
    assert report.input_shapes == [[1, 8, 12, 12]] and report.threads == 1
    assert report.iterations >= 3 and report.peak_memory is None
    assert report.to_dict() == envelope["report"]


def test_serve_bench_errors_are_one_line():
    bad = BenchRequest(model="no_such_model", policy=TINY)
    result = CliRunner().invoke(app, ["serve-bench"], input=bad.to_json())
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown model 'no_such_model'")


def test_a_report_round_trips_through_its_envelope():
    from costlab.bench.runner import bench

    report = bench("block:conv3x3", {"input_shape": "1,8,12,12"}, memory=False, policy=TINY)
    text = json.dumps(report_envelope(report))
    assert BenchReport.from_dict(read_report_envelope(text, "board")).to_dict() == \
        report.to_dict()


@pytest.mark.parametrize("reply,message", [
    ({"schema_version": SCHEMA_VERSION + 1, "kind": "bench_report", "report": {}},
     f"costlab on board writes bench reports of schema {SCHEMA_VERSION + 1}; this costlab "
     f"({__version__}) reads schema {SCHEMA_VERSION}: install the same costlab version on "
     "both machines"),
    ({"kind": "bench", "reports": [{}]},
     f"costlab on board writes bench reports of schema None; this costlab ({__version__}) "
     f"reads schema {SCHEMA_VERSION}: install the same costlab version on both machines"),
    ({"schema_version": SCHEMA_VERSION, "kind": "bench_request", "report": {}},
     "costlab on board replied with JSON that is not a bench_report"),
    ({"schema_version": SCHEMA_VERSION, "kind": "bench_report", "report": [1]},
     "costlab on board replied with JSON that is not a bench_report"),
])
def test_replies_of_another_schema_or_kind_are_one_line(reply, message):
    with pytest.raises(CostlabError) as err:
        read_report_envelope(json.dumps(reply), "board")
    assert str(err.value) == message
