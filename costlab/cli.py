"""The command line: thin wrappers around costlab.api and costlab.report.

Nothing here imports torch at module level, so ``costlab --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from functools import wraps
from typing import Callable, List, Optional

import typer

from costlab.errors import CostlabError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="What a neural network really costs, layer by layer: MACs, FLOPs, params, "
         "memory-access cost.",
)

_state = {"debug": False}

FORMAT_HELP = "table, csv, md or json (default: from -o's suffix, else table)"


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
            _fail(str(exc), exc.exit_code)
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
    from costlab.errors import UsageError

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

    from costlab.errors import UsageError

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
    from costlab.errors import UsageError

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
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt, device: str = DeviceOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Per-module and per-layer costs of one model."""
    from costlab.api import analyze as run_analysis
    from costlab.errors import UsageError
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


@app.command()
@_guarded
def compare(
    models: List[str] = typer.Argument(..., metavar="MODEL...",
                                       help="models as for analyze (registered names or "
                                            "specifiers); the first is the baseline"),
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt, device: str = DeviceOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Models side by side with published numbers and ratios to the first."""
    from costlab.api import compare as run_comparison
    from costlab.report.export import comparison_text
    from costlab.report.render import render_comparison

    fmt = _prepare_output(fmt, output)
    comparison = run_comparison(models, **_options(width, knob, resolution, input_shape, batch,
                                                   dtype, device, kwargs, kwargs_inputs))
    _emit(lambda f: comparison_text(comparison, f),
          lambda c: render_comparison(comparison, c), fmt, output)


@app.command()
@_guarded
def guidelines(
    model: str = typer.Argument(..., metavar="MODEL",
                                help="a registered name or a user model specifier"),
    top: int = typer.Option(10, "--top", help="offenders shown per guideline (0: all)"),
    detail: bool = typer.Option(False, "--detail",
                                help="CSV: one row per offending layer instead of the summary"),
    width: Optional[float] = WidthOpt, knob: Optional[List[str]] = KnobOpt,
    resolution: Optional[int] = ResolutionOpt, input_shape: Optional[List[str]] = InputOpt,
    kwargs: Optional[str] = KwargsOpt, kwargs_inputs: Optional[str] = KwargsInputsOpt,
    batch: int = BatchOpt, dtype: Optional[str] = DtypeOpt, device: str = DeviceOpt,
    fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt,
) -> None:
    """Audit a model against ShuffleNet V2's guidelines G1-G4, with the numbers behind each."""
    from costlab.analysis.guidelines import audit
    from costlab.api import analyze as run_analysis
    from costlab.errors import UsageError
    from costlab.report.export import guidelines_text
    from costlab.report.render import render_guidelines

    if top < 0:
        raise UsageError(f"--top must be >= 0, got {top}")
    fmt = _prepare_output(fmt, output)
    cost = run_analysis(model, **_options(width, knob, resolution, input_shape, batch, dtype,
                                          device, kwargs, kwargs_inputs))
    result = audit(cost)
    _emit(lambda f: guidelines_text(result, f, top or None, detail),
          lambda c: render_guidelines(result, c, top or None), fmt, output)


@app.command()
@_guarded
def sweep(
    model: str = typer.Argument(..., metavar="MODEL", help="a registered model name"),
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
    from costlab.api import sweep as run_sweep
    from costlab.report.export import sweep_text
    from costlab.report.render import render_sweep

    fmt = _prepare_output(fmt, output)
    grid = _knobs(None, knob)
    if width is not None:
        grid = {"width": width, **grid}
    result = run_sweep(model, grid, resolution, batch=batch, dtype=dtype, device=device)
    _emit(lambda f: sweep_text(result, f), lambda c: render_sweep(result, c), fmt, output)


@app.command()
@_guarded
def formulas(fmt: Optional[str] = FormatOpt, output: Optional[str] = OutputOpt) -> None:
    """What each op is counted as (the conventions, op by op)."""
    from costlab.analysis.formulas import formula_frame
    from costlab.conventions import caption
    from costlab.report.export import frame_text
    from costlab.report.render import render_frame

    fmt = _prepare_output(fmt, output)
    frame = formula_frame()
    _emit(lambda f: frame_text(frame, f, caption(), kind="formulas"),
          lambda c: render_frame(frame, "op cost formulas", c, caption()), fmt, output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
