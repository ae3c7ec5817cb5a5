"""The command line: each command parses its options, calls one workflow and hands the
result to the output pipeline (costlab.report).

Nothing here imports torch at module level, so ``costlab --help`` stays fast.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import typing
from dataclasses import dataclass, field, fields, replace
from functools import wraps
from typing import Any, Callable, List, Optional

import typer

# the click that typer runs on: newer typer vendors it as typer._click, older uses click's
# package; the exceptions and contexts must be that one's, not another installed click's
try:
    from typer import _click as click
    from typer._click import exceptions as click_exceptions, globals as click_globals
except ImportError:  # typer without a vendored click
    import click  # type: ignore[no-redef]
    from click import exceptions as click_exceptions, globals as click_globals

from costlab.core.errors import CostlabError, UsageError



def _is_argument(param: click.Parameter) -> bool:
    return param.param_type_name == "argument"


def _plain_argument(argument: click.Parameter) -> str:
    """An argument as a usage line writes it: MODEL, [NAME]..., MODEL... (not typer's
    {MODEL} and [[NAME]...]...)."""
    name = argument.metavar or (argument.name or "").upper()
    bare = name.strip("[]").removesuffix("...").strip("[]")
    name = bare if argument.required else f"[{bare}]"
    return name + ("..." if argument.nargs != 1 else "")


def _metavar(option: click.Parameter) -> str:
    """A plain metavar from the option's type: N, X or TEXT."""
    kind = getattr(getattr(option, "type", None), "name", "")  # click's: integer, float, text
    descriptor = getattr(option, "type_descriptor", None)  # newer typer's own parameters
    if descriptor is not None:
        kind = str(descriptor.annotation)
    return "N" if re.search(r"\bint(eger)?\b", kind) else \
        "X" if re.search(r"\bfloat\b", kind) else "TEXT"


class PlainCommand(typer.core.TyperCommand):
    """A command whose help shows plain metavars: ``--depth N`` and ``MODEL``, not typer's
    ``<int>``, ``<list[str]>`` and ``{MODEL}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "option" and param.metavar is None \
                    and not getattr(param, "is_flag", False) and not getattr(param, "count", False):
                param.metavar = _metavar(param)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [self.options_metavar or ""] + [
            _plain_argument(p) for p in self.get_params(ctx) if _is_argument(p)]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = self.get_params(ctx)
        arguments = [(_plain_argument(p), getattr(p, "help", None) or "")
                     for p in params if _is_argument(p)]
        options = [record for p in params if not _is_argument(p)
                   if (record := p.get_help_record(ctx)) is not None]
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _usage_error_line(error: "click_exceptions.UsageError") -> str:
    """Click's usage error (four lines) as one: the message and where help is."""
    message = " ".join(error.format_message().split()).rstrip(".")
    command = error.ctx.command_path if error.ctx is not None else "costlab"
    return f"error: {message[:1].lower() + message[1:]} (see {command} --help)"


class PlainGroup(typer.core.TyperGroup):
    """The costlab group: click's usage errors (``-w abc``, ``--bogus``, a missing argument)
    become one ``error:`` line with exit 2, like costlab's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = self.name or "costlab"  # usage lines say costlab, under a test runner too

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_exceptions.NoArgsIsHelpError as exc:
            exc.show()  # bare `costlab`: the help, as before
            sys.exit(exc.exit_code)
        except click_exceptions.UsageError as exc:
            typer.echo(_usage_error_line(exc), err=True)
            sys.exit(exc.exit_code)
        except click_exceptions.ClickException as exc:
            typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=PlainGroup,
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    # plain help: typer's rich help imports rich's markdown and syntax stack, which
    # takes --help from about 0.18 s to over 0.3 s
    rich_markup_mode=None,
    help="What a neural network really costs, layer by layer: MACs, FLOPs, params, "
         "memory-access cost.",
)

DATA_FORMATS = ("csv", "json")  # complete data by default; the others are read by people
FORMAT_HELP = "table, csv, md, json or html (default: from -o's suffix, else table)"


# The library's errors name its arguments; on the command line the flags say the same.
_FLAG_FOR_ARGUMENT = (
    (re.compile(r"\binput_shape\b"), "--input"),
    (re.compile(r"\bbatch and resolution\b"), "--batch and --resolution"),
    (re.compile(r"\bso (batch|resolution) would\b"), r"so --\1 would"),
    (re.compile(r"\bmodel_kwargs\b"), "--kwargs"),
    (re.compile(r"\binput_kwargs\b"), "--kwargs-inputs"),
    (re.compile(r"\bdevice=(?=\w)"), "--device "),
    (re.compile(r"^(iters|depth|threads|rounds) must be"), r"--\1 must be"),
    (re.compile(r"\ball_reports\b"), "--all"),
    (re.compile(r"\bout_dir\b"), "--out-dir"),
)


def in_flag_words(message: str) -> str:
    """A library error in the CLI's words: ``input_shape`` -> ``--input``."""
    for pattern, flag in _FLAG_FOR_ARGUMENT:
        message = pattern.sub(flag, message)
    return message


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _debug() -> bool:
    context = click_globals.get_current_context(silent=True)
    settings = context.find_object(CliSettings) if context is not None else None
    return settings.debug if settings is not None else bool(os.environ.get("COSTLAB_DEBUG"))


