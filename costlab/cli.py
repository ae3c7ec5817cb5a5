"""The command line: thin wrappers around costlab.api and costlab.report.

Nothing here imports torch at module level, so ``costlab --help`` stays fast.
"""

from __future__ import annotations

import os
import re
import sys
from functools import wraps
from typing import Callable, List, Optional

import typer

from costlab.core.errors import CostlabError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    # plain help: typer's rich help imports rich's markdown and syntax stack, which
    # takes --help from about 0.18 s to over 0.3 s
    rich_markup_mode=None,
    help="What a neural network really costs, layer by layer: MACs, FLOPs, params, "
         "memory-access cost.",
)

_state = {"debug": False}

FORMAT_HELP = "table, csv, md or json (default: from -o's suffix, else table)"


# The library's errors name its arguments; on the command line the flags say the same.
_FLAG_FOR_ARGUMENT = (
    (re.compile(r"\binput_shape\b"), "--input"),
    (re.compile(r"\bmodel_kwargs\b"), "--kwargs"),
    (re.compile(r"\binput_kwargs\b"), "--kwargs-inputs"),
    (re.compile(r"\bdevice=(?=\w)"), "--device "),
    (re.compile(r"^(iters|depth|threads) must be"), r"--\1 must be"),
)


def in_flag_words(message: str) -> str:
    """A library error in the CLI's words: ``input_shape`` -> ``--input``."""
    for pattern, flag in _FLAG_FOR_ARGUMENT:
        message = pattern.sub(flag, message)
    return message


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(command: Callable) -> Callable:
    """One-line errors and a non-zero exit instead of tracebacks (unless --debug)."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CostlabError as exc:
            if _state["debug"]:
                raise
            _fail(in_flag_words(str(exc)), exc.exit_code)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # anything else is a bug or an odd model: still one line
            if _state["debug"]:
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            _fail(f"{type(exc).__name__}: {first} (rerun with --debug for the traceback)", 1)

    return wrapper


def _emit(text_for: Callable[[str], str], draw: Callable, fmt: str, output: Optional[str]) -> None:
    """Print or write the result: rich table to the terminal, anything else as text."""
    from costlab.report.export import write_atomic
    from costlab.report.render import to_text

    if fmt == "table":
        if output:
            write_atomic(output, to_text(draw))
        else:
            from rich.console import Console

            # a pipe or a log gets wide tables rather than wrapped cells
            draw(Console(width=None if sys.stdout.isatty() else 200))
        return
    text = text_for(fmt)
    if output:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def _knobs(width: Optional[float], knob: Optional[List[str]]) -> dict:
    from costlab.core.errors import UsageError

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

    from costlab.core.errors import UsageError

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


def _options(width, knob, resolution, input_shape, batch, dtype, device, kwargs=None,
             kwargs_inputs=None) -> dict:
    from costlab.core.errors import UsageError

    options = dict(_knobs(width, knob))
    options.update(batch=batch, resolution=resolution, dtype=dtype, device=device)
    if input_shape:
        options["input_shape"] = list(input_shape)  # parsed (and checked) by the API
    model_kwargs = _json_object(kwargs, "--kwargs")
    if model_kwargs:
        options["model_kwargs"] = model_kwargs
    keyword_inputs = _json_object(kwargs_inputs, "--kwargs-inputs")
    for key, value in keyword_inputs.items():
        if not isinstance(value, str):
            raise UsageError(f"--kwargs-inputs: {key!r} must be a shape string like "
                             "\"1,128:int64\"")
        options.setdefault("input_kwargs", {})[key] = value
    return options


def _run_options(width, knob, resolution, input_shape, batch, kwargs=None,
                 kwargs_inputs=None) -> dict:
    """``_options`` for building a model to run (bench, profile): they choose the device and
    dtype themselves."""
    options = _options(width, knob, resolution, input_shape, batch, None, "cpu", kwargs,
                       kwargs_inputs)
    return {k: v for k, v in options.items() if k not in ("device", "dtype")}


def _prepare_output(fmt: Optional[str], output: Optional[str]) -> str:
    from costlab.report.export import check_writable, format_for

    fmt = format_for(fmt, output)
    if output:
        check_writable(output)  # before the work, not after
    return fmt


WidthOpt = typer.Option(None, "--width", "-w", help="width multiplier alpha (MobileNets)")
KnobOpt = typer.Option(None, "--knob", "-k", help="any model knob, NAME=VALUE (repeatable)")
ResolutionOpt = typer.Option(None, "--resolution", "-r",
                             help="input resolution rho, as pixels per side (e.g. 192)")
InputOpt = typer.Option(None, "--input", "-i",
                        help="an input's shape, e.g. 1,3,224,224, or 1,128:int64 for token ids "
                             "(repeat for several inputs)")
KwargsOpt = typer.Option(None, "--kwargs",
                         help="constructor arguments of a user model, as JSON: "
                              "'{\"num_classes\": 10}'")
KwargsInputsOpt = typer.Option(None, "--kwargs-inputs",
                               help="keyword inputs of forward, as JSON: "
                                    "'{\"mask\": \"1,128:int64\"}'")
BatchOpt = typer.Option(1, "--batch", "-b", help="batch size")
DtypeOpt = typer.Option(None, "--dtype",
                        help="storage dtype for memory-access bytes: float32, float16, "
                             "bfloat16, int8 (default: each tensor's own)")
DeviceOpt = typer.Option("meta", "--device", help="meta (no weights allocated) or cpu")
FormatOpt = typer.Option(None, "--format", "-f", help=FORMAT_HELP)
OutputOpt = typer.Option(None, "--output", "-o", help="write to FILE (atomically)")
PlotOpt = typer.Option(None, "--plot", help="also draw a figure to FILE.png, .svg or .pdf "
                                            "(needs matplotlib: pip install 'costlab[plot]')")


def _check_plot(plot: Optional[str]) -> None:
    """Before any work: the figure's path can be written and matplotlib is there."""
    if plot is not None:
        from costlab.report.plots import check_plot_path

        check_plot_path(plot)


