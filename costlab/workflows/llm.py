"""An LLM's cost by inference phase: prefill, one decode step against a KV cache, generation.

- ``prefill``: one forward over the prompt (what ``analyze`` counts), writing the cache;
- ``decode``: one step that appends the new token(s) (1 x 1 token ids by default) to a KV
  cache already holding ``context`` tokens, and attends over all of them;
- ``generate``: a prefill of ``prompt`` tokens, then ``generate`` decode steps, each at the
  context the steps before it left; the total and every step.

Each phase is one ordinary analysis (``workflows.analyze``) with the cache passed to the
forward: transformers' ``DynamicCache`` for ``hf:`` models, the zoo's ``KVCache`` for its
decoders (gpt2_small, llama_70b, sasrec). The caches are filled with meta tensors, so no
context is ever computed. Both append with ``cat``: the bytes of a decode step include
reading the old cache and writing the new one, as those caches do (a preallocated cache
writes only the new token). These are the inference phases; training's forward, backward
and optimizer are another matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from costlab.build.inputs import check_positive, input_specs, storage_dtype
from costlab.build.target import resolve_target
from costlab.core.errors import UsageError
from costlab.core.records import ModelCost
from costlab.workflows.display import Displayed

PHASES = ("prefill", "decode", "generate")
DECODERS = "hf: models and the zoo's decoders (gpt2_small, llama_70b, sasrec)"


@dataclass(frozen=True, kw_only=True)
class PhaseCost(Displayed):
    """One step of one phase: what it computes and moves, and the cache it leaves."""

    phase: str  # prefill or decode
    model: str
    batch: int
    new_tokens: int  # per sequence, this step
    context: int  # tokens cached before the step
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    weight_bytes: int  # every parameter once, at the bytes' dtype
    kv_cache_bytes: int  # the cache after the step, at the bytes' dtype
    params: int
    active_params: int  # per token: MoE models skip the experts a token is not routed to
    partial: bool
    bytes_dtype: str  # what bytes are counted at ("each tensor's own dtype" by default)
    notes: tuple[str, ...] = ()
    cost: ModelCost | None = field(default=None, compare=False, repr=False)

    @property
    def memory_access_bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte of memory access."""
        return self.flops / self.memory_access_bytes if self.memory_access_bytes else 0.0

    @property
    def tokens(self) -> int:
        """Tokens this step processes: batch x new tokens."""
        return self.batch * self.new_tokens

    def document(self):
        from costlab.report.llm import phase_document

        return phase_document(self)


@dataclass(frozen=True, kw_only=True)
class GenerateCost(Displayed):
    """A prefill and the decode steps after it."""

    prefill: PhaseCost
    steps: tuple[PhaseCost, ...]

    @property
    def model(self) -> str:
        return self.prefill.model

    @property
    def phases(self) -> tuple[PhaseCost, ...]:
        return (self.prefill, *self.steps)

    def total(self, name: str) -> int:
        """The sum over the prefill and every step of an additive field (macs, flops...)."""
        return sum(getattr(p, name) for p in self.phases)

    def document(self):
        from costlab.report.llm import generate_document

        return generate_document(self)


# ------------------------------------------------------------------ the cache per model

def _kv_cache(module: Any, batch: int, tokens: int):
    """A cache holding ``tokens`` positions, of the kind ``module``'s forward takes."""
    from costlab.build import huggingface
    from costlab.models.sequence import Decoder

    if isinstance(module, Decoder):
        return module.new_cache(batch, tokens)
    if huggingface.is_hf_model(module):
        return huggingface.filled_cache(module, batch, tokens)
    raise UsageError(f"{type(module).__name__} has no KV cache costlab can fill: phases "
                     f"apply to {DECODERS}")


def _cache_tensors(cache: Any) -> list:
    from costlab.build.huggingface import cache_tensors
    from costlab.models.sequence import KVCache

    return cache.tensors() if isinstance(cache, KVCache) else cache_tensors(cache)


def _nbytes(tensors, bytes_dtype) -> int:
    """Bytes of ``tensors``, floating ones at ``bytes_dtype``'s size where given."""
    total = 0
    for t in tensors:
        size = bytes_dtype.itemsize if bytes_dtype is not None and t.dtype.is_floating_point \
            else t.dtype.itemsize
        total += t.numel() * size
    return total


def _active_params(module: Any, total: int) -> int:
    from costlab.build import huggingface

    if huggingface.is_hf_model(module):
        moe = huggingface.moe_params(module, module.config)
        if moe is not None:
            return moe.active
    return total


# ----------------------------------------------------------------------- one step

@dataclass(frozen=True, kw_only=True)
class _Built:
    module: Any
    name: str
    notes: tuple[str, ...]
    default_shape: tuple[int, ...] | None