def _guarded(command: Callable) -> Callable:
    """One-line errors and a non-zero exit instead of tracebacks (unless --debug)."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CostlabError as exc:
            if _debug():
                raise
            _fail(in_flag_words(str(exc)), exc.exit_code)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # anything else is a bug or an odd model: still one line
            if _debug():
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            _fail(f"{type(exc).__name__}: {first} (rerun with --debug for the traceback)", 1)

    return wrapper


def _console():
    from rich.console import Console

    from costlab.report.renderers.rich import terminal_width

    return Console(width=terminal_width())  # the same width as every other table


def _emit(document, fmt: str, output: Optional[str]) -> None:
    """Print or write a result's document in ``fmt`` through the registry of renderers."""
    from costlab.report import renderers
    from costlab.report.output_files import write_atomic

    chosen = renderers.get(fmt)
    if output:
        write_atomic(output, chosen.render(document))
    elif chosen.to_terminal is not None:
        chosen.to_terminal(document)
    else:
        sys.stdout.write(chosen.render(document))


def _knobs(width: Optional[float], knob: Optional[List[str]]) -> dict:
    values: dict = {}
    for item in knob or []:
        if "=" not in item:
            raise UsageError(f"malformed --knob {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        values[name.strip()] = value.strip()
    if width is not None:
        values["width"] = width
    return values


def _json_object(text: Optional[str], option: str) -> dict:
    import json

    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc.msg} (at character {exc.pos})") \
            from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object like '{{\"num_classes\": 10}}'")
    return value


# ------------------------------------------------------------------ shared options
# Options shared by several commands are declared once, as dataclasses whose fields carry
# their typer.Option; ``uses_options`` spreads the fields into a command's signature and
# hands the command one instance per group.

def _option(default: Any, *flags: str, **settings: Any) -> Any:
    return field(default=default, metadata={"option": typer.Option(default, *flags, **settings)})


@dataclass(frozen=True)
class ModelOptions:
    """How the model and its inputs are built (the API's keyword arguments)."""

    width: Optional[float] = _option(None, "--width", "-w",
                                     help="width multiplier alpha (MobileNets)")
    knob: Optional[List[str]] = _option(None, "--knob", "-k",
                                        help="any model knob, NAME=VALUE (repeatable)")
    resolution: Optional[int] = _option(None, "--resolution", "-r",
                                        help="input resolution rho, as pixels per side "
                                             "(e.g. 192)")
    input_shape: Optional[List[str]] = _option(
        None, "--input", "-i", help="an input's shape, e.g. 1,3,224,224, or 1,128:int64 for "
                                    "token ids (repeat for several inputs)")
    kwargs: Optional[str] = _option(None, "--kwargs",
                                    help="constructor arguments of a user model, as JSON: "
                                         "'{\"num_classes\": 10}'")
    kwargs_inputs: Optional[str] = _option(None, "--kwargs-inputs",
                                           help="keyword inputs of forward, as JSON: "
                                                "'{\"mask\": \"1,128:int64\"}'")
    batch: int = _option(1, "--batch", "-b", help="batch size")

    def api_kwargs(self) -> dict[str, Any]:
        """These options as ``costlab.analyze``/``prepare`` keywords (knobs included)."""
        options = dict(_knobs(self.width, self.knob))
        options.update(batch=self.batch, resolution=self.resolution)
        if self.input_shape:
            options["input_shape"] = list(self.input_shape)  # parsed (and checked) by the API
        model_kwargs = _json_object(self.kwargs, "--kwargs")
        if model_kwargs:
            options["model_kwargs"] = model_kwargs
        for key, value in _json_object(self.kwargs_inputs, "--kwargs-inputs").items():
            if not isinstance(value, str):
                raise UsageError(f"--kwargs-inputs: {key!r} must be a shape string like "
                                 "\"1,128:int64\"")
            options.setdefault("input_kwargs", {})[key] = value
        return options


@dataclass(frozen=True)
class CountOptions:
    """How the static count is made: the bytes' storage dtype and the build device."""

    dtype: Optional[str] = _option(None, "--dtype",
                                   help="storage dtype for memory-access bytes: float32, "
                                        "float16, bfloat16, int8 (default: each tensor's own)")
    device: str = _option("meta", "--device", help="meta (no weights allocated) or cpu")

    def api_kwargs(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "device": self.device}


@dataclass(frozen=True)
class StepOptions:
    """What is analyzed: one inference forward, or one training step and how it is run."""

    mode: str = _option("inference", "--mode",
                        help="inference (one forward) or train (forward, loss = sum of the "
                             "outputs, backward, optimizer step)")
    optimizer: str = _option("sgd", "--optimizer",
                             help="train: sgd, sgd-momentum, adam or adamw")
    precision: str = _option("fp32", "--precision",
                             help="train: fp32, bf16-mixed or fp16-mixed (16-bit weights and "
                                  "activations, fp32 masters and optimizer state)")

    def api_kwargs(self) -> dict[str, Any]:
        if self.mode == "inference" and (self.optimizer, self.precision) != ("sgd", "fp32"):
            raise UsageError("--optimizer and --precision are for --mode train")
        if self.mode == "inference":
            return {}
        return {"mode": self.mode, "optimizer": self.optimizer, "precision": self.precision}


@dataclass(frozen=True)
class OutputOptions:
    """Where the result goes and in which format."""

    fmt: Optional[str] = _option(None, "--format", "-f", help=FORMAT_HELP)
    output: Optional[str] = _option(None, "--output", "-o", help="write to FILE (atomically)")

    def checked(self, *, plot: Optional[str] = None) -> "OutputOptions":
        """The format settled (from -o's suffix, which must agree with --format) and the path
        checked, before any work; ``plot`` is a figure path that must not be the same file."""
        from costlab.report.output_files import resolve_output, same_file
        from costlab.report.renderers import format_for

        if self.output is not None and not self.output.strip():
            raise UsageError("-o needs a file name, got an empty one")
        if self.output is not None and plot is not None and same_file(plot, self.output):
            raise UsageError(f"--plot and -o both name {self.output}: give the figure and "
                             "the table different files")
        fmt = format_for(self.fmt, self.output)
        if self.output is not None:
            resolve_output(self.output)
        return replace(self, fmt=fmt)


