"""What a remote benchmark sends and gets back: a versioned bench request and report (JSON).

The local costlab writes a :class:`BenchRequest` to ssh's stdin; the board's
``costlab serve-bench`` reads it, runs :func:`costlab.bench.runner.bench`
(``bench.worker.serve``) and writes
``{"schema_version": N, "kind": "bench_report", "report": BenchReport.to_dict()}``.
Both documents carry ``core.version.BENCH_PROTOCOL_SCHEMA_VERSION``, and each end checks it
before reading anything else: a board running another schema is named as such, not misread.

The request holds the library's keyword arguments (``input_shape``, ``model_kwargs``,
knobs ...), not command-line flags, so the CLI's option names can change freely.

The same command is the worker of a local measurement in rounds (``bench.rounds``): a
:class:`RoundRequest` (several models, timed interleaved in one fresh process, on the CPU or
CUDA) gets ``{"schema_version": N, "kind": "bench_round_report", "reports": [...]}`` back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

from costlab.bench.timing import TimingPolicy
from costlab.core.errors import CostlabError, UsageError
from costlab.core.version import BENCH_PROTOCOL_SCHEMA_VERSION, __version__

# bumped when a request's or the report envelope's shape changes
REQUEST_KIND = "bench_request"
REPORT_KIND = "bench_report"
# the library's options that are not knobs; every other key of an options dict is a knob
RUN_OPTIONS = ("input_shape", "batch", "resolution", "model_kwargs", "input_kwargs")
ROUND_REQUEST_KIND = "bench_round_request"
ROUND_REPORT_KIND = "bench_round_report"
WORKER_DEVICES = ("cpu", "cuda")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_shape(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and bool(value)
                                      and all(_is_int(d) for d in value))


def _is_input_shape(value: Any) -> bool:
    return value is None or _is_shape(value) or (
        isinstance(value, list) and bool(value) and all(_is_shape(v) for v in value))


def _is_str_dict(value: Any, item: Callable[[Any], bool]) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and item(v)
                                           for k, v in value.items())


def _is_policy(value: Any) -> bool:
    names = {f.name for f in fields(TimingPolicy)}
    return _is_str_dict(value, _is_number) and set(value) == names


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


# field -> (check of its JSON value, what the value should be)
_FIELD_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "schema_version": (_is_int, "an integer"),
    "kind": (lambda v: v == REQUEST_KIND, repr(REQUEST_KIND)),
    "model": (lambda v: isinstance(v, str) and bool(v), "a model name or specifier"),
    "input_shape": (_is_input_shape, "null, a shape (string or list of integers) or a "
                                     "list of shapes"),
    "batch": (_is_int, "an integer"),
    "resolution": (_optional(_is_int), "null or an integer"),
    "model_kwargs": (lambda v: _is_str_dict(v, lambda _: True), "an object"),
    "input_kwargs": (lambda v: _is_str_dict(v, lambda x: isinstance(x, str)),
                     "an object of shape strings"),
    "knobs": (lambda v: _is_str_dict(v, lambda x: isinstance(x, (str, int, float, bool))),
              "an object of strings, numbers or booleans"),
    "dtype": (lambda v: isinstance(v, str), "a string"),
    "channels_last": (lambda v: isinstance(v, bool), "true or false"),
    "threads": (_optional(_is_int), "null or an integer"),
    "policy": (_is_policy, "an object of the timing policy's numbers: "
                           + ", ".join(f.name for f in fields(TimingPolicy))),
    "memory": (lambda v: isinstance(v, bool), "true or false"),
}


def json_object(text: str, what: str, error: type[CostlabError]) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        first = (text.strip().splitlines() or ["nothing"])[0][:80]
        raise error(f"the {what} is not JSON: {first!r}") from None
    if not isinstance(data, dict):
        raise error(f"the {what} is not a JSON object")
    return data


def _as_lists(shape: Any) -> Any:
    """A shape or list of shapes with tuples as lists, as it reads back from JSON."""
    if isinstance(shape, (tuple, list)):
        return [_as_lists(item) for item in shape]
    return shape


@dataclass(frozen=True, kw_only=True)
class BenchRequest:
    """One benchmark to run on a board: the model, its options and the bench settings.

    ``model`` is a registered name or specifier as the board sees it (for a copied user
    file, the copy's path there). The model options are ``costlab.bench``'s keyword
    arguments; ``knobs`` are a registered model's knobs (``width`` ...).
    """

    model: str
    input_shape: Any = None  # a shape string, a list of ints, or a list of either
    batch: int = 1
    resolution: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    input_kwargs: dict[str, str] = field(default_factory=dict)
    knobs: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"
    channels_last: bool = False
    threads: int | None = None
    policy: TimingPolicy = field(default_factory=TimingPolicy)
    memory: bool = True
    schema_version: int = BENCH_PROTOCOL_SCHEMA_VERSION
    kind: str = REQUEST_KIND

    @classmethod
    def for_bench(cls, model: str, options: dict[str, Any] | None = None, *,
                  dtype: str = "float32", channels_last: bool = False,
                  threads: int | None = None, policy: TimingPolicy | None = None,
                  memory: bool = True) -> "BenchRequest":
        """The request for ``runner.bench(model, options, dtype=..., ...)``: the options
        dict's non-knob keys become fields, the rest are knobs."""
        options = dict(options or {})
        named = {k: options.pop(k) for k in RUN_OPTIONS if k in options}
        return cls(model=model, input_shape=_as_lists(named.get("input_shape")),
                   batch=named.get("batch", 1),
                   resolution=named.get("resolution"),
                   model_kwargs=dict(named.get("model_kwargs") or {}),
                   input_kwargs=dict(named.get("input_kwargs") or {}), knobs=options,
                   dtype=dtype, channels_last=channels_last, threads=threads,
                   policy=policy or TimingPolicy(), memory=memory)

    def bench_options(self) -> dict[str, Any]:
        """The options dict ``runner.bench`` takes (as the CLI builds it locally)."""
        options: dict[str, Any] = dict(self.knobs)
        options.update(batch=self.batch, resolution=self.resolution)
        if self.input_shape is not None:
            options["input_shape"] = self.input_shape
        if self.model_kwargs:
            options["model_kwargs"] = dict(self.model_kwargs)
        if self.input_kwargs:
            options["input_kwargs"] = dict(self.input_kwargs)
        return options

    def bench_settings(self) -> dict[str, Any]:
        """``runner.bench``'s keyword arguments besides the options (the device is the
        board's CPU)."""
        return dict(device="cpu", dtype=self.dtype, channels_last=self.channels_last,
                    threads=self.threads, policy=self.policy, memory=self.memory)

    def to_dict(self) -> dict:
        return asdict(self)  # the policy, a dataclass too, becomes an object

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> "BenchRequest":
        """A request read back; its schema version is checked first, then every field."""
        _check_envelope(data, REQUEST_KIND, list(_FIELD_TYPES))
        for name, (check, expected) in _FIELD_TYPES.items():
            if not check(data[name]):
                raise UsageError(f"malformed {REQUEST_KIND}: {name} must be {expected}, "
                                 f"got {json.dumps(data[name])[:60]}")
        return cls(**{**data, "policy": TimingPolicy(**data["policy"])})

    @classmethod
    def from_json(cls, text: str) -> "BenchRequest":
        return cls.from_dict(json_object(text, REQUEST_KIND, UsageError))


def report_envelope(report: Any) -> dict:
    """What ``serve-bench`` writes: the report of a ``BenchReport``, versioned."""
    return {"schema_version": BENCH_PROTOCOL_SCHEMA_VERSION, "kind": REPORT_KIND,
            "report": report.to_dict()}


def read_report_envelope(text: str, where: str) -> dict:
    """The report dict inside ``serve-bench``'s reply from ``where`` (a board's name); the
    envelope's schema version is checked before anything else is read."""
    data = json_object(text, f"reply from {where}", CostlabError)
    version = data.get("schema_version")
    if version != BENCH_PROTOCOL_SCHEMA_VERSION:
        raise CostlabError(f"costlab on {where} writes bench reports of schema {version}; "
                           f"this costlab ({__version__}) reads schema "
                           f"{BENCH_PROTOCOL_SCHEMA_VERSION}: install the same costlab version "
                           "on both machines")
    if data.get("kind") != REPORT_KIND or not isinstance(data.get("report"), dict):
        raise CostlabError(f"costlab on {where} replied with JSON that is not a "
                           f"{REPORT_KIND}")
    return data["report"]


def _check_version(data: dict) -> None:
    version = data.get("schema_version")
    if version != BENCH_PROTOCOL_SCHEMA_VERSION:
        raise UsageError(f"this costlab ({__version__}) reads bench requests of schema "
                         f"{BENCH_PROTOCOL_SCHEMA_VERSION}; the request is schema {version}: "
                         "install the same costlab version on both machines")


def _check_envelope(data: dict, kind: str, names: list[str]) -> None:
    """A request's schema version, its kind, and exactly the fields ``names``."""
    _check_version(data)
    if data.get("kind") != kind:
        raise UsageError(f"expected a {kind}, got kind {data.get('kind')!r}")
    missing = [name for name in names if name not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
            ([f"unknown {', '.join(unknown)}"] if unknown else [])
        raise UsageError(f"malformed {kind}: {'; '.join(parts)}")


@dataclass(frozen=True, kw_only=True)
class RoundRequest:
    """One round of a measurement in rounds: ``models`` timed interleaved, in this order,
    in a fresh worker process on this machine. ``bench`` carries the model options and the
    settings as for a board (its ``model`` is the first of ``models``); ``device`` is the
    local device, cpu or cuda."""

    models: list[str]
    bench: BenchRequest
    device: str = "cpu"
    schema_version: int = BENCH_PROTOCOL_SCHEMA_VERSION
    kind: str = ROUND_REQUEST_KIND

    def to_dict(self) -> dict:
        return {"schema_version": self.schema_version, "kind": self.kind,
                "models": list(self.models), "device": self.device,
                "bench": self.bench.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> "RoundRequest":
        """A round request read back: schema version first, then every field."""
        _check_envelope(data, ROUND_REQUEST_KIND,
                        ["schema_version", "kind", "models", "device", "bench"])
        models = data["models"]
        if not isinstance(models, list) or not models or \
                not all(isinstance(m, str) and m for m in models):
            raise UsageError(f"malformed {ROUND_REQUEST_KIND}: models must be a list of model "
                             "names or specifiers")
        if data["device"] not in WORKER_DEVICES:
            raise UsageError(f"malformed {ROUND_REQUEST_KIND}: device must be one of "
                             f"{', '.join(WORKER_DEVICES)}, got {json.dumps(data['device'])}")
        if not isinstance(data["bench"], dict):
            raise UsageError(f"malformed {ROUND_REQUEST_KIND}: bench must be a bench_request")
        return cls(models=list(models), bench=BenchRequest.from_dict(data["bench"]),
                   device=data["device"])


def round_envelope(reports: list[Any]) -> dict:
    """What a round's worker writes: each model's ``BenchReport``, in the request's order."""
    return {"schema_version": BENCH_PROTOCOL_SCHEMA_VERSION, "kind": ROUND_REPORT_KIND,
            "reports": [r.to_dict() for r in reports]}


def read_round_envelope(text: str) -> list[dict]:
    """The report dicts of a round worker's reply, its schema version checked first."""
    data = json_object(text, "reply of a bench worker", CostlabError)
    if data.get("schema_version") != BENCH_PROTOCOL_SCHEMA_VERSION:
        raise CostlabError(f"a bench worker replied with schema {data.get('schema_version')}, "
                           f"this costlab reads {BENCH_PROTOCOL_SCHEMA_VERSION}: is another "
                           "costlab first on the worker's PYTHONPATH?")
    reports = data.get("reports")
    if data.get("kind") != ROUND_REPORT_KIND or not isinstance(reports, list) or \
            not all(isinstance(r, dict) for r in reports):
        raise CostlabError(f"a bench worker replied with JSON that is not a "
                           f"{ROUND_REPORT_KIND}")
    return reports