def _draw_plot(plot: Optional[str], figure: Callable, result) -> None:
    if plot:
        figure(result, plot)
        typer.echo(f"figure written to {plot}", err=True)


@app.callback()
def main_options(debug: bool = typer.Option(False, "--debug", help="show tracebacks")) -> None:
    _state["debug"] = debug or bool(os.environ.get("COSTLAB_DEBUG"))


@app.command("list")
@_guarded
def list_models(fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt) -> None:
    """Show the registered models, their knobs and default inputs."""
    from costlab.models import registry
    from costlab.report.export import models_text
    from costlab.report.render import render_models

    fmt = _prepare_output(fmt, output)
    reg = registry()
    specs = [reg.get(n) for n in reg.names()]
    _emit(lambda f: models_text(specs, f), lambda c: render_models(specs, c), fmt, output)


@app.command()
@_guarded
def analyze(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name (`costlab list`), file.py:Class, "
                                     "package.module:factory, torchvision:NAME, timm:NAME "
                                     "or FILE.pt2"),
    depth: int = typer.Option(1, "--depth", "-d", help="module rows down to this depth"),
    layers: bool = typer.Option(True, "--layers/--no-layers", help="one row per op"),
    check: Optional[str] = typer.Option(None, "--check",
                                        help="cross-check with another counter: fvcore"),
    plot: Optional[str] = PlotOpt,
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt, device: str = DeviceOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Per-module and per-layer costs of one model."""
    _check_plot(plot)
    from costlab.api import analyze as run_analysis
    from costlab.core.errors import UsageError
    from costlab.report.export import analysis_text
    from costlab.report.render import render_analysis

    if depth < 1:
        raise UsageError(f"--depth must be >= 1, got {depth}")
    if check not in (None, "fvcore"):
        raise UsageError(f"unknown --check {check!r}; the one available is fvcore")
    fmt = _prepare_output(fmt, output)
    options = _options(width, knob, resolution, input_shape, batch, dtype, device, kwargs,
                       kwargs_inputs)
    cost = run_analysis(model, **options)
    from costlab.report.figures import analysis_figure

    _draw_plot(plot, analysis_figure, cost)
    if check == "fvcore":
        _emit_fvcore(model, cost, depth, fmt, output, options.get("model_kwargs"))
        return
    _emit(lambda f: analysis_text(cost, f, depth, layers),
          lambda c: render_analysis(cost, depth, layers, c), fmt, output)


def _emit_fvcore(model: str, cost, depth: int, fmt: str, output: Optional[str],
                 model_kwargs: Optional[dict] = None) -> None:
    from costlab.analysis.fvcore_check import SUMMARY
    from costlab.api import fvcore_check
    from costlab.report.export import frame_text
    from costlab.report.render import render_frame

    result = fvcore_check(model, cost, depth, model_kwargs)
    unsupported = ", ".join(f"{op} x{n}" for op, n in sorted(result.unsupported.items()))
    caption = SUMMARY + (f" fvcore's unsupported ops: {unsupported}." if unsupported else "")
    _emit(lambda f: frame_text(result.frame, f, caption, kind="fvcore_check"),
          lambda c: render_frame(result.frame, f"{cost.name}: costlab MACs beside fvcore", c,
                                 caption), fmt, output)


ThreadsOpt = typer.Option(None, "--threads", help="torch intra-op threads (default: torch's)")
QuickOpt = typer.Option(False, "--quick", help="a short run: 3 warm-up calls, >= 20 timed, <= 5 s")
MinTimeOpt = typer.Option(None, "--min-time", help="seconds of timed calls, at least (default 1)")
MaxTimeOpt = typer.Option(None, "--max-time", help="seconds of timed calls, at most (default 30)")


def _policy(quick: bool, warmup: Optional[int], warmup_time: Optional[float],
            iters: Optional[int], min_time: Optional[float], max_time: Optional[float]):
    from dataclasses import replace

    from costlab.bench.timing import TimingPolicy

    policy = TimingPolicy.quick() if quick else TimingPolicy()
    changes = {k: v for k, v in (("warmup_iters", warmup), ("warmup_s", warmup_time),
                                 ("min_iters", iters), ("min_s", min_time),
                                 ("max_s", max_time)) if v is not None}
    return replace(policy, **changes)


@app.command()
@_guarded
def bench(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name or a user model specifier"),
    device: str = typer.Option("cpu", "--device",
                               help="cpu, cuda, or ssh://user@host[:port] (a board with "
                                    "costlab installed)"),
    threads: Optional[int] = ThreadsOpt,
    dtype: str = typer.Option("float32", "--dtype", help="float32, float16 or bfloat16"),
    channels_last: bool = typer.Option(False, "--channels-last",
                                       help="NHWC memory format for model and input"),
    warmup: Optional[int] = typer.Option(None, "--warmup",
                                         help="warm-up calls, at least (default 10)"),
    warmup_time: Optional[float] = typer.Option(None, "--warmup-time",
                                                help="warm-up seconds, at least (default 0.5)"),
    iters: Optional[int] = typer.Option(None, "--iters", help="timed calls, at least (default 50)"),
    min_time: Optional[float] = MinTimeOpt, max_time: Optional[float] = MaxTimeOpt,
    quick: bool = QuickOpt,
    memory: bool = typer.Option(True, "--memory/--no-memory",
                                help="measure peak memory (a fresh process on the CPU)"),
    remote_costlab: Optional[str] = typer.Option(
        None, "--remote-costlab", metavar="PATH",
        help="with --device ssh://: how to start costlab on the board, e.g. "
             "~/venv/bin/costlab (default: COSTLAB_REMOTE_COMMAND, else costlab)"),
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt,
    plot: Optional[str] = PlotOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Measure a model's latency: median with its 95% CI, spread, throughput, peak memory."""
    _check_plot(plot)
    from costlab.bench.protocol import BenchRequest
    from costlab.bench.remote import bench_over_ssh, is_ssh_device
    from costlab.bench.runner import bench as run_bench
    from costlab.report.latency import bench_text, render_bench
    from costlab.report.progress import progress_bar

    fmt = _prepare_output(fmt, output)
    policy = _policy(quick, warmup, warmup_time, iters, min_time, max_time)
    options = _run_options(width, knob, resolution, input_shape, batch, kwargs, kwargs_inputs)
    if is_ssh_device(device):  # the board runs the same bench and sends back its report
        request = BenchRequest.for_bench(model, options, dtype=dtype,
                                         channels_last=channels_last, threads=threads,
                                         policy=policy, memory=memory)
        report = bench_over_ssh(device, request, remote_command=remote_costlab)
    else:
        with progress_bar(f"timing {model}", fmt == "table") as progress:
            report = run_bench(model, options, device=device, dtype=dtype,
                               channels_last=channels_last, threads=threads, policy=policy,
                               memory=memory, progress=progress)
    _emit(lambda f: bench_text([report], f), lambda c: render_bench([report], c), fmt, output)
    from costlab.report.figures import bench_figure

    _draw_plot(plot, bench_figure, [report])


