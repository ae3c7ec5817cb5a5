"""An LLM's phases as documents: the cost of each step, and its roofline tokens/s."""

from __future__ import annotations

from typing import Any, Sequence

from costlab.report.document import (ONLY_SCREEN, ONLY_TEXT, Block, Column, Document, Heading,
                                     Table, caption, note, number, scaled)
from costlab.report.payload import payload_header

# the results (workflows/llm.py: PhaseCost, GenerateCost, PhaseEstimate) sit above this
# layer: read by their fields only
PhaseCost = GenerateCost = PhaseEstimate = Any

PHASE_CAPTION = (
    "prefill: one forward over the prompt, writing the KV cache; decode: one step appending "
    "the new token(s) to a cache already holding `context` tokens and attending over all of "
    "them. Bytes: read + written per op, the cache's cat included (a DynamicCache copies it "
    "each step); weight bytes: every parameter once; KV-cache bytes: keys and values after "
    "the step, 2 x layers x kv heads x head dim x tokens x dtype size. Intensity: FLOPs per "
    "byte of memory access.")

ROW_KEYS = ["phase", "context", "new_tokens", "batch", "macs", "flops", "bytes_read",
            "bytes_written", "memory_access_bytes", "intensity", "weight_bytes",
            "kv_cache_bytes", "params", "active_params", "partial"]


def phase_row(phase: "PhaseCost", label: str | None = None) -> dict[str, Any]:
    return {"phase": label or phase.phase, "context": phase.context,
            "new_tokens": phase.new_tokens, "batch": phase.batch, "macs": phase.macs,
            "flops": phase.flops, "bytes_read": phase.bytes_read,
            "bytes_written": phase.bytes_written,
            "memory_access_bytes": phase.memory_access_bytes,
            "intensity": round(phase.intensity, 4), "weight_bytes": phase.weight_bytes,
            "kv_cache_bytes": phase.kv_cache_bytes, "params": phase.params,
            "active_params": phase.active_params, "partial": phase.partial}


def _columns(extra: Sequence[Column] = ()) -> list[Column]:
    return [Column(key="phase", label="phase"), number("context", "context"),
            number("new_tokens", "new"),
            scaled("macs", "MACs ({unit})"), scaled("flops", "FLOPs ({unit})"),
            scaled("memory_access_bytes", "memory ({unit})", "bytes", priority=1),
            number("intensity", "FLOP/B", lambda v: f"{v:,.2f}", priority=2),
            scaled("weight_bytes", "weights ({unit})", "bytes", priority=3),
            scaled("kv_cache_bytes", "KV cache ({unit})", "bytes", priority=1),
            *extra]


def _params_line(phase: "PhaseCost") -> str:
    active = "" if phase.active_params == phase.params else \
        f"; active params per token {phase.active_params:,}"
    return (f"params {phase.params:,}{active}; bytes as {phase.bytes_dtype}"
            + ("; partial: some ops uncounted" if phase.partial else ""))


def _document(title: str, kind: str, phases: Sequence["PhaseCost"], rows: list[dict],
              extra_columns: Sequence[Column] = (), extra_payload: dict | None = None,
              lines: Sequence[str] = (), conventions: str = PHASE_CAPTION) -> Document:
    first = phases[0]
    data = Table(columns=[Column(key=k, label=k) for k in rows[0]], rows=rows,
                 views=ONLY_TEXT)
    screen = Table(columns=_columns(extra_columns), rows=rows, views=ONLY_SCREEN,
                   transpose_key="phase")
    notes = [_params_line(first), *lines, *first.notes]
    blocks: list[Block] = [
        Heading(text=title, views=ONLY_TEXT), data,
        note(f"  {title.split(': ', 1)[-1]}", lead=first.model, views=ONLY_SCREEN), screen,
        note(*notes), caption(conventions)]
    payload = payload_header(kind)
    payload.update({"model": first.model, "phases": rows, "notes": notes,
                    **(extra_payload or {})})
    return Document(title=title, kind=kind, blocks=blocks, payload=payload, data=data)


