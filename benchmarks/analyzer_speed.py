"""How long one analysis takes: costlab beside fvcore, ptflops, thop, FlopCounterMode and a
bare forward pass, each tool's MAC total beside its time.

    python benchmarks/analyzer_speed.py [--quick] [--models a,b|cnn|all] [--repeats N]

Per model, every tool runs once per repetition, in turn (A B C ... A B C ...), so machine
drift hits them alike; the table gives the median and the range over the repetitions.
Tools, all on a model built once beforehand (a fresh copy per tool, since thop leaves
buffers behind):
- costlab (meta): ``costlab.analyze`` on the model built on meta: per-op records with
  bytes and dataflow edges, params, the module tree, and the per-module roll-up;
- costlab (name): ``costlab.analyze(NAME)``: the same, building the model on meta first;
- costlab (cpu): the same analysis of the CPU model (traced on meta stand-ins of its
  weights and inputs: no kernel runs);
- fvcore: ``FlopCountAnalysis(...).total()`` (jit trace; per-module totals included);
- ptflops: ``get_model_complexity_info(..., backend="pytorch")`` (module hooks);
- thop: ``thop.profile`` (module hooks);
- FlopCounterMode: torch.utils.flop_counter (dispatch mode; FLOPs / 2 shown as MACs);
- forward (cpu) and forward (meta): the model's forward under no_grad.
Peers are optional (``pip install -e '.[bench]'``); a missing one is skipped with a note.
Peak RSS per tool: one fresh subprocess per tool and model runs the tool once and reports
its peak RSS (VmHWM) and its RSS after imports; the difference is what the tool itself
needed (for the CPU tools, the model's weights included).

Writes reports/analyzer_speed.md and reports/analyzer_speed.csv (machine, versions, date).
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime
import importlib
import importlib.metadata
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"

CNNS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
        "shufflenet_v1", "shufflenet_v2", "efficientnet_b0", "resnet18", "resnet50",
        "inception_v3", "googlenet", "densenet121", "squeezenet", "xception",
        "nasnet_a_mobile", "resnext50_32x4d", "alexnet", "vgg16"]
DECODERS = ["transformer_encoder", "gpt2_small", "llama_70b"]
CPU_TOOLS = ["costlab (cpu)", "fvcore", "ptflops", "thop", "FlopCounterMode", "forward (cpu)"]
CPU_GOAL = 0.2  # costlab (cpu) / fvcore, on every zoo CNN
WEIGHT_LIMIT = 0.25  # of this machine's memory: larger models get no CPU copy
QUICK = ["mobilenet_v2", "shufflenet_v2", "resnet50"]
TOOLS = ["costlab (meta)", "costlab (name)", "costlab (cpu)", "fvcore", "ptflops", "thop",
         "FlopCounterMode", "forward (cpu)", "forward (meta)"]
PEERS = {"fvcore": "fvcore", "ptflops": "ptflops", "thop": "thop"}


# ------------------------------------------------------------------------ the tools

def _peer_missing(tool: str) -> str | None:
    module = PEERS.get(tool)
    if module is None:
        return None
    try:
        importlib.import_module(module)
    except ImportError:
        return f"{tool} not installed (pip install {module})"
    return None


class Subject:
    """One model and its inputs, on meta and on CPU, ready for every tool."""

    def __init__(self, name: str):
        import torch

        from costlab.build.meta_kernels import meta_construction
        from costlab.api import make_input
        from costlab.models import registry

        self.name = name
        spec = registry().get(name)
        self.spec = spec
        knobs = spec.resolve_knobs({})
        self.shape = spec.input_for(1, None, knobs)
        self.dtype = spec.input_dtype
        with meta_construction():
            self.meta_model = spec.build(input_shape=self.shape, **knobs).eval()
        self.meta_input = make_input(self.shape, self.dtype, "meta")
        self.weight_bytes = 4 * sum(p.numel() for p in self.meta_model.parameters())
        self.cpu_model = self.cpu_input = None
        if self.weight_bytes <= WEIGHT_LIMIT * _memory_bytes():
            torch.manual_seed(0)
            self.cpu_model = spec.build(input_shape=self.shape, **knobs).eval()
            self.cpu_input = make_input(self.shape, self.dtype, "cpu")

    def copy(self, private: bool = False):
        """The CPU model; a private copy for the tools that leave state on it (thop adds
        buffers and ptflops attributes, which later tools would trip over)."""
        return copy.deepcopy(self.cpu_model) if private else self.cpu_model


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def make_tool(tool: str, subject: Subject) -> Callable[[], Any]:
    """A zero-argument callable running ``tool`` once; it returns the MAC total or None."""
    import torch

    import costlab

    s = subject
    if tool == "costlab (meta)":
        def run():
            cost = costlab.analyze(s.meta_model, inputs=(s.meta_input,))
            cost.modules(1)
            return cost.total.macs
    elif tool == "costlab (name)":
        def run():
            cost = costlab.analyze(s.name)
            cost.modules(1)
            return cost.total.macs
    elif tool == "costlab (cpu)":
        model = s.copy()

        def run():
            cost = costlab.analyze(model, inputs=(s.cpu_input,))
            cost.modules(1)
            return cost.total.macs
    elif tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis

        model = s.copy()

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                analysis = FlopCountAnalysis(model, s.cpu_input)
                analysis.unsupported_ops_warnings(False)
                analysis.uncalled_modules_warnings(False)
                analysis.tracer_warnings("none")
                return int(analysis.total())
    elif tool == "ptflops":
        from ptflops import get_model_complexity_info

        model = s.copy(private=True)

        def run():
            with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                macs, _ = get_model_complexity_info(
                    model, tuple(s.shape[1:]), as_strings=False, print_per_layer_stat=False,
                    input_constructor=lambda _res: s.cpu_input, backend="pytorch")
            return int(macs)
    elif tool == "thop":
        import thop

        model = s.copy(private=True)

        def run():
            with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                macs, _ = thop.profile(model, inputs=(s.cpu_input,), verbose=False)
            return int(macs)
    elif tool == "FlopCounterMode":
        from torch.utils.flop_counter import FlopCounterMode

        model = s.copy()

        def run():
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                model(s.cpu_input)
            return counter.get_total_flops() // 2
    elif tool == "forward (cpu)":
        model = s.copy()

        def run():
            with torch.no_grad():
                model(s.cpu_input)
            return None
    elif tool == "forward (meta)":
        def run():
            with torch.no_grad():
                s.meta_model(s.meta_input)
            return None
    else:
        raise ValueError(f"unknown tool {tool!r}")
    return run


# ------------------------------------------------------------------- peak RSS (child)

def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB (10^6 bytes). VmHWM rather than
    ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec."""
    from costlab.bench.memory import maxrss_mb, status_mb

    value = status_mb(field)
    return maxrss_mb() if value is None else value


