"""Formulas for the ops a mixture-of-experts layer runs: routing and grouped expert matmuls.

Imported at the end of formulas.py, so these register into the one registry after the
others (the docs table keeps its order).

A routed MoE layer (Hugging Face's ``grouped_mm`` experts, torchtitan's, Megablocks-style)
scores the tokens with a router (a ``linear``), picks the top-k experts per token (``topk``),
sorts the (token, expert) pairs by expert (``sort``), counts the rows per expert (``histc``
or ``bincount``), gathers the hidden states in that order (``index``, ``gather``) and runs
every expert's projections as one ``_grouped_mm`` over the sorted rows, then scatters the
results back (``index_put``, ``scatter``, ``index_add``).

- ``_grouped_mm`` costs the rows actually routed: a 2-d input of M = tokens x top-k rows
  against a (experts, K, N) weight is M x K x N MACs, not experts x M x K x N (each row
  meets one expert's weight only). It reads the rows, the offsets and the weights of the
  experts that can have rows: min(experts, M) of them, every one once M >= experts (which
  of them is data, and a formula reads shapes only; with fewer rows than experts, as in
  decoding one token, only that many expert weights are read).
- The routing ops move data and compare; they do no arithmetic, so, like ``cat`` and
  ``gather``, they count no FLOPs and their bytes are what they read and write.
  ``index_add`` and ``scatter_reduce`` add: one FLOP per source element.
"""

from __future__ import annotations

from costlab.analysis.registry import OpCost, numel, op_arg, register
from costlab.core.categories import OpCategory


@register("_grouped_mm",
          "grouped matmul of routed rows: (M, K) x (experts, K, N) is M x K x N MACs (M = "
          "tokens x top-k, the rows actually routed); reads the rows, the offsets and "
          "min(experts, M) experts' weights; (G, M, K) x (G, K, N) is G x M x K x N; "
          "FLOPs = 2 x MACs (+ M x N bias adds)")
def _grouped_mm(args, kwargs, out) -> OpCost:
    a, b = args[0], args[1]
    offs = op_arg(args, kwargs, 2, "offs")
    bias = op_arg(args, kwargs, 3, "bias")
    a_shape, b_shape = tuple(a.shape), tuple(b.shape)
    k = int(a_shape[-1])
    n = int(b_shape[-1])
    reads = None
    if len(a_shape) == 2 and len(b_shape) == 3:
        rows, experts = int(a_shape[0]), int(b_shape[0])
        macs = rows * k * n
        touched = min(experts, rows)  # distinct experts that can have a row
        reads = [(numel(a_shape), a.dtype), (touched * k * n, b.dtype)]
        if offs is not None:
            reads.append((numel(offs.shape), offs.dtype))
        attrs = {"experts": experts, "rows": rows}
    elif len(a_shape) == 3 and len(b_shape) == 3:
        groups, rows = int(a_shape[0]), int(a_shape[1])
        macs = groups * rows * k * n
        attrs = {"experts": groups, "rows": groups * rows}
    else:  # 2-d x 2-d (a weight gradient): the jagged dimension is the contraction
        rows = int(a_shape[0])
        macs = rows * int(a_shape[1]) * n
        attrs = {"rows": rows}
    out_elements = numel(out.shape) if hasattr(out, "shape") else 0
    if reads is not None and bias is not None:
        reads.append((numel(bias.shape), bias.dtype))
    return OpCost(macs=macs, flops=2 * macs + (out_elements if bias is not None else 0),
                  category=OpCategory.MATMUL, attrs=attrs,
                  reads=tuple(reads) if reads is not None else None)


def _moves(args, kwargs, out) -> OpCost:
    return OpCost(macs=0, flops=0, category=OpCategory.DATA_MOVEMENT)


register(["topk", "sort", "argsort", "msort", "kthvalue", "histc", "bincount", "index_copy",
          "index_copy_", "index_fill", "index_fill_", "scatter_", "masked_scatter_"],
         "routing (top-k, sort, per-expert counts, copies by index): no FLOPs, compares "
         "and moves only; bytes read and written")(_moves)


def _adds_source(source_at: int, name: str):
    def formula(args, kwargs, out) -> OpCost:
        source = op_arg(args, kwargs, source_at, name)
        elements = numel(source.shape) if hasattr(source, "shape") else 0
        return OpCost(macs=0, flops=elements, category=OpCategory.DATA_MOVEMENT)

    return formula


register(["index_add", "index_add_"],
         "1 add per source element (the experts' outputs summed back per token); bytes read "
         "and written")(_adds_source(3, "source"))
register(["scatter_reduce", "scatter_reduce_", "scatter_add_"],
         "1 FLOP per source element (reduced into the output); bytes read and written")(
    _adds_source(3, "src"))