def _phase_title(phase: "PhaseCost") -> str:
    if phase.phase == "decode":
        return (f"{phase.model}: decode {phase.new_tokens} token(s) at context "
                f"{phase.context:,}")
    return f"{phase.model}: prefill {phase.new_tokens:,} tokens"


def phase_document(phase: "PhaseCost") -> Document:
    return _document(_phase_title(phase), "llm_phase", [phase], [phase_row(phase)])


def _total_row(phases: Sequence["PhaseCost"]) -> dict[str, Any]:
    row = {key: sum(phase_row(p)[key] for p in phases)
           for key in ("macs", "flops", "bytes_read", "bytes_written", "memory_access_bytes")}
    traffic = row["memory_access_bytes"]
    last = phases[-1]
    return {"phase": "total", "context": None,
            "new_tokens": sum(p.new_tokens for p in phases), "batch": last.batch, **row,
            "intensity": round(row["flops"] / traffic, 4) if traffic else 0.0,
            "weight_bytes": last.weight_bytes, "kv_cache_bytes": last.kv_cache_bytes,
            "params": last.params, "active_params": last.active_params,
            "partial": any(p.partial for p in phases)}


def generate_document(run: "GenerateCost") -> Document:
    rows = [phase_row(run.prefill)] + [phase_row(p, f"step {i + 1}")
                                       for i, p in enumerate(run.steps)]
    rows.append(_total_row(run.phases))
    title = (f"{run.model}: generate {len(run.steps)} tokens after a {run.prefill.new_tokens:,}"
             "-token prompt")
    steps = run.steps
    per_step = (f"decode steps: {steps[0].macs:,} MACs at context {steps[0].context:,} to "
                f"{steps[-1].macs:,} at {steps[-1].context:,}; mean "
                f"{sum(p.macs for p in steps) / len(steps):,.0f} MACs per step")
    return _document(title, "llm_generate", run.phases, rows, lines=[per_step])


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:,.3f}"


def phase_estimate_document(result: "PhaseEstimate") -> Document:
    """Tokens/s of each phase on a hardware profile: a roofline estimate."""
    rows = []
    labels = ["prefill"] + [f"step {i}" for i in range(1, len(result.phases))] \
        if result.kind == "generate" else [result.phases[0].phase]
    for phase, est, label in zip(result.phases, result.estimates, labels):
        time_by_bound = est.time_by_bound()
        bound = max(time_by_bound, key=time_by_bound.get)
        rows.append({**phase_row(phase, label), "time_ms": 1e3 * est.time_s,
                     "tokens_per_s": phase.tokens / est.time_s if est.time_s else 0.0,
                     "bound": bound})
    summary = []
    for name in ("prefill", "decode"):
        if any(p.phase == name for p in result.phases):
            summary.append(f"{name}: {result.tokens_per_s(name):,.1f} tokens/s, "
                           f"{1e3 * result.time_s(name):,.3f} ms, mostly "
                           f"{result.bound(name)}-bound "
                           f"({100 * result.share(result.bound(name), name):.0f}% of the time)")
    if result.kind == "generate":
        total = _total_row(result.phases)
        rows.append({**total, "time_ms": 1e3 * result.time_s(),
                     "tokens_per_s": result.tokens_per_s(), "bound": result.bound()})
    est = result.estimates[0]
    title = f"{result.model}: {result.kind} on {result.profile} ({result.dtype}), roofline"
    from costlab.report.roofline import caption as roofline_caption

    extra = [number("time_ms", "time (ms)", _ms, unit="ms"),
             number("tokens_per_s", "tokens/s", lambda v: f"{v:,.1f}"),
             Column(key="bound", label="bound")]
    return _document(title, "llm_estimate", result.phases, rows, extra_columns=extra,
                     lines=summary, conventions=roofline_caption(est) + " " + PHASE_CAPTION,
                     extra_payload={"estimate": True, "profile": result.profile,
                                    "dtype": result.dtype})


__all__ = ["generate_document", "phase_document", "phase_estimate_document", "phase_row"]