def _build(model: Any, *, positions: int | None, model_kwargs: dict | None,
           knobs: dict) -> _Built:
    """The model on meta. A zoo decoder is built to hold ``positions`` (its seq_len knob,
    unless given: position tables must reach the last position)."""
    from costlab.models import registry

    knobs = dict(knobs)
    if isinstance(model, str) and registry().owns(model) and positions is not None:
        spec = registry().get(model)
        if any(k.name == "seq_len" for k in spec.knobs) and "seq_len" not in knobs:
            knobs["seq_len"] = positions
    target = resolve_target(model, None, device="meta", model_kwargs=model_kwargs,
                            knobs=knobs)
    return _Built(module=target.module, name=target.name, notes=tuple(target.notes),
                  default_shape=target.default_shape)


def _ids_shape(input_shape: Any, default: tuple[int, int]) -> tuple[int, int]:
    specs = input_specs(input_shape)
    if not specs:
        return default
    if len(specs) != 1 or len(specs[0][0]) != 2 or specs[0][1] not in (None, "int64", "int32"):
        raise UsageError("a phase takes one input of token ids, batch x tokens, e.g. 1,1:int64")
    batch, tokens = specs[0][0]
    return int(batch), int(tokens)


def _step(built: _Built, phase: str, batch: int, new: int, context: int,
          dtype: str | None, formulas: Any = None) -> PhaseCost:
    import torch

    from costlab.build.huggingface import cache_keyword, is_hf_model
    from costlab.workflows.analyze import analyze

    from costlab.models.sequence import Decoder

    bytes_dtype = storage_dtype(dtype)
    module = built.module
    if isinstance(module, Decoder):
        module.check_positions(context, new)  # before the trace: one line, not a forward error
    cache = _kv_cache(module, batch, context)
    ids = torch.zeros(batch, new, dtype=torch.int64, device="meta")
    if is_hf_model(module):
        kwargs: dict[str, Any] = {cache_keyword(module): cache, "use_cache": True}
    else:
        kwargs = {"past_key_values": cache}
    cost = analyze(module, inputs=(ids,), input_kwargs=kwargs, dtype=dtype, name=built.name,
                   formulas=formulas)
    cost.info.notes = [*built.notes, *cost.info.notes]
    total = cost.total
    params = list(module.parameters())
    return PhaseCost(
        phase=phase, model=built.name, batch=batch, new_tokens=new, context=context,
        macs=total.macs, flops=total.flops, bytes_read=total.bytes_read,
        bytes_written=total.bytes_written, weight_bytes=_nbytes(params, bytes_dtype),
        kv_cache_bytes=_nbytes(_cache_tensors(cache), bytes_dtype), params=total.params,
        active_params=_active_params(module, total.params), partial=total.partial,
        bytes_dtype=dtype or "each tensor's own dtype", notes=tuple(cost.info.notes),
        cost=cost)


def _check_phase(phase: str) -> None:
    if phase not in PHASES:
        raise UsageError(f"unknown phase {phase!r}; choose from {', '.join(PHASES)}")


def phase_cost(model: Any, phase: str = "prefill", *, context: int | None = None,
               prompt: int | None = None, input_shape: Any = None, batch: int = 1,
               dtype: str | None = None, model_kwargs: dict | None = None,
               formulas: Any = None, **knobs: Any) -> PhaseCost:
    """One prefill (``prompt`` tokens, else ``input_shape``, else the model's default
    input) or one decode step (``input_shape`` new tokens, default 1 x 1, after
    ``context`` cached ones)."""
    _check_phase(phase)
    if phase == "generate":
        raise UsageError("phase generate has many steps: use generate_cost")
    check_positive("batch", batch)
    check_positive("prompt", prompt)
    if phase == "prefill":
        if context:
            raise UsageError("context applies to phase decode: a prefill starts from an empty "
                             "cache")
        if prompt is not None and input_shape is not None:
            raise UsageError("give the prompt length or input_shape, not both")
        if prompt is not None or input_shape is not None:
            batch, new = _ids_shape(input_shape, (batch, prompt or 1))
            built = _build(model, positions=new, model_kwargs=model_kwargs, knobs=knobs)
        else:
            built = _build(model, positions=None, model_kwargs=model_kwargs, knobs=knobs)
            shape = built.default_shape
            if shape is None or len(shape) != 2:
                raise UsageError(f"{built.name} has no default token input: give the prompt "
                                 "length")
            new = int(shape[1])  # (1, tokens): the batch is ours
        return _step(built, "prefill", batch, new, 0, dtype, formulas)
    if prompt is not None:
        raise UsageError("prompt applies to phases prefill and generate; a decode step "
                         "takes context")
    if context is None:
        raise UsageError("phase decode needs context: the tokens already in the KV cache")
    if context < 0:
        raise UsageError(f"context must be >= 0, got {context}")
    batch, new = _ids_shape(input_shape, (batch, 1))
    built = _build(model, positions=context + new, model_kwargs=model_kwargs, knobs=knobs)
    return _step(built, "decode", batch, new, context, dtype, formulas)


