"""Export results as CSV, Markdown (through pandas) and JSON, written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from costlab import SCHEMA_VERSION, __version__, conventions
from costlab.errors import UsageError
from costlab.report import tables

if TYPE_CHECKING:
    import pandas as pd

    from costlab.core.records import ModelCost
    from costlab.api import ModelComparison
    from costlab.models.registry import ModelSpec

FORMATS = ("table", "csv", "md", "json")
_SUFFIXES = {".csv": "csv", ".md": "md", ".markdown": "md", ".json": "json", ".txt": "table"}


def format_for(fmt: str | None, output: str | None) -> str:
    """The chosen format, else the one ``output``'s suffix names, else a table."""
    if fmt is None:
        fmt = _SUFFIXES.get(Path(output).suffix.lower(), "table") if output else "table"
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return fmt


def check_writable(output: str) -> None:
    """Fail before any work if ``output`` cannot be written."""
    target = Path(output)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"cannot write {output}: it is a directory")
    if not parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"cannot write {output}: permission denied")


@contextlib.contextmanager
def atomic_path(output: str) -> Iterator[str]:
    """A temporary path beside ``output`` to write to; renamed into place when the block
    succeeds, removed when it fails, so a failure never leaves a half-written file. The file
    gets the usual permissions (0666 less the umask), not mkstemp's private 0600."""
    check_writable(output)
    target = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp",
                               dir=target.parent or ".")
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(output: str, text: str) -> None:
    """Write ``text`` to ``output`` atomically (see ``atomic_path``)."""
    with atomic_path(output) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def _markdown(frame: "pd.DataFrame") -> str:
    # missing values (no published number) print as blanks, not "nan"
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_markdown(index=False, floatfmt=".3f", intfmt=",", missingval="")


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=2, default=str) + "\n"


def _records(frame: "pd.DataFrame") -> list[dict[str, Any]]:
    # pandas' JSON writer turns NaN into null and numpy scalars into plain numbers
    return json.loads(frame.to_json(orient="records"))


def _header(kind: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "costlab_version": __version__, "kind": kind,
            "conventions": list(conventions.ALL)}


# ------------------------------------------------------------------------ analysis

def analysis_payload(cost: "ModelCost", depth: int, layers: bool = True) -> dict[str, Any]:
    info = cost.info
    payload = _header("analysis")
    payload.update({
        "model": {"name": info.name, "knobs": info.knobs,
                  "input_shapes": [list(s) for s in info.input_shapes], "device": info.device,
                  "dtype": info.dtype, "reference": info.reference, "notes": info.notes},
        "totals": tables.totals_dict(cost),
        "published": tables.published_dict(cost),
        "modules": _records(cost.to_dataframe(depth=depth)),
        "layers": _records(cost.to_dataframe()) if layers else [],
        "uncounted": [{"op": u.op, "calls": u.calls, "modules": u.modules}
                      for u in cost.uncounted],
    })
    return payload