@dataclass(frozen=True)
class TimingOptions:
    """How long and on how many threads models are timed."""

    threads: Optional[int] = _option(None, "--threads",
                                     help="torch intra-op threads (default: torch's)")
    quick: bool = _option(False, "--quick",
                          help="a short run: 3 warm-up calls, >= 20 timed, <= 5 s")
    min_time: Optional[float] = _option(None, "--min-time",
                                        help="seconds of timed calls, at least (default 1)")
    max_time: Optional[float] = _option(None, "--max-time",
                                        help="seconds of timed calls, at most (default 30)")
    rounds: Optional[int] = _option(None, "--rounds",
                                    help="rounds, each a fresh process timing the models "
                                         "interleaved (default 5; --quick: 1, in-process)")

    def round_count(self) -> int:
        """--rounds, else 1 with --quick, else the default number of rounds."""
        from costlab.bench.rounds import DEFAULT_ROUNDS

        if self.rounds is not None:
            return self.rounds
        return 1 if self.quick else DEFAULT_ROUNDS

    def policy(self, **changes: Any):
        """The timing policy: quick or default, with these options and ``changes`` applied."""
        from costlab.bench.timing import TimingPolicy

        policy = TimingPolicy.quick() if self.quick else TimingPolicy.default(self.round_count())
        changes.update(min_s=self.min_time, max_s=self.max_time)
        return replace(policy, **{k: v for k, v in changes.items() if v is not None})


# ---- LLM phases (workflows/llm.py): analyze and estimate take these; hf: is a MODEL

@dataclass(frozen=True)
class PhaseOptions:
    """Which inference phase of a decoder is counted (hf: models, gpt2_small, llama_70b,
    sasrec); without --phase, analyze and estimate count one forward as always."""

    phase: Optional[str] = _option(None, "--phase",
                                   help="prefill, decode or generate: an LLM's phase, with "
                                        "its KV cache")
    context: Optional[int] = _option(None, "--context",
                                     help="--phase decode: tokens already in the KV cache")
    prompt: Optional[int] = _option(None, "--prompt",
                                    help="--phase prefill/generate: prompt tokens")
    generate: Optional[int] = _option(None, "--generate",
                                      help="--phase generate: tokens to generate (decode "
                                           "steps)")

    def phase_kwargs(self, model_options: "ModelOptions") -> dict[str, Any]:
        """The phase workflow's keywords: these options and the model's (a phase takes
        token ids, so no --resolution or --kwargs-inputs)."""
        options = model_options.api_kwargs()
        for key, flag in (("resolution", "--resolution"), ("input_kwargs", "--kwargs-inputs")):
            if options.pop(key, None) is not None:
                raise UsageError(f"{flag} does not apply with --phase")
        if self.phase != "generate" and self.generate is not None:
            raise UsageError("--generate applies to --phase generate")
        options.update(context=self.context, prompt=self.prompt)
        if self.phase == "generate":
            options.pop("context")
            if self.context is not None or options.get("input_shape"):
                raise UsageError("--phase generate takes --prompt and --generate, not "
                                 "--context or --input")
            options.pop("input_shape", None)
            options["generate"] = self.generate
        return options

    def check_unused(self) -> None:
        if self.phase is None and any(v is not None for v in (self.context, self.prompt,
                                                                self.generate)):
            raise UsageError("--context, --prompt and --generate apply with --phase")

    def document(self, model: str, model_options: "ModelOptions", dtype: Optional[str]):
        from costlab.workflows.llm import generate_cost, phase_cost

        options = self.phase_kwargs(model_options)
        if self.phase == "generate":
            if self.prompt is None or self.generate is None:
                raise UsageError("--phase generate needs --prompt and --generate")
            return generate_cost(model, dtype=dtype, **options).document()
        return phase_cost(model, self.phase, dtype=dtype, **options).document()


def declared_option(group: type, name: str) -> Any:
    """The typer.Option a group declares for ``name``, for a command that takes that one
    option alone (with the group's flags and help)."""
    return {f.name: f for f in fields(group)}[name].metadata["option"]


def uses_options(**groups: type) -> Callable[[Callable], Callable]:
    """Give a command its option groups: ``@uses_options(model=ModelOptions)`` makes the
    command take every field of ModelOptions as a CLI option and receive them as one
    ``model: ModelOptions`` argument."""
    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command)
        hints = typing.get_type_hints(command)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in signature.parameters.values() if p.name not in groups]
        spread, annotations = [], {p.name: p.annotation for p in own}
        for cls in groups.values():
            field_types = typing.get_type_hints(cls)
            for f in fields(cls):
                spread.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                                default=f.metadata["option"],
                                                annotation=field_types[f.name]))
                annotations[f.name] = field_types[f.name]

        @wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for group, cls in groups.items():
                kwargs[group] = cls(**{f.name: kwargs.pop(f.name) for f in fields(cls)})
            return command(*args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *spread])
        wrapper.__annotations__ = {**annotations, "return": None}
        return wrapper

    return decorate


ModelArg = typer.Argument(..., metavar="MODEL",
                          help="a registered name (`costlab list`), file.py:Class, "
                               "package.module:factory, torchvision:NAME, timm:NAME, "
                               "hf:CONFIG (a config.json, its directory or a model type) or "
                               "FILE.pt2")
