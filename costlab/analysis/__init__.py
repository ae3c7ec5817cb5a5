"""The static analyzer: tracer, op formulas, aggregation."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from costlab.core.records import ModelCost, ModelInfo


def build_cost(model, inputs: tuple, *, name: str, knobs: dict[str, Any], device: str,
               storage_dtype=None, reference: str = "", variant: str = "",
               input_kwargs: dict | None = None,
               formulas: Mapping[Any, Callable[..., Any]] | None = None,
               stand_ins: bool = True, training: Any = None) -> ModelCost:
    """Trace ``model`` on ``inputs`` and assemble its ``ModelCost``.

    ``formulas``: ``{op packet or overload: formula}`` counted instead of the registry's, for
    this analysis only (the contract is in costlab/analysis/registry.py).

    A model or inputs off meta are traced on meta stand-ins of its weights and inputs
    (analysis/stand_ins.py): no kernel runs. A forward that cannot run on meta (it reads
    values: ``.item()``, ``nonzero``, control flow on a tensor) is traced again for real,
    with a note; ``stand_ins=False`` traces for real at once."""
    import torch

    from costlab.core.errors import ForwardError
    from costlab.core.records import totals
    from costlab.analysis.params import index_modules
    from costlab.analysis.stand_ins import inputs_on_meta, meta_stand_ins, needs_stand_ins
    from costlab.build.gcpause import collector_paused
    from costlab.analysis.tracer import trace

    def run(index, inputs, input_kwargs, tensors=None):
        if training is None:
            return trace(model, inputs, input_kwargs, storage_dtype=storage_dtype,
                         index=index, formulas=formulas, tensors=tensors)
        from costlab.analysis.training import trace_step

        return trace_step(model, inputs, input_kwargs, index=index,
                          optimizer=training.optimizer, precision=training.precision,
                          loss=training.loss, storage_dtype=storage_dtype,
                          formulas=formulas, tensors=tensors)

    tensors = [*inputs, *(input_kwargs or {}).values()]
    notes = []
    with collector_paused():
        index = index_modules(model)  # one walk: paths, params, buffers, the module tree
        traced = None
        if stand_ins and needs_stand_ins(index, [t for t in tensors
                                                 if isinstance(t, torch.Tensor)]):
            try:
                meta = meta_stand_ins(model, index)
                traced = run(meta.index, inputs_on_meta(tuple(inputs)),
                             inputs_on_meta(input_kwargs), meta.tensors)
                index = meta.index
            except (ForwardError, RuntimeError, NotImplementedError) as exc:
                # the forward reads values (or a tensor cannot be made on meta): run it
                notes.append(f"traced with the real forward on {device}: on meta stand-ins "
                             f"of its weights it failed ({_reason(exc)})")
        if traced is None:
            traced = run(index, inputs, input_kwargs)
        memory = setup = None
        if training is None:
            state, output = traced
            peak = state.peak_activation_bytes(output)
        else:
            state, memory, setup = traced.state, traced.memory, traced.setup
            notes += traced.notes
            peak = memory.peak_bytes - memory.weights_bytes - memory.optimizer_state_bytes
        uncounted = state.uncounted_ops()
        total = totals(state.records, params=sum(map(torch.Tensor.numel, index.params)),
                       buffers=sum(map(torch.Tensor.numel, index.buffers)),
                       peak_bytes=peak, partial=bool(uncounted))
        tree = index.tree()
        notes += tied_weights_notes(index)
    shapes = tuple(tuple(t.shape) for t in tensors if isinstance(t, torch.Tensor))
    info = ModelInfo(name=name, knobs=dict(knobs), input_shapes=shapes, device=device,
                     dtype=str(storage_dtype).replace("torch.", "") if storage_dtype else None,
                     reference=reference, variant=variant, notes=notes,
                     mode="inference" if training is None else "train", training=setup)
    return ModelCost(info=info, layers=state.records, total=total, uncounted=uncounted,
                     module_tree=tree, known_zero_calls=state.known_zero_calls,
                     training_memory=memory)


def _reason(exc: BaseException) -> str:
    """What a forward raised, in one line: its cause's type and first line."""
    cause = exc.__cause__ or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


def tied_weights_notes(index) -> list[str]:
    """One note per tied weight: it is in the params of each module holding it, so module
    rows add up to more than the model's params, which counts it once."""
    return [f"tied weight of {n:,} params held by {' and '.join(p or '(root)' for p in paths)}: "
            f"in each of their rows' params, once in the total"
            for paths, n in index.tied()]


__all__ = ["ModelCost", "build_cost", "tied_weights_notes"]