def child(tool: str, name: str, threads: int) -> None:
    """Import everything, note the RSS, build the model, run the tool once, report."""
    import torch

    torch.set_num_threads(threads)
    import costlab  # noqa: F401
    from costlab.models import registry

    registry()
    module = PEERS.get(tool)
    if module:
        importlib.import_module(module)
    if tool == "FlopCounterMode":
        import torch.utils.flop_counter  # noqa: F401
    baseline = _status_mb("VmRSS")
    if tool == "costlab (name)":
        run = make_tool(tool, _NameOnly(name))
    else:
        subject = Subject(name) if tool != "costlab (meta)" else _MetaOnly(name)
        run = make_tool(tool, subject)
    run()
    peak = _status_mb("VmHWM")
    print(json.dumps({"peak_mb": peak, "baseline_mb": baseline}))


class _NameOnly:
    def __init__(self, name: str):
        self.name = name


class _MetaOnly:
    """The meta half of a Subject: costlab on meta never builds the weights."""

    def __init__(self, name: str):
        from costlab.build.meta_kernels import meta_construction
        from costlab.api import make_input
        from costlab.models import registry

        spec = registry().get(name)
        knobs = spec.resolve_knobs({})
        shape = spec.input_for(1, None, knobs)
        with meta_construction():
            self.meta_model = spec.build(input_shape=shape, **knobs).eval()
        self.meta_input = make_input(shape, spec.input_dtype, "meta")


def peak_rss(tool: str, name: str, threads: int) -> tuple[float, float] | None:
    result = subprocess.run(
        [sys.executable, __file__, "--child", tool, name, "--threads", str(threads)],
        capture_output=True, text=True, cwd=ROOT, timeout=900)
    if result.returncode != 0:
        return None
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return data["peak_mb"], data["peak_mb"] - data["baseline_mb"]


# --------------------------------------------------------------------------- report

def environment(threads: int, repeats: int) -> dict[str, str]:
    import torch

    from costlab.bench.environment import cpu_model

    cpu = cpu_model()
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for package in ("costlab", "fvcore", "ptflops", "thop"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
                   f"{platform.release()}",
        "load": "load average %.2f %.2f %.2f at start" % os.getloadavg(),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "setup": f"torch threads {threads}; {repeats} repetitions, tools interleaved; "
                 "times exclude building the model except for costlab (name)",
    }