def generate_cost(model: Any, *, prompt: int, generate: int, batch: int = 1,
                  dtype: str | None = None, model_kwargs: dict | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  **knobs: Any) -> GenerateCost:
    """A prefill of ``prompt`` tokens and ``generate`` decode steps of one token each, the
    k-th at context prompt + k - 1."""
    check_positive("prompt", prompt)
    check_positive("generate", generate)
    check_positive("batch", batch)
    built = _build(model, positions=prompt + generate, model_kwargs=model_kwargs, knobs=knobs)
    first = _step(built, "prefill", batch, prompt, 0, dtype)
    steps = []
    for k in range(generate):
        steps.append(_step(built, "decode", batch, 1, prompt + k, dtype))
        if progress is not None:
            progress(k + 1, generate)
    return GenerateCost(prefill=first, steps=tuple(steps))


# ---------------------------------------------------------------------- estimates

@dataclass(frozen=True, kw_only=True)
class PhaseEstimate(Displayed):
    """A phase's roofline time on a hardware profile, as tokens per second."""

    phases: tuple[PhaseCost, ...]  # one for prefill or decode; the prefill and steps of generate
    estimates: tuple[Any, ...]  # analysis.roofline.RooflineEstimate, one per phase
    kind: str  # prefill, decode or generate

    @property
    def model(self) -> str:
        return self.phases[0].model

    @property
    def profile(self) -> str:
        return self.estimates[0].profile

    @property
    def dtype(self) -> str:
        return self.estimates[0].dtype

    def time_s(self, phase: str | None = None) -> float:
        return sum(e.time_s for p, e in zip(self.phases, self.estimates)
                   if phase is None or p.phase == phase)

    def tokens(self, phase: str | None = None) -> int:
        return sum(p.tokens for p in self.phases if phase is None or p.phase == phase)

    def tokens_per_s(self, phase: str | None = None) -> float:
        time = self.time_s(phase)
        return self.tokens(phase) / time if time else 0.0

    def time_by_bound(self, phase: str | None = None) -> dict[str, float]:
        """Estimated seconds in compute-, memory- and overhead-bound ops."""
        times: dict[str, float] = {}
        for p, e in zip(self.phases, self.estimates):
            if phase is None or p.phase == phase:
                for bound, seconds in e.time_by_bound().items():
                    times[bound] = times.get(bound, 0.0) + seconds
        return times

    def share(self, bound: str, phase: str | None = None) -> float:
        times = self.time_by_bound(phase)
        total = sum(times.values())
        return times.get(bound, 0.0) / total if total else 0.0

    def bound(self, phase: str | None = None) -> str:
        """What most of the estimated time is bound by: compute, memory or overhead."""
        times = self.time_by_bound(phase)
        return max(times, key=times.get) if times else ""

    def document(self):
        from costlab.report.llm import phase_estimate_document

        return phase_estimate_document(self)


def estimate_phase(model: Any, phase: str, hardware: str, peak_dtype: str = "float16", *,
                   context: int | None = None, prompt: int | None = None,
                   generate: int | None = None, input_shape: Any = None, batch: int = 1,
                   model_kwargs: dict | None = None, **knobs: Any) -> PhaseEstimate:
    """Roofline tokens/s of a phase on a hardware profile at ``peak_dtype``'s peak, bytes
    counted at its storage size."""
    from costlab.analysis.roofline import estimate
    from costlab.hardware import STORAGE_DTYPE, load_profile

    _check_phase(phase)
    if peak_dtype not in STORAGE_DTYPE:
        raise UsageError(f"unknown dtype {peak_dtype!r}; choose from "
                         f"{', '.join(STORAGE_DTYPE)}")
    profile = load_profile(hardware)
    profile.peak_flops(peak_dtype)  # fails now if the profile has no peak for it
    dtype = STORAGE_DTYPE[peak_dtype]
    if phase == "generate":
        if prompt is None or generate is None:
            raise UsageError("phase generate needs prompt and generate (tokens to make)")
        run = generate_cost(model, prompt=prompt, generate=generate, batch=batch, dtype=dtype,
                            model_kwargs=model_kwargs, **knobs)
        phases = run.phases
    else:
        if generate is not None:
            raise UsageError("generate applies to phase generate")
        phases = (phase_cost(model, phase, context=context, prompt=prompt,
                             input_shape=input_shape, batch=batch, dtype=dtype,
                             model_kwargs=model_kwargs, **knobs),)
    estimates = tuple(estimate(p.cost, profile, peak_dtype) for p in phases)
    return PhaseEstimate(phases=phases, estimates=estimates, kind=phase)


def kv_cache_formula(*, layers: int, kv_heads: int, head_dim: int, tokens: int,
                     dtype_bytes: int, batch: int = 1) -> int:
    """2 (keys and values) x layers x kv heads x head dim x tokens x dtype size."""
    return 2 * layers * kv_heads * head_dim * tokens * dtype_bytes * batch


__all__ = ["GenerateCost", "PHASES", "PhaseCost", "PhaseEstimate", "estimate_phase",
           "generate_cost", "kv_cache_formula", "phase_cost"]