PlotOpt = typer.Option(None, "--plot", help="also draw a figure to FILE.png, .svg or .pdf")


def _check_plot(plot: Optional[str]) -> None:
    """Before any work: the figure's path can be written."""
    if plot is not None:
        from costlab.report.plots import check_plot_path

        check_plot_path(plot)


def _draw_plot(plot: Optional[str], figure: Callable, result) -> None:
    if plot:
        figure(result, plot)
        typer.echo(f"figure written to {plot}", err=True)


def _check_threads(threads: Optional[int]) -> None:
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")


def _check_top(top: int) -> Optional[int]:
    if top < 0:
        raise UsageError(f"--top must be >= 0, got {top}")
    return top or None


@dataclass(frozen=True)
class CliSettings:
    """What the top-level options set for every command of one invocation."""

    debug: bool = False


def _show_version(show: bool) -> None:
    if show:
        from costlab.core.version import __version__

        typer.echo(f"costlab {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(ctx: typer.Context,
                 debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
                 version: bool = typer.Option(False, "--version", is_eager=True,
                                              callback=_show_version,
                                              help="print costlab's version and exit"),
                 ) -> None:
    ctx.obj = CliSettings(debug=debug or bool(os.environ.get("COSTLAB_DEBUG")))


@app.command("list", cls=PlainCommand)
@_guarded
@uses_options(out=OutputOptions)
def list_models(out: OutputOptions) -> None:
    """Show the registered models, their knobs and default inputs."""
    from costlab.models import registry
    from costlab.report.export import models_document

    out = out.checked()
    specs = [registry().get(n) for n in registry().names()]
    _emit(models_document(specs), out.fmt, out.output)


@app.command(cls=PlainCommand)
@_guarded
@uses_options(model_options=ModelOptions, count=CountOptions, step=StepOptions,
              out=OutputOptions, llm=PhaseOptions)
def analyze(
    model: str = ModelArg,
    depth: int = typer.Option(2, "--depth", "-d", help="module rows down to this depth"),
    layers: Optional[bool] = typer.Option(
        None, "--layers/--no-layers",
        help="also one row per op (151-795 rows for the zoo's CNNs); default: in csv and "
             "json, not in the table, md or html"),
    check: Optional[str] = typer.Option(None, "--check",
                                        help="cross-check with another counter: fvcore"),
    plot: Optional[str] = PlotOpt, *, model_options: ModelOptions, count: CountOptions,
    step: StepOptions, out: OutputOptions, llm: PhaseOptions,
) -> None:
    """Per-module and per-layer costs of one model (with --mode train, of one training
    step: forward, backward and optimizer step, and its memory; with --phase, of an LLM's
    phase)."""
    from costlab.report.export import analysis_document
    from costlab.report.figures import analysis_figure
    from costlab.workflows.analyze import analyze as run_analysis

    _check_plot(plot)
    if depth < 1:
        raise UsageError(f"--depth must be >= 1, got {depth}")
    if check not in (None, "fvcore"):
        raise UsageError(f"unknown --check {check!r}; the one available is fvcore")
    out = out.checked(plot=plot)
    llm.check_unused()
    if llm.phase is not None:
        if plot or check or count.device != "meta" or step.mode == "train":
            raise UsageError("--phase is traced on meta, without --plot, --check or "
                             "--mode train")
        return _emit(llm.document(model, model_options, count.dtype), out.fmt, out.output)
    options = {**model_options.api_kwargs(), **count.api_kwargs(), **step.api_kwargs()}
    if check is not None and step.mode == "train":
        raise UsageError("--check compares forward counts: drop --mode train")
    cost = run_analysis(model, **options)
    _draw_plot(plot, analysis_figure, cost)
    if check == "fvcore":
        return _emit_fvcore(model, cost, depth, out, options.get("model_kwargs"))
    if layers is None:
        layers = out.fmt in DATA_FORMATS
    _emit(analysis_document(cost, depth, layers), out.fmt, out.output)


def _emit_fvcore(model: str, cost, depth: int, out: OutputOptions,
                 model_kwargs: Optional[dict] = None) -> None:
    from costlab.analysis.fvcore_check import SUMMARY
    from costlab.report.export import frame_document
    from costlab.workflows.analyze import fvcore_check

    result = fvcore_check(model, cost, depth, model_kwargs)
    unsupported = ", ".join(f"{op} x{n}" for op, n in sorted(result.unsupported.items()))
    caption = SUMMARY + (f" fvcore's unsupported ops: {unsupported}." if unsupported else "")
    _emit(frame_document(result.frame, f"{cost.name}: costlab MACs beside fvcore", caption,
                         kind="fvcore_check"), out.fmt, out.output)