def fmt_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.1f}"


def fmt_range(samples: list[float]) -> str:
    return f"{min(samples) * 1e3:.1f}–{max(samples) * 1e3:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=None,
                        help="comma-separated names, or 'cnn' (the zoo's CNNs), 'all' "
                             "(CNNs and decoders); default: the CNN set and decoders")
    parser.add_argument("--quick", action="store_true",
                        help=f"{len(QUICK)} models, 3 repetitions, RSS of costlab and "
                             "fvcore only")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: steadier on shared cores)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--out", default=str(REPORTS / "analyzer_speed"),
                        help="report path without suffix (.md and .csv are written)")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(args.child[0], args.child[1], args.threads)
        return

    import torch

    torch.set_num_threads(args.threads)
    if args.models in (None, "all"):
        models = CNNS + DECODERS if not args.quick else QUICK
    elif args.models == "cnn":
        models = CNNS
    else:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    repeats = args.repeats or (3 if args.quick else 5)
    env = environment(args.threads, repeats)
    notes = [m for m in (_peer_missing(t) for t in TOOLS) if m]
    tools = [t for t in TOOLS if not _peer_missing(t)]
    rss_tools = ["costlab (name)", "costlab (meta)", "fvcore"] if args.quick else tools

    rows: list[dict[str, Any]] = []
    for name in models:
        print(f"{name}: building", file=sys.stderr, flush=True)
        subject = Subject(name)
        runs = {}
        for tool in tools:
            if tool in CPU_TOOLS and subject.cpu_model is None:
                notes.append(f"{name}: {tool} skipped: it needs the real weights, "
                             f"{subject.weight_bytes / 1e9:,.0f} GB in fp32 (this machine has "
                             f"{_memory_bytes() / 1e9:,.0f} GB)")
                continue
            try:
                runs[tool] = make_tool(tool, subject)
                runs[tool]()  # warm-up: first calls pay one-time imports and caches
            except Exception as exc:  # a peer that cannot handle this model
                runs.pop(tool, None)
                notes.append(f"{name}: {tool} failed: {type(exc).__name__}: "
                             f"{(str(exc).splitlines() or [''])[0][:120]}")
        times: dict[str, list[float]] = {t: [] for t in runs}
        macs: dict[str, Any] = {}
        for rep in range(repeats):
            print(f"{name}: repetition {rep + 1}/{repeats}", file=sys.stderr, flush=True)
            for tool, run in runs.items():
                start = time.perf_counter()
                macs[tool] = run()
                times[tool].append(time.perf_counter() - start)
        rss = {}
        if not args.no_rss:
            for tool in runs:
                if tool in rss_tools and not tool.startswith("forward"):
                    rss[tool] = peak_rss(tool, name, args.threads)
        for tool in runs:
            peak = rss.get(tool)
            rows.append({"model": name, "tool": tool, "median_ms": fmt_ms(times[tool]),
                         "range_ms": fmt_range(times[tool]),
                         "macs": "" if macs[tool] is None else macs[tool],
                         "peak_rss_mb": f"{peak[0]:.0f}" if peak else "",
                         "tool_rss_mb": f"{peak[1]:.0f}" if peak else "",
                         "samples_ms": " ".join(f"{t * 1e3:.1f}" for t in times[tool])})
        del subject, runs

    write_reports(rows, env, notes, Path(args.out), models)