def analysis_text(cost: "ModelCost", fmt: str, depth: int, layers: bool = True) -> str:
    if fmt == "csv":
        return tables.analysis_frame(cost, depth, layers).to_csv(index=False)
    if fmt == "json":
        return _json(analysis_payload(cost, depth, layers))
    if fmt == "md":
        t = cost.total
        lines = [f"# {cost.name}: cost per module and layer", "",
                 f"Input {tables.shapes_text(cost.info.input_shapes)}, "
                 f"knobs {tables.variant_text(cost.info.knobs) or 'none'}, "
                 f"bytes as {cost.info.dtype or 'each tensor dtype'}.", "",
                 "| total | value |", "|---|---|",
                 f"| MACs | {t.macs:,} |", f"| FLOPs | {t.flops:,} |",
                 f"| params | {t.params:,} |", f"| buffers | {t.buffers:,} |",
                 f"| memory access (bytes) | {t.memory_access_bytes:,} |",
                 f"| peak activation (bytes) | {t.peak_activation_bytes:,} |",
                 f"| ops | {t.ops:,} |", "",
                 f"## Modules (depth {depth})", "", _markdown(cost.to_dataframe(depth=depth))]
        if layers:
            lines += ["", "## Layers", "", _markdown(cost.to_dataframe())]
        lines += [""] + [f"Note: {note}" for note in cost.info.notes]
        lines += ["", tables.published_text(cost) or "Published: none.", "",
                  uncounted_text(cost), "",
                  "_" + conventions.caption() + "_", ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")


def uncounted_text(cost: "ModelCost") -> str:
    if not cost.uncounted:
        return ("Uncounted ops: none (every op has a formula or is a known-zero view; "
                f"{cost.known_zero_calls} view/metadata calls).")
    parts = [f"{u.op} x{u.calls} (in {', '.join(m or '(root)' for m in u.modules[:3])})"
             for u in cost.uncounted]
    return "Uncounted ops, so MACs/FLOPs are lower bounds: " + "; ".join(parts) + "."


# ---------------------------------------------------------------------- comparison

MARKDOWN_LABELS = {
    "macs_m": "MACs (M)", "flops_m": "FLOPs (M)", "params_m": "params (M)",
    "buffers_m": "buffers (M)", "memory_access_mb": "memory access (MB)",
    "peak_activation_mb": "peak activation (MB)", "published_macs_m": "published MACs (M)",
    "published_params_m": "published params (M)", "published_top1": "published top-1 (%)",
    "macs_vs_published_pct": "MACs vs published (%)",
    "params_vs_published_pct": "params vs published (%)",
    "macs_ratio": "MACs x", "params_ratio": "params x", "memory_access_ratio": "memory access x",
    "uncounted_ops": "uncounted ops",
}

def comparison_text(comparison: "ModelComparison", fmt: str) -> str:
    frame = tables.comparison_frame(comparison)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = _header("comparison")
        payload["models"] = _records(frame)
        payload["totals"] = [tables.totals_dict(c) for c in comparison.costs]
        payload["summary"] = comparison.summary_lines()
        if comparison.latency is not None:
            payload["latency"] = [r.to_dict() for r in comparison.latency.reports]
            payload["latency_order"] = comparison.latency.order
            payload["summary"] += comparison.latency.summary_lines()
        return _json(payload)
    if fmt == "md":
        names = " vs ".join(c.name for c in comparison.costs)
        readable = frame.drop(columns=["published_source"]).rename(columns=MARKDOWN_LABELS)
        lines = [f"# {names}", "", _markdown(readable), ""]
        lines += [f"- {line}" for line in comparison.summary_lines()]
        if comparison.latency is not None:
            lines += [f"- {line}" for line in comparison.latency.summary_lines()]
            lines += ["", "Latency measured on: " + "; ".join(
                comparison.latency.reports[0].environment.lines()) + "",
                "", "_" + conventions.LATENCY + "_"]
        sources = {p.source for p in comparison.published if p}
        if sources:
            lines += ["", "Published numbers: " + "; ".join(sorted(sources)) + "."]
        lines += ["", "_" + conventions.caption() + "_", ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")


# ---------------------------------------------------------------------------- list

def models_frame(specs: Sequence["ModelSpec"]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame([{
        "model": s.name, "family": s.family,
        "knobs": ", ".join(f"{k.name}={k.default}" for k in s.knobs),
        "default_input": tables.shape_text((1, *s.default_input())),
        "reference": s.reference,
    } for s in sorted(specs, key=lambda s: (s.family, s.name))],
        columns=["model", "family", "knobs", "default_input", "reference"])


def models_text(specs: Sequence["ModelSpec"], fmt: str) -> str:
    frame = models_frame(specs)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = _header("models")
        payload["models"] = _records(frame)
        return _json(payload)
    if fmt == "md":
        return _markdown(frame) + "\n"
    raise UsageError(f"format {fmt!r} is rendered, not exported")


# ------------------------------------------------------------------ any plain frame

def frame_text(frame: "pd.DataFrame", fmt: str, caption: str = "", kind: str = "table") -> str:
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = _header(kind)
        payload["rows"] = _records(frame)
        payload["note"] = caption
        return _json(payload)
    if fmt == "md":
        return _markdown(frame) + ("\n\n_" + caption + "_\n" if caption else "\n")
    raise UsageError(f"format {fmt!r} is rendered, not exported")


def sweep_text(result, fmt: str) -> str:
    frame = tables.sweep_frame(result)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        payload = _header("sweep")
        payload["model"] = result.model
        payload["axes"] = result.axes
        payload["rows"] = _records(frame)
        return _json(payload)
    if fmt == "md":
        lines = [f"# {result.model}: sweep over {' x '.join(result.axes)}", ""]
        for metric, label in (("macs_m", "MACs (M)"), ("params_m", "params (M)")):
            grid = tables.sweep_grid(result, metric)
            if grid is not None:
                lines += [f"{label}:", "", _markdown(grid), ""]
        lines += [_markdown(frame.rename(columns=MARKDOWN_LABELS)), "",
                  "_" + conventions.caption() + "_", ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")


# ---------------------------------------------------------------------- guidelines

# Per guideline, the offender columns worth reading, in order.
GUIDELINE_COLUMNS = {
    "G1": ["module", "c_in", "c_out", "ratio", "memory_access", "lower_bound", "excess",
           "share_macs"],
    "G2": ["module", "groups", "memory_access", "ungrouped_memory_access", "excess",
           "share_macs"],
    "G3": ["block", "branches", "fragments", "ops", "share_macs"],
    "G4": ["module", "op", "output_shape", "memory_access_bytes", "share_bytes"],
}


def offenders_table(result, top: int | None) -> "pd.DataFrame":
    """A guideline's offenders, worst first, in the columns that explain the verdict."""
    frame = result.offenders_frame()
    if frame.empty:
        return frame
    columns = [c for c in GUIDELINE_COLUMNS.get(result.guideline, frame.columns)
               if c in frame.columns]
    frame = frame[columns]
    return frame.head(top) if top else frame


def guidelines_text(audit, fmt: str, top: int | None = 10, detail: bool = False) -> str:
    from dataclasses import asdict

    summary, offenders = audit.to_frames()
    if fmt == "csv":
        return (offenders if detail else summary).to_csv(index=False)
    if fmt == "json":
        payload = _header("guidelines")
        payload["model"] = audit.model
        payload["thresholds"] = asdict(audit.thresholds)
        payload["results"] = [{
            "guideline": r.guideline, "title": r.title, "verdict": r.verdict,
            "explanation": r.explanation, "key_metric": r.key_metric, "value": r.value,
            "metrics": r.metrics, "offenders": _records(offenders_table(r, top))
            if r.offenders else [],
        } for r in audit.results]
        return _json(payload)
    if fmt == "md":
        lines = [f"# {audit.model}: ShuffleNet V2's guidelines", "",
                 _markdown(summary.drop(columns=["model"])), ""]
        for r in audit.results:
            if r.offenders:
                lines += [f"## {r.guideline}: {r.title} ({r.verdict}), worst first", "",
                          _markdown(offenders_table(r, top)), ""]
        lines += ["Thresholds: " + ", ".join(f"{k}={v:.4g}" for k, v in
                                             asdict(audit.thresholds).items()), ""]
        return "\n".join(lines)
    raise UsageError(f"format {fmt!r} is rendered, not exported")