@app.command(cls=PlainCommand)
@_guarded
@uses_options(model_options=ModelOptions, timing=TimingOptions, out=OutputOptions)
def bench(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name or a user model specifier"),
    device: List[str] = typer.Option(["cpu"], "--device",
                                     help="cpu, cuda, or ssh://user@host[:port] (a board with "
                                          "costlab installed); repeat for several boards, "
                                          "timed at once, each row tagged with its host"),
    dtype: str = typer.Option("float32", "--dtype", help="float32, float16 or bfloat16"),
    channels_last: bool = typer.Option(False, "--channels-last",
                                       help="NHWC memory format for model and input"),
    warmup: Optional[int] = typer.Option(None, "--warmup",
                                         help="warm-up calls, at least (default 10)"),
    warmup_time: Optional[float] = typer.Option(None, "--warmup-time",
                                                help="warm-up seconds, at least (default 0.5)"),
    iters: Optional[int] = typer.Option(None, "--iters",
                                        help="timed calls, at least (default 50; 30 a "
                                             "round in rounds)"),
    memory: bool = typer.Option(True, "--memory/--no-memory",
                                help="measure peak memory (a fresh process on the CPU)"),
    remote_costlab: Optional[str] = typer.Option(
        None, "--remote-costlab", metavar="PATH",
        help="with --device ssh://: how to start costlab on the board, e.g. "
             "~/venv/bin/costlab (default: COSTLAB_REMOTE_COMMAND, else costlab)"),
    hardware: Optional[str] = typer.Option(
        None, "--hardware", "-H", help="a profile (nvidia_a100, ...): also MFU and bandwidth "
                                        "use against its peaks"),
    plot: Optional[str] = PlotOpt, *, model_options: ModelOptions, timing: TimingOptions,
    out: OutputOptions,
) -> None:
    """Measure a model's latency: median with its 95% CI, spread, throughput, peak memory,
    and the FLOP/s and bytes/s achieved (MFU and MBU with --hardware or a known GPU)."""
    from costlab.bench.protocol import BenchRequest
    from costlab.bench.remote import bench_over_ssh, is_ssh_device
    from costlab.bench.runner import bench as run_bench
    from costlab.report.figures import bench_figure
    from costlab.report.latency import bench_document
    from costlab.report.progress import progress_bar
    from costlab.workflows.fleet import bench_boards, check_boards

    _check_plot(plot)
    out = out.checked(plot=plot)
    if hardware is not None:
        from costlab.hardware import load_profile

        load_profile(hardware)  # an unknown profile fails before the timing, not after
    policy = timing.policy(warmup_iters=warmup, warmup_s=warmup_time, min_iters=iters)
    options = model_options.api_kwargs()
    boards = check_boards(device or ["cpu"])
    device = boards[0]
    if len(boards) > 1 or is_ssh_device(device):
        # each board runs the same benchmark and sends back its report
        request = BenchRequest.for_bench(model, options, dtype=dtype,
                                         channels_last=channels_last, threads=timing.threads,
                                         policy=policy, memory=memory)
        if len(boards) > 1:
            reports = bench_boards(boards, request, rounds=timing.round_count(),
                                   remote_command=remote_costlab)
            _emit(bench_document(reports), out.fmt, out.output)
            _draw_plot(plot, bench_figure, reports)
            return
        report = bench_over_ssh(device, request, remote_command=remote_costlab,
                                rounds=timing.round_count())
    else:
        with progress_bar(f"timing {model}", out.fmt == "table") as progress:
            report = run_bench(model, options, device=device, dtype=dtype,
                               channels_last=channels_last, threads=timing.threads,
                               policy=policy, memory=memory, progress=progress,
                               rounds=timing.round_count())
    from costlab.workflows.utilization import bench_utilization

    used = bench_utilization(model, options, report, hardware)
    _emit(bench_document([report], [used]), out.fmt, out.output)
    _draw_plot(plot, bench_figure, [report])


@app.command("serve-bench", hidden=True)
@_guarded
def serve_bench() -> None:
    """The board's side of ``bench --device ssh://``: one bench request (JSON) on stdin,
    its report (JSON) on stdout."""
    from costlab.bench.worker import serve

    sys.stdout.write(serve(sys.stdin.read()))


@app.command(cls=PlainCommand)
@_guarded
@uses_options(model_options=ModelOptions, count=CountOptions, timing=TimingOptions,
              step=StepOptions, out=OutputOptions)
def compare(
    models: List[str] = typer.Argument(..., metavar="MODEL...",
                                       help="models as for analyze (registered names or "
                                            "specifiers); the first is the baseline"),
    latency: bool = typer.Option(False, "--latency",
                                 help="also measure latency, the models timed interleaved"),
    latency_device: Optional[List[str]] = typer.Option(
        None, "--latency-device",
        help="cpu (default), cuda, or ssh://user@host[:port] boards (repeat: the boards are "
             "timed at once, one table each)"),
    drift: Optional[float] = typer.Option(
        None, "--drift", metavar="SD",
        help="between-run drift a latency ratio's CI and verdict take in, a relative "
             "standard deviation (default 0.035, measured on a shared 2-core machine; 0: "
             "the rounds alone)"),
    plot: Optional[str] = PlotOpt, *, model_options: ModelOptions, count: CountOptions,
    timing: TimingOptions, step: StepOptions, out: OutputOptions,
) -> None:
    """Models side by side with published numbers and ratios to the first."""
    from costlab.report.export import comparison_document
    from costlab.report.figures import comparison_figure, latency_comparison_figure
    from costlab.report.progress import progress_bar
    from costlab.workflows.compare import compare as run_comparison

    _check_plot(plot)
    out = out.checked(plot=plot)
    if latency and step.mode == "train":
        raise UsageError("--latency times inference forwards: drop --mode train")
    if drift is not None:
        from costlab.bench.stats import check_drift

        if not latency:
            raise UsageError("--drift widens measured latency ratios: add --latency")
        check_drift(drift)
    with progress_bar("timing", latency and out.fmt == "table") as progress:
        devices = list(latency_device or ["cpu"])
        latency_options = dict(device=devices[0] if len(devices) == 1 else devices,
                               threads=timing.threads,
                               progress=progress, policy=timing.policy(),
                               rounds=timing.round_count())
        if drift is not None:
            latency_options["drift"] = drift
        comparison = run_comparison(models, latency=latency, latency_options=latency_options,
                                    **model_options.api_kwargs(), **count.api_kwargs(),
                                    **step.api_kwargs())
    _emit(comparison_document(comparison), out.fmt, out.output)
    # with measured latency the telling picture is latency against MACs
    _draw_plot(plot, latency_comparison_figure if latency else comparison_figure, comparison)