def _ratio_lines(rows: list[dict[str, Any]], models: list[str]) -> list[str]:
    by = {(r["model"], r["tool"]): float(r["median_ms"]) for r in rows}
    lines = ["| model | costlab meta / fvcore | costlab cpu / fvcore | "
             "costlab meta / forward cpu | costlab cpu / forward cpu | "
             "costlab meta / forward meta |",
             "|---|---:|---:|---:|---:|---:|"]
    sums = {k: [0.0, 0.0] for k in ("fv", "cpu_fv", "fwd", "cpu", "meta")}
    met_fv = met_fwd = counted = 0
    met_cpu_fv, cnns = 0, 0  # the goal on a CPU module: <= CPU_GOAL x fvcore on every CNN
    missed_cpu: list[str] = []
    missed: list[str] = []

    def ratio(a: str, b: str, model: str, key: str) -> str:
        if (model, a) not in by or (model, b) not in by:
            return "–"
        sums[key][0] += by[(model, a)]
        sums[key][1] += by[(model, b)]
        return f"{by[(model, a)] / by[(model, b)]:.2f}x"

    for model in models:
        fv = ratio("costlab (meta)", "fvcore", model, "fv")
        cpu_fv = ratio("costlab (cpu)", "fvcore", model, "cpu_fv")
        fwd = ratio("costlab (meta)", "forward (cpu)", model, "fwd")
        cpu = ratio("costlab (cpu)", "forward (cpu)", model, "cpu")
        meta = ratio("costlab (meta)", "forward (meta)", model, "meta")
        lines.append(f"| {model} | {fv} | {cpu_fv} | {fwd} | {cpu} | {meta} |")
        if model in CNNS and cpu_fv != "–":
            cnns += 1
            met_cpu_fv += float(cpu_fv[:-1]) <= CPU_GOAL
            if float(cpu_fv[:-1]) > CPU_GOAL:
                missed_cpu.append(f"{model} ({cpu_fv})")
        if fv != "–" and fwd != "–":
            counted += 1
            met_fv += float(fv[:-1]) <= 0.5
            met_fwd += float(fwd[:-1]) <= 1.5
            if float(fv[:-1]) > 0.5 or float(fwd[:-1]) > 1.5:
                missed.append(f"{model} ({fv} fvcore, {fwd} a forward)")

    def total(key: str) -> str:
        a, b = sums[key]
        return f"{a / b:.2f}x" if b else "–"

    lines.append(f"| **all models (sum of medians)** | {total('fv')} | {total('cpu_fv')} | "
                 f"{total('fwd')} | {total('cpu')} | {total('meta')} |")
    lines += ["", f"Goal costlab (meta) <= 0.5x fvcore: met for {met_fv} of {counted} models; "
              f"<= 1.5x a bare CPU forward: met for {met_fwd} of {counted} models."]
    if cnns:
        lines += ["", f"Goal costlab (cpu), the analysis of a module with real weights on the "
                  f"CPU, <= {CPU_GOAL}x fvcore on every zoo CNN: met for {met_cpu_fv} of "
                  f"{cnns} CNNs" + (f"; missed by {', '.join(missed_cpu)}." if missed_cpu
                                    else ".")]
    if missed:
        lines += ["", "Missed by " + "; ".join(missed) + ": a small model whose bare forward "
                  "takes a few milliseconds, so costlab's fixed cost per op (tens of "
                  "microseconds of Python bookkeeping) is of the same order as torch's kernels."]
    cpu = [by[(m, "costlab (cpu)")] / by[(m, "forward (cpu)")] for m in models
           if (m, "costlab (cpu)") in by and (m, "forward (cpu)") in by]
    if cpu:
        lines += ["", "costlab analyzes on meta by default. A module with real weights is "
                  "traced on meta stand-ins of its parameters, buffers and inputs (no data "
                  "copied, no kernel run; the real forward only when it cannot run on meta): "
                  f"{min(cpu):.2f}x to {max(cpu):.2f}x a bare CPU forward here."]
    return lines


def write_reports(rows, env, notes, out: Path, models: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = ["model", "tool", "median_ms", "range_ms", "macs", "peak_rss_mb", "tool_rss_mb",
               "samples_ms"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out.with_suffix(".csv").write_text(buffer.getvalue())

    lines = ["# Analyzer speed: costlab beside fvcore, ptflops, thop and FlopCounterMode", "",
             f"Generated by `python benchmarks/analyzer_speed.py` on {env['date']}.", "",
             f"- Machine: {env['machine']} ({env['load']})",
             f"- Versions: {env['versions']}", f"- Setup: {env['setup']}", "",
             "Time is the median over the repetitions (range beside it). MACs are each "
             "tool's own total: fvcore counts one multiply-add as one flop and adds BatchNorm "
             "and adaptive pooling; ptflops and thop count module by module with conventions "
             "of their own (both add BatchNorm, for one); FlopCounterMode counts matmuls, "
             "convolutions and attention only (its FLOPs halved here). "
             "Peak RSS: the tool's subprocess high-water mark; 'tool' is that minus its RSS "
             "after imports (model building included for the CPU tools).", "",
             "## Ratios", ""]
    lines += _ratio_lines(rows, models)
    lines += ["", "## Every tool", "",
              "| model | tool | median ms | range ms | MACs | peak RSS MB | tool MB |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        macs = f"{r['macs']:,}" if isinstance(r["macs"], int) else r["macs"]
        lines.append(f"| {r['model']} | {r['tool']} | {r['median_ms']} | {r['range_ms']} | "
                     f"{macs} | {r['peak_rss_mb']} | {r['tool_rss_mb']} |")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