@app.command("serve-bench", hidden=True)
@_guarded
def serve_bench() -> None:
    """The board's side of ``bench --device ssh://``: one bench request (JSON) on stdin,
    its report (JSON) on stdout."""
    from costlab.bench.protocol import serve

    sys.stdout.write(serve(sys.stdin.read()))


@app.command()
@_guarded
def compare(
    models: List[str] = typer.Argument(..., metavar="MODEL...",
                                       help="models as for analyze (registered names or "
                                            "specifiers); the first is the baseline"),
    plot: Optional[str] = PlotOpt,
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt, device: str = DeviceOpt,
    latency: bool = typer.Option(False, "--latency",
                                 help="also measure latency, the models timed interleaved"),
    latency_device: str = typer.Option("cpu", "--latency-device", help="cpu or cuda"),
    threads: Optional[int] = ThreadsOpt, quick: bool = QuickOpt,
    min_time: Optional[float] = MinTimeOpt, max_time: Optional[float] = MaxTimeOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Models side by side with published numbers and ratios to the first."""
    _check_plot(plot)
    from costlab.api import compare as run_comparison
    from costlab.report.export import comparison_text
    from costlab.report.progress import progress_bar
    from costlab.report.render import render_comparison

    fmt = _prepare_output(fmt, output)
    options = _options(width, knob, resolution, input_shape, batch, dtype, device, kwargs,
                       kwargs_inputs)
    with progress_bar("timing", latency and fmt == "table") as progress:
        latency_options = dict(device=latency_device, threads=threads, progress=progress,
                               policy=_policy(quick, None, None, None, min_time, max_time))
        comparison = run_comparison(models, latency=latency, latency_options=latency_options,
                                    **options)
    _emit(lambda f: comparison_text(comparison, f),
          lambda c: render_comparison(comparison, c), fmt, output)
    from costlab.report.figures import comparison_figure, latency_comparison_figure

    # with measured latency the telling picture is latency against MACs
    _draw_plot(plot, latency_comparison_figure if latency else comparison_figure, comparison)


def _guidelines_empirical(device: str, scale: int, quick: bool, fmt: Optional[str],
                          output: Optional[str]) -> None:
    """Time the paper's four micro-benchmarks here and judge each guideline."""
    from costlab.workflows.empirical import run_empirical
    from costlab.bench.timing import TimingPolicy
    from costlab.report.empirical import empirical_text, render_empirical
    from costlab.report.progress import progress_bar

    fmt = _prepare_output(fmt, output)
    policy = TimingPolicy.quick() if quick else TimingPolicy()
    with progress_bar("timing", fmt == "table") as progress:
        run = run_empirical("cpu" if device == "meta" else device, scale, policy,
                            progress=progress)
    _emit(lambda f: empirical_text(run, f), lambda c: render_empirical(run, c), fmt, output)


def _measured_g4(model, result, width, knob, resolution, input_shape, batch, kwargs,
                 kwargs_inputs, threads, quick, fmt):
    from costlab.analysis.guidelines import with_measured_g4
    from costlab.bench.profile import DEPTHWISE, ELEMENTWISE
    from costlab.workflows.profile import profile_model
    from costlab.report.progress import progress_bar

    options = _run_options(width, knob, resolution, input_shape, batch, kwargs, kwargs_inputs)
    with progress_bar(f"profiling {model}", fmt == "table") as progress:
        report = profile_model(model, options, threads=threads, progress=progress,
                               policy=_policy(quick, None, None, None, None, None))
    share = {row.name: row.time_share for row in report.categories}
    return with_measured_g4(result, share.get(ELEMENTWISE, 0.0), share.get(DEPTHWISE, 0.0),
                            f"{report.device}, {report.threads} "
                            f"thread{'s' if report.threads != 1 else ''}, "
                            f"median forward {report.measured.median_ms:.2f} ms")


@app.command()
@_guarded
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
    threads: Optional[int] = ThreadsOpt,
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt,
    device: str = typer.Option("meta", "--device",
                               help="audit: meta or cpu; --empirical: cpu (default) or cuda"),
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Audit a model against ShuffleNet V2's guidelines G1-G4, with the numbers behind each;
    or, with --empirical, time the paper's own experiments on this machine."""
    from costlab.analysis.guidelines import audit
    from costlab.api import analyze as run_analysis
    from costlab.core.errors import UsageError
    from costlab.report.export import guidelines_text
    from costlab.report.render import render_guidelines

    if empirical:
        if model is not None:
            raise UsageError("--empirical times the paper's micro-benchmarks and takes no MODEL")
        return _guidelines_empirical(device, scale, quick, fmt, output)
    if model is None:
        raise UsageError("give a MODEL to audit, or --empirical to time the paper's "
                         "micro-benchmarks")
    if top < 0:
        raise UsageError(f"--top must be >= 0, got {top}")
    fmt = _prepare_output(fmt, output)
    cost = run_analysis(model, **_options(width, knob, resolution, input_shape, batch, dtype,
                                          device, kwargs, kwargs_inputs))
    result = audit(cost)
    if latency:
        result = _measured_g4(model, result, width, knob, resolution, input_shape, batch,
                              kwargs, kwargs_inputs, threads, quick, fmt)
    _emit(lambda f: guidelines_text(result, f, top or None, detail),
          lambda c: render_guidelines(result, c, top or None), fmt, output)


@app.command()
@_guarded
def sweep(
    model: str = typer.Argument(..., metavar="MODEL", help="a registered model name"),
    plot: Optional[str] = PlotOpt,
    width: Optional[str] = typer.Option(None, "--width", "-w",
                                        help="width multipliers, e.g. 1,0.75,0.5,0.25"),
    resolution: Optional[str] = typer.Option(None, "--resolution", "-r",
                                             help="resolutions, e.g. 224,192,160,128"),
    knob: Optional[List[str]] = typer.Option(None, "--knob", "-k",
                                             help="any knob's values, NAME=V1,V2 (repeatable)"),
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt, device: str = DeviceOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """MACs and params over a grid of knob values and resolutions (MobileNet V1 Tables 6-7)."""
    _check_plot(plot)
    from costlab.api import sweep as run_sweep
    from costlab.report.export import sweep_text
    from costlab.report.render import render_sweep

    fmt = _prepare_output(fmt, output)
    grid = _knobs(None, knob)
    if width is not None:
        grid = {"width": width, **grid}
    result = run_sweep(model, grid, resolution, batch=batch, dtype=dtype, device=device)
    _emit(lambda f: sweep_text(result, f), lambda c: render_sweep(result, c), fmt, output)
    from costlab.report.figures import sweep_figure

    _draw_plot(plot, sweep_figure, result)


@app.command()
@_guarded
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
    plot: Optional[str] = PlotOpt,
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, device: str = DeviceOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Roofline estimate of latency on a hardware profile: which ops are compute-,
    memory- or overhead-bound. An estimate, not a measurement."""
    from costlab.analysis.roofline import estimate as roofline_estimate
    from costlab.api import analyze as run_analysis
    from costlab.core.errors import UsageError
    from costlab.hardware import STORAGE_DTYPE, load_profile
    from costlab.report.figures import estimate_figure
    from costlab.report.roofline import estimate_text, render_estimate

    if top < 0:
        raise UsageError(f"--top must be >= 0, got {top}")
    if dtype not in STORAGE_DTYPE:
        raise UsageError(f"unknown dtype {dtype!r}; choose from {', '.join(STORAGE_DTYPE)}")
    profile = load_profile(hardware)
    profile.peak_flops(dtype)  # fails now if the profile has no peak for it
    _check_plot(plot)
    fmt = _prepare_output(fmt, output)
    cost = run_analysis(model, **_options(width, knob, resolution, input_shape, batch,
                                          STORAGE_DTYPE[dtype], device, kwargs, kwargs_inputs))
    result = roofline_estimate(cost, profile, dtype)
    _emit(lambda f: estimate_text(result, f, top or None),
          lambda c: render_estimate(result, c, top or None), fmt, output)
    _draw_plot(plot, estimate_figure, result)


@app.command()
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
    from rich.console import Console

    from costlab.bench.calibrate import calibrate as run_calibration
    from costlab.report.export import check_writable, write_atomic
    from costlab.report.roofline import render_profile

    from costlab.core.errors import UsageError

    if output is not None:
        if not output.lower().endswith(".json"):
            raise UsageError(f"cannot save the profile to {output}: it is JSON, name it "
                             "FILE.json (estimate --hardware reads it back by that suffix)")
        check_writable(output)

    def progress(step: str) -> None:
        typer.echo(f"measuring {step}...", err=True)

    profile = run_calibration(quick, progress).to_profile(name)
    if not output:
        sys.stdout.write(profile.to_json())
        return
    write_atomic(output, profile.to_json())
    render_profile(profile, Console(width=None if sys.stdout.isatty() else 200))
    typer.echo(f"saved to {output}; use it with: costlab estimate MODEL --hardware {output}")


@app.command()
@_guarded
def report(
    names: Optional[List[str]] = typer.Argument(None, metavar="[NAME]...",
                                                help="reports to make (see --all)"),
    all_reports: bool = typer.Option(False, "--all", help="make every report"),
    out_dir: str = typer.Option("reports", "--out-dir", help="where NAME.md and NAME.csv go"),
    latency: bool = typer.Option(True, "--latency/--no-latency",
                                 help="measure CPU latency where a report has it"),
    quick: bool = typer.Option(False, "--quick", help="short timing runs"),
    threads: Optional[int] = ThreadsOpt,
) -> None:
    """Regenerate the papers' tables (Markdown and CSV): MobileNet V1 vs V2, ShuffleNet V2's
    Table 8, MobileNet V1's grid, MobileNetV2's memory table, Inception v3's factorizations,
    the G1-G4 audit of the zoo."""
    from pathlib import Path

    from costlab.core.errors import UsageError
    from costlab.report.export import check_writable
    from costlab.workflows.papers.context import ReportContext
    from costlab.workflows.papers.reports import REPORTS, check_names, write_report

    if all_reports == bool(names):
        raise UsageError("name the reports to make, or give --all; reports: "
                         + ", ".join(REPORTS))
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")
    chosen = list(REPORTS) if all_reports else check_names(names)
    if not Path(out_dir).is_dir():
        raise UsageError(f"--out-dir {out_dir}: no such directory")
    for name in chosen:  # before any work
        check_writable(str(Path(out_dir) / f"{name}.md"))
        check_writable(str(Path(out_dir) / f"{name}.csv"))
    command = "costlab report " + ("--all" if all_reports else " ".join(chosen)) \
        + ("" if latency else " --no-latency") + (" --quick" if quick else "") \
        + (f" --threads {threads}" if threads else "")
    context = ReportContext(latency=latency, quick=quick, threads=threads, command=command,
                            say=lambda message: typer.echo(message + "...", err=True))
    for name in chosen:
        context.say(f"building {name}")
        paths = write_report(REPORTS[name](context), context, out_dir)
        typer.echo("wrote " + " and ".join(str(p) for p in paths), err=True)


@app.command()
@_guarded
def formulas(fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt) -> None:
    """What each op is counted as (the conventions, op by op)."""
    from costlab.analysis.formulas import formula_frame
    from costlab.core.conventions import caption
    from costlab.report.export import frame_text
    from costlab.report.render import render_frame

    fmt = _prepare_output(fmt, output)
    frame = formula_frame()
    _emit(lambda f: frame_text(frame, f, caption(), kind="formulas"),
          lambda c: render_frame(frame, "op cost formulas", c, caption()), fmt, output)


@app.command()
@_guarded
def profile(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name or a user model specifier"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    threads: Optional[int] = ThreadsOpt,
    depth: int = typer.Option(1, "--depth", "-d", help="module rows down to this depth"),
    iters: Optional[int] = typer.Option(None, "--iters",
                                        help="profiled forwards, and as many plain ones "
                                             "timed between them, at least (default 20)"),
    quick: bool = typer.Option(False, "--quick",
                               help="a short run: 3 warm-up calls, >= 20 of each, <= 5 s"),
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Where the forward time goes: measured time by op category (ShuffleNet V2's Figure 2)
    and by module, beside each one's share of FLOPs and memory access."""
    from costlab.workflows.profile import profile_model
    from costlab.bench.timing import TimingPolicy
    from costlab.report.profile import profile_text, render_profile
    from costlab.report.progress import progress_bar

    fmt = _prepare_output(fmt, output)
    options = _run_options(width, knob, resolution, input_shape, batch, kwargs, kwargs_inputs)
    policy = TimingPolicy.quick() if quick else None
    with progress_bar(f"profiling {model}", fmt == "table") as progress:
        report = profile_model(model, options, device=device, threads=threads, iters=iters,
                               depth=depth, policy=policy, progress=progress)
    for warning in report.warnings():
        typer.echo(f"warning: {warning}", err=True)
    _emit(lambda f: profile_text(report, f), lambda c: render_profile(report, c), fmt, output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