def _guidelines_empirical(device: str, scale: int, quick: bool, out: OutputOptions) -> None:
    """Time the paper's four micro-benchmarks here and judge each guideline."""
    from costlab.bench.timing import TimingPolicy
    from costlab.report.empirical import empirical_document
    from costlab.report.progress import progress_bar
    from costlab.workflows.empirical import run_empirical

    out = out.checked()
    policy = TimingPolicy.quick() if quick else TimingPolicy()
    with progress_bar("timing", out.fmt == "table") as progress:
        run = run_empirical("cpu" if device == "meta" else device, scale, policy,
                            progress=progress)
    _emit(empirical_document(run), out.fmt, out.output)


@app.command(cls=PlainCommand)
@_guarded
@uses_options(model_options=ModelOptions, step=StepOptions, out=OutputOptions)
def guidelines(
    model: Optional[str] = typer.Argument(None, metavar="[MODEL]",
                                          help="a registered name or a user model specifier "
                                               "(not with --empirical)"),
    top: int = typer.Option(10, "--top", help="offenders shown per guideline (0: all)"),
    detail: bool = typer.Option(False, "--detail",
                                help="CSV: one row per offending layer instead of the summary"),
    empirical: bool = typer.Option(False, "--empirical",
                                   help="time the paper's micro-benchmarks (Tables 1-4) here "
                                        "instead of auditing a model"),
    quick: bool = typer.Option(False, "--quick", help="--empirical: a short timing run"),
    scale: int = typer.Option(1, "--scale",
                              help="--empirical: width step of the paper's tables, 1, 2 or 4"),
    latency: bool = typer.Option(False, "--latency",
                                 help="G4: also measure element-wise ops' share of the forward "
                                      "time on the CPU (costlab profile)"),
    threads: Optional[int] = declared_option(TimingOptions, "threads"),
    dtype: Optional[str] = declared_option(CountOptions, "dtype"),
    device: str = typer.Option("meta", "--device",
                               help="audit: meta or cpu; --empirical: cpu (default) or cuda"),
    *, model_options: ModelOptions, step: StepOptions, out: OutputOptions,
) -> None:
    """Audit a model against ShuffleNet V2's guidelines G1-G4, with the numbers behind each;
    or, with --empirical, time the paper's own experiments on this machine."""
    from costlab.report.export import guidelines_document
    from costlab.report.progress import progress_bar
    from costlab.workflows.guidelines import audit_model

    if empirical:
        if model is not None:
            raise UsageError("--empirical times the paper's micro-benchmarks and takes no MODEL")
        return _guidelines_empirical(device, scale, quick, out)
    if model is None:
        raise UsageError("give a MODEL to audit, or --empirical to time the paper's "
                         "micro-benchmarks")
    shown, out = _check_top(top), out.checked()
    with progress_bar(f"profiling {model}", latency and out.fmt == "table") as progress:
        if latency and step.mode == "train":
            raise UsageError("--latency profiles an inference forward: drop --mode train")
        result = audit_model(model, analysis_options={**model_options.api_kwargs(),
                                                      "dtype": dtype, "device": device,
                                                      **step.api_kwargs()},
                             run_options=model_options.api_kwargs(), latency=latency,
                             threads=threads, quick=quick, progress=progress)
    _emit(guidelines_document(result, shown, detail), out.fmt, out.output)


# a sweep's terminal table shows this many rows at most; the file and -f csv have them all
SWEEP_SCREEN_ROWS = 200


@app.command(cls=PlainCommand)
@_guarded
@uses_options(count=CountOptions, step=StepOptions, out=OutputOptions)
def sweep(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered model name, or a factory (space.py:build, "
                                     "package.module:build) whose keyword arguments are the "
                                     "knobs"),
    width: Optional[str] = typer.Option(None, "--width", "-w",
                                        help="width multipliers: a list 1,0.75,0.5 or a range "
                                             "START:STOP:STEP, e.g. 0.35:1.4:0.05"),
    resolution: Optional[str] = typer.Option(None, "--resolution", "-r",
                                             help="resolutions, e.g. 224,192,160,128 or "
                                                  "128:224:32"),
    knob: Optional[List[str]] = typer.Option(None, "--knob", "-k",
                                             help="any knob's values, NAME=V1,V2 or "
                                                  "NAME=START:STOP:STEP (repeatable)"),
    sample: Optional[int] = typer.Option(None, "--sample",
                                         help="cost N distinct random points of the grid "
                                              "(reproducible with --seed)"),
    seed: int = typer.Option(0, "--seed", help="the random seed of --sample"),
    input_shape: Optional[List[str]] = declared_option(ModelOptions, "input_shape"),
    batch: int = declared_option(ModelOptions, "batch"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j",
                                       help="worker processes (default: in this process up "
                                            "to 48 points, else one per core available; 0: "
                                            "in this process); with --ray, actors"),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                      help="run on Ray: local (start an instance here), "
                                           "auto, or a cluster's address (costlab[ray])"),
    resume: bool = typer.Option(False, "--resume",
                                help="skip the points already in -o FILE.csv/.parquet"),
    pareto: Optional[str] = typer.Option(None, "--pareto", metavar="COL,COL",
                                         help="show the Pareto front over two columns, e.g. "
                                              "macs,memory_access_bytes (add :max to "
                                              "maximize)"),
    plot: Optional[str] = PlotOpt, *, count: CountOptions, step: StepOptions,
    out: OutputOptions,
) -> None:
    """MACs and params over a search space: a grid of knob values and resolutions
    (MobileNet V1 Tables 6-7), ranges, random samples or a factory's arguments; here, on
    local worker processes or on Ray, streamed to -o FILE.csv/.parquet and resumable."""
    from costlab.report.export import sweep_document
    from costlab.report.figures import sweep_figure
    from costlab.report.progress import count_bar
    from costlab.report.results_file import streams_to
    from costlab.workflows.executors import choose_executor
    from costlab.workflows.sweep.pareto import parse_pareto
    from costlab.report.tables import sweep_columns
    from costlab.workflows.sweep.run import run_sweep
    from costlab.workflows.sweep.space import factory_space, registered_space

    _check_plot(plot)
    streamed = streams_to(out.output)
    if streamed is None:
        out = out.checked(plot=plot)
    elif out.fmt is not None and out.fmt != streamed:
        raise UsageError(f"{out.output} names {streamed} but --format is {out.fmt}: drop one, "
                         "or make them agree")
    if resume and streamed is None:
        raise UsageError("--resume needs -o FILE.csv or FILE.parquet: the results to resume")
    grid = _knobs(None, knob)
    if width is not None:
        grid = {"width": width, **grid}
    factory = _is_factory(model)
    options = {"batch": batch, **count.api_kwargs(), **step.api_kwargs()}
    if factory:
        if resolution is not None:
            raise UsageError("--resolution sweeps registered models; a factory's input is "
                             "--input (or sweep a knob of its own)")
        if not grid:
            raise UsageError("sweep needs at least one --knob NAME=VALUES of the factory")
        space = factory_space(grid, sample=sample, seed=seed)
        if input_shape:
            options["input_shape"] = list(input_shape)
    else:
        if input_shape:
            raise UsageError("--input is for a factory (space.py:build); a registered model's "
                             "input follows --resolution and --batch")
        space = registered_space(model, grid, resolution, sample=sample, seed=seed)
    objectives = parse_pareto(pareto, sweep_columns(space.names)) if pareto else None
    executor = choose_executor(jobs=jobs, ray=ray, points=len(space))
    shown = "table" if streamed else out.fmt
    with count_bar(f"costing {model}", shown == "table") as progress:
        result = run_sweep(model, space, factory=factory, options=options, executor=executor,
                           output=out.output if streamed else None, resume=resume,
                           pareto=objectives, progress=progress)
    failed = len(result.failed)
    if failed:
        first = result.failed.iloc[0]
        typer.echo(f"warning: {failed} of {len(result.frame)} points failed and are rows with "
                   f"their error; point {first['point']}: {first['error']}", err=True)
    if streamed:
        typer.echo(f"{len(result.frame)} points written to {out.output}"
                   + (f" ({result.resumed} were there already)" if result.resumed else ""),
                   err=True)
        if objectives is not None:
            _emit(sweep_document(result, shown_rows=SWEEP_SCREEN_ROWS), "table", None)
    else:
        shown_rows = SWEEP_SCREEN_ROWS if out.fmt == "table" and not out.output else None
        _emit(sweep_document(result, shown_rows=shown_rows), out.fmt, out.output)
    _draw_plot(plot, sweep_figure, result)
    if failed == len(result.frame):
        raise CostlabError(f"every point failed; point {first['point']}: {first['error']}")


def _is_factory(model: str) -> bool:
    from costlab.build.loaders import is_specifier
    from costlab.models import registry

    return is_specifier(model) and not registry().owns(model)


@app.command(cls=PlainCommand)
@_guarded
@uses_options(model_options=ModelOptions, step=StepOptions, out=OutputOptions,
              llm=PhaseOptions)
def estimate(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name or a user model specifier"),
    hardware: str = typer.Option(..., "--hardware", "-H",
                                 help="a profile name (raspberry_pi_4, nvidia_a100, ...) or a "
                                      "JSON file from `costlab calibrate`"),
    dtype: str = typer.Option("float32", "--dtype",
                              help="the peak to use: float32, tf32, float16, bfloat16, int8 "
                                   "(bytes are counted at its storage size)"),
    top: int = typer.Option(10, "--top", help="ops shown, by estimated time (0: all, in order)"),
    device: str = declared_option(CountOptions, "device"),
    plot: Optional[str] = PlotOpt, *, model_options: ModelOptions, step: StepOptions,
    out: OutputOptions, llm: PhaseOptions,
) -> None:
    """Roofline estimate of latency on a hardware profile: which ops are compute-,
    memory- or overhead-bound (with --phase, an LLM phase's tokens/s). An estimate, not a
    measurement."""
    from costlab.analysis.roofline import estimate as roofline_estimate
    from costlab.hardware import STORAGE_DTYPE, load_profile
    from costlab.report.figures import estimate_figure
    from costlab.report.roofline import estimate_document
    from costlab.workflows.analyze import analyze as run_analysis

    shown = _check_top(top)
    if dtype not in STORAGE_DTYPE:
        raise UsageError(f"unknown dtype {dtype!r}; choose from {', '.join(STORAGE_DTYPE)}")
    profile = load_profile(hardware)
    profile.peak_flops(dtype)  # fails now if the profile has no peak for it
    _check_plot(plot)
    out = out.checked(plot=plot)
    llm.check_unused()
    if llm.phase is not None:
        from costlab.workflows.llm import estimate_phase

        if plot or device != "meta" or step.mode == "train":
            raise UsageError("--phase is traced on meta, without --plot or --mode train")
        result = estimate_phase(model, llm.phase, hardware, dtype,
                                **llm.phase_kwargs(model_options))
        return _emit(result.document(), out.fmt, out.output)
    training = step.api_kwargs()
    # a training step's bytes follow its --precision; an inference's the peak's dtype
    storage = {} if training else {"dtype": STORAGE_DTYPE[dtype]}
    cost = run_analysis(model, **model_options.api_kwargs(), **storage, **training,
                        device=device)
    result = roofline_estimate(cost, profile, dtype)
    _emit(estimate_document(result, shown), out.fmt, out.output)
    _draw_plot(plot, estimate_figure, result)


@app.command(cls=PlainCommand)
@_guarded
def calibrate(
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="save the profile to FILE.json (atomically); "
                                              "default: print it as JSON"),
    quick: bool = typer.Option(False, "--quick", help="smaller sizes, a few seconds"),
    name: str = typer.Option("calibrated", "--name", help="the profile's name"),
) -> None:
    """Measure this machine's fp32 GFLOP/s (matmul), GB/s (copy) and per-op overhead, and
    save them as a hardware profile for `costlab estimate --hardware FILE`."""
    from costlab.bench.calibrate import calibrate as run_calibration
    from costlab.report.output_files import resolve_output, write_atomic
    from costlab.report.roofline import render_profile

    if output is not None:
        if not output.lower().endswith(".json"):
            raise UsageError(f"cannot save the profile to {output}: it is JSON, name it "
                             "FILE.json (estimate --hardware reads it back by that suffix)")
        resolve_output(output)
    profile = run_calibration(quick, lambda step: typer.echo(f"measuring {step}...", err=True)
                              ).to_profile(name)
    if not output:
        sys.stdout.write(profile.to_json())
        return
    write_atomic(output, profile.to_json())
    render_profile(profile, _console())
    typer.echo(f"saved to {output}; use it with: costlab estimate MODEL --hardware {output}")


@app.command(cls=PlainCommand)
@_guarded
def report(
    names: Optional[List[str]] = typer.Argument(None, metavar="[NAME]...",
                                                help="reports to make (see --all)"),
    all_reports: bool = typer.Option(False, "--all", help="make every report"),
    out_dir: str = typer.Option("reports", "--out-dir",
                                 help="where NAME.md and NAME.csv go (created if missing)"),
    latency: bool = typer.Option(True, "--latency/--no-latency",
                                 help="measure CPU latency where a report has it"),
    quick: bool = typer.Option(False, "--quick", help="short timing runs"),
    threads: Optional[int] = declared_option(TimingOptions, "threads"),
) -> None:
    """Regenerate the papers' tables (Markdown and CSV): MobileNet V1 vs V2, ShuffleNet V2's
    Table 8, MobileNet V1's grid, MobileNetV2's memory table, Inception v3's factorizations,
    the G1-G4 audit of the zoo."""
    from costlab.workflows.papers.context import ReportContext
    from costlab.workflows.papers.reports import make_reports, plan_reports

    _check_threads(threads)
    chosen = plan_reports(names or [], all_reports, out_dir)  # before any work
    command = "costlab report " + ("--all" if all_reports else " ".join(chosen)) \
        + ("" if latency else " --no-latency") + (" --quick" if quick else "") \
        + (f" --threads {threads}" if threads else "")
    context = ReportContext(latency=latency, quick=quick, threads=threads, command=command,
                            say=lambda message: typer.echo(message + "...", err=True))
    for paths in make_reports(chosen, context, out_dir):
        typer.echo("wrote " + " and ".join(str(p) for p in paths), err=True)


@app.command(cls=PlainCommand)
@_guarded
@uses_options(out=OutputOptions)
def formulas(out: OutputOptions) -> None:
    """What each op is counted as (the conventions, op by op)."""
    from costlab.analysis.formulas import formula_frame
    from costlab.core.conventions import caption
    from costlab.report.export import frame_document

    out = out.checked()
    _emit(frame_document(formula_frame(), "op cost formulas", caption(), kind="formulas"),
          out.fmt, out.output)


@app.command(cls=PlainCommand)
@_guarded
@uses_options(model_options=ModelOptions, out=OutputOptions)
def profile(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name or a user model specifier"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    threads: Optional[int] = declared_option(TimingOptions, "threads"),
    depth: int = typer.Option(1, "--depth", "-d", help="module rows down to this depth"),
    iters: Optional[int] = typer.Option(None, "--iters",
                                        help="profiled forwards, and as many plain ones "
                                             "timed between them, at least (default 20)"),
    quick: bool = typer.Option(False, "--quick",
                               help="a short run: 3 warm-up calls, >= 20 of each, <= 5 s"),
    *, model_options: ModelOptions, out: OutputOptions,
) -> None:
    """Where the forward time goes: measured time by op category (ShuffleNet V2's Figure 2)
    and by module, beside each one's share of FLOPs and memory access."""
    from costlab.bench.timing import TimingPolicy
    from costlab.report.profile import profile_document
    from costlab.report.progress import progress_bar
    from costlab.workflows.profile import profile_model

    out = out.checked()
    with progress_bar(f"profiling {model}", out.fmt == "table") as progress:
        report = profile_model(model, model_options.api_kwargs(), device=device,
                               threads=threads, iters=iters, depth=depth,
                               policy=TimingPolicy.quick() if quick else None,
                               progress=progress)
    for warning in report.warnings():
        typer.echo(f"warning: {warning}", err=True)
    _emit(profile_document(report), out.fmt, out.output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
