"""The dispatch-level tracer: runs a model once and records every aten op it calls.

Three context managers work together, all installed and removed around one forward:
- ``module_scope`` keeps a stack of the module paths being run (forward pre/post hooks),
  so each op is attributed to the innermost module that ran it;
- ``_FunctionLevelMode`` (a TorchFunctionMode) sees ``F.scaled_dot_product_attention`` and
  the recurrent ops (``torch.lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu`` and their cells)
  as one op each. Below it, meta and CPU dispatch to different kernels (decompositions on
  meta, fused kernels on CPU: flash attention, oneDNN's LSTM); counting them above the
  split gives identical numbers;
- ``_CostMode`` (a TorchDispatchMode) sees every other op after autograd, so functional
  calls, ``x + y`` and ``torch.cat`` are counted like module calls.

Memory-access bytes are measured here from the tensors each op reads and writes; peak
activation memory from each activation storage's first write and last read.

On meta, ops with a shape-arithmetic kernel (meta_kernels.py) get their outputs from it
instead of torch's meta functions, many of which are slow Python decompositions.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from costlab.analysis import formulas  # noqa: F401  (importing it fills the registry)
from costlab.build import meta_kernels
from costlab.analysis.params import ModuleIndex, index_modules
from costlab.analysis.registry import (
    KNOWN_ZERO,
    FormulaEntry,
    OpKey,
    TensorSpec,
    lookup,
    override_entries,
)
from costlab.build.forward_errors import forward_error
from costlab.build.user_code import attributed_warnings
from costlab.core.categories import OpCategory, Phase
from costlab.core.records import Counts, OpRecord, UncountedOp
from costlab.core.errors import ForwardError
from costlab.core.module_tracker import ModuleTracker

_SDPA = torch._C._nn.scaled_dot_product_attention
_SDPA_OP = torch.ops.aten.scaled_dot_product_attention.default
# the recurrent functions nn.LSTM/GRU/RNN and their cells call, by name (a builtin compares
# equal to itself however it was looked up): counted at function level, like attention
_RECURRENT = {getattr(torch._C._VariableFunctions, name): name
              for name in ("lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell",
                           "rnn_tanh_cell", "rnn_relu_cell")}


# name, formula, known zero, shape-arithmetic meta kernel: looked up once per op overload
OpInfo = tuple[str, "FormulaEntry | None", bool, "meta_kernels.MetaKernel | None"]


def _storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata


def _tensors(args: Any, kwargs: dict | None) -> list[torch.Tensor]:
    """The tensors among an op's arguments (or outputs), in order. aten schemas nest
    tensors at most one level deep (Tensor[] arguments)."""
    found = []
    for a in args:
        if isinstance(a, torch.Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, torch.Tensor):
                    found.append(b)
    if kwargs:
        found += _tensors(kwargs.values(), None)
    return found


_new_tuple = tuple.__new__


def _specs(values: Any) -> Any:
    """An op's args (a tuple or list), kwargs or output with each tensor as its TensorSpec,
    one level of nesting deep like aten schemas. Formulas get these, never tensors. Runs
    once per op: plain loops, and TensorSpecs made by tuple.__new__ (a C call; the
    NamedTuple constructor is a Python frame)."""
    if isinstance(values, torch.Tensor):
        return _new_tuple(TensorSpec, (tuple(values.shape), values.dtype))
    if isinstance(values, dict):
        return dict(zip(values, _specs(list(values.values())))) if values else values
    if not isinstance(values, (list, tuple)) or isinstance(values, torch.Size):
        return values  # a scalar output (``equal``, ``is_nonzero``) or None
    found = []
    for a in values:
        if isinstance(a, torch.Tensor):
            a = _new_tuple(TensorSpec, (tuple(a.shape), a.dtype))
        elif isinstance(a, (list, tuple)) and a and not isinstance(a, torch.Size):
            inner = []
            for b in a:
                inner.append(_new_tuple(TensorSpec, (tuple(b.shape), b.dtype))
                             if isinstance(b, torch.Tensor) else b)
            a = inner if isinstance(a, list) else tuple(inner)
        found.append(a)
    return found if isinstance(values, list) else tuple(found)


class TraceState:
    """Everything one trace accumulates. Lives only as long as one ``trace`` call."""

    def __init__(self, model: nn.Module, storage_dtype: torch.dtype | None,
                 on_meta: bool = False, index: ModuleIndex | None = None,
                 overrides: dict[OpKey, FormulaEntry] | None = None, training: bool = False):
        self.index = index or index_modules(model)
        # a training step: autograd records the forward (attention runs for real, so it
        # has a backward), and each op's phase is tagged
        self.training = training
        self.phase = Phase.FORWARD
        # forward ops of a training step, in order: the autograd sequence number after
        # each and its module. A backward op runs inside an autograd node; the forward op
        # that made the node is the first whose number is past the node's.
        self._node_numbers: list[int] = []
        self._node_modules: list[str] = []
        self._backward_modules: dict[int, str] = {}
        # this analysis's own formulas (registry.override_entries), before the registry's
        self.overrides = overrides or {}
        self.on_meta = on_meta  # outputs of known ops come from meta_kernels
        self.records: list[OpRecord] = []
        self.uncounted: dict[str, tuple[int, dict[str, None]]] = {}
        self.known_zero_calls = 0
        self.stack: list[str] = []
        self.suppress = 0  # >0 while inside an op already recorded at function level
        self.module_types: dict[str, str] = {
            path: type(module).__name__ for module, path in self.index.paths.items()}
        # storage key -> parameter elements (0 for buffers): weights, not activations
        self.weights: dict[int, int] = {}
        weights = self.weights
        for p in self.index.params:
            weights[p.untyped_storage()._cdata] = p.numel()
        for b in self.index.buffers:
            weights.setdefault(b.untyped_storage()._cdata, 0)
        # storage key -> the paths of the modules that register the parameter: an op on a
        # child's weight, run by its parent (nn.MultiheadAttention's out_proj), is the child's
        self.owners: dict[int, tuple[str, ...]] = {
            p.untyped_storage()._cdata: tuple(path for path in paths if path in self.module_types)
            for p, paths in self.index.owners()}
        self.params_seen: set[int] = set()
        # [bytes, first op index, last op index] of every activation storage seen
        self.spans: list[list[int]] = []
        # storage key -> its span, for the activation storages still alive
        self.live: dict[int, list[int]] = {}
        # storage key -> index of the op that last wrote it: the dataflow graph's edges
        self.producer: dict[int, int] = {}
        # A storage key is an address, reused once its storage is freed. Each activation
        # storage carries a weak reference whose callback queues its key when it dies; the
        # next record retires the key before any new storage can claim it. Nothing is kept
        # alive, so a trace on CPU holds no more activations than the forward itself.
        self._watch: dict[int, weakref.ref] = {}
        self._dead: list[int] = []
        self._itemsize: dict[torch.dtype, int] = {}
        self._storage_dtype = storage_dtype
        self._ops: dict[Any, OpInfo] = {}
        self.sdpa_entry = self.op_info(_SDPA_OP)[1]  # F.scaled_dot_product_attention's
        self.recurrent_entries = {name: lookup(getattr(torch.ops.aten, name))
                                  for name in _RECURRENT.values()}

    # -- helpers --------------------------------------------------------------------
    def itemsize(self, dtype: torch.dtype) -> int:
        size = self._itemsize.get(dtype)
        if size is None:
            size = dtype.itemsize
            if self._storage_dtype is not None and dtype.is_floating_point:
                size = self._storage_dtype.itemsize
            self._itemsize[dtype] = size
        return size

    def op_info(self, func: Any) -> "OpInfo":
        info = self._ops.get(func)
        if info is None:
            packet = func.overloadpacket
            overrides = self.overrides
            entry = overrides.get(func) or overrides.get(packet) if overrides else None
            if entry is None:
                entry, zero = lookup(packet), packet in KNOWN_ZERO
            else:
                zero = False  # a user's formula counts even a view
            info = (packet.__name__, entry, zero,
                    meta_kernels.meta_kernel(func) if self.on_meta else None)
            self._ops[func] = info
        return info

    def add_activation(self, t: torch.Tensor, first: int) -> None:
        storage = t.untyped_storage()
        key = storage._cdata
        if key not in self.weights and key not in self.live:
            self._watch_storage(storage, key, t.dtype, first)

    def _watch_storage(self, storage: Any, key: int, dtype: torch.dtype, first: int) -> None:
        span = [storage.nbytes() // dtype.itemsize * self.itemsize(dtype), first, first]
        self.spans.append(span)
        self.live[key] = span
        dead = self._dead
        self._watch[key] = weakref.ref(storage, lambda _ref, key=key: dead.append(key))

    def _retire_dead(self) -> None:
        """Forget the storages freed since the last op: their keys may come back."""
        for key in self._dead:
            self.live.pop(key, None)
            self.producer.pop(key, None)
            self._watch.pop(key, None)
        self._dead.clear()

    # -- recording ------------------------------------------------------------------
    def record(self, name: str, entry: FormulaEntry | None, args: Any,
               kwargs: dict, out: Any) -> None:
        """One op's record. Runs once per op, so it works on locals and plain loops: no
        per-tensor helper calls or generators (tests/analysis/test_hot_path.py counts)."""
        if self._dead:
            self._retire_dead()
        index = len(self.records)
        phase = self.phase
        if phase is Phase.FORWARD:
            stack = self.stack
            module = stack[-1] if stack else ""
        else:
            module = self.backward_module()
        weights, live, producer, sizes = self.weights, self.live, self.producer, self._itemsize

        read = params = 0
        input_shapes = []
        sources = []  # indices of the ops that wrote this op's activation inputs
        owners = None  # the modules registering the first parameter read
        broadcast = 0  # bytes of stride-0 inputs (a training step's seed gradient)
        for t in _tensors(args, kwargs):
            dtype = t.dtype
            size = t.numel() * (sizes.get(dtype) or self.itemsize(dtype))
            read += size
            storage = t.untyped_storage()
            key = storage._cdata
            n = weights.get(key)
            if n is None:
                if self.training and storage.nbytes() < t.numel() * t.element_size():
                    broadcast += size
                input_shapes.append(tuple(t.shape))
                sources.append(producer.get(key, -1))  # -1: a model input or a constant
                span = live.get(key)
                if span is not None:
                    span[2] = index
            else:
                if owners is None:
                    owners = self.owners.get(key)
                if key not in self.params_seen:
                    self.params_seen.add(key)
                    params += n
        if owners and module not in owners and phase is Phase.FORWARD:
            module = _owner_inside(module, owners)
        if self.training and phase is Phase.FORWARD:
            self._node_numbers.append(_next_node_number())
            self._node_modules.append(module)

        cost = None if entry is None else entry.formula(
            _specs(args), _specs(kwargs) if kwargs else kwargs, _specs(out))
        if cost is not None and cost.reads is not None:
            read = sum(n * self.itemsize(dtype) for n, dtype in cost.reads)
        if broadcast and cost is not None and cost.category in _DENSE_KERNELS:
            # a matmul or conv kernel needs its operands dense: a broadcast input (the sum
            # loss's expanded seed gradient) is materialized for the op's duration
            self.spans.append([broadcast, index, index])

        written = 0
        output_shapes = []
        limit = cost.outputs if cost is not None and cost.outputs is not None else -1
        for i, t in enumerate(_tensors(out, None) if isinstance(out, (list, tuple)) else (out,)):
            if i == limit or not isinstance(t, torch.Tensor):
                break
            dtype = t.dtype
            size = sizes.get(dtype) or self.itemsize(dtype)
            written += t.numel() * size
            output_shapes.append(tuple(t.shape))
            storage = t.untyped_storage()
            key = storage._cdata
            if key not in weights and key not in live:  # a new activation storage
                self._watch_storage(storage, key, dtype, index)
            producer[key] = index

        if cost is not None:
            self.records.append(OpRecord(
                index=index, module=module, module_type=self.module_types.get(module, ""),
                op=name, category=cost.category, input_shapes=tuple(input_shapes),
                output_shapes=tuple(output_shapes),
                counts=Counts(macs=cost.macs, flops=cost.flops, bytes_read=read,
                              bytes_written=written),
                params=params, attrs=cost.attrs, counted=True, sources=tuple(sources),
                phase=phase))
        else:
            calls, modules = self.uncounted.get(name, (0, {}))
            modules[module] = None
            self.uncounted[name] = (calls + 1, modules)
            self.records.append(OpRecord(
                index=index, module=module, module_type=self.module_types.get(module, ""),
                op=name, category=OpCategory.OTHER, input_shapes=tuple(input_shapes),
                output_shapes=tuple(output_shapes),
                counts=Counts(bytes_read=read, bytes_written=written),
                params=params, attrs=None, counted=False, sources=tuple(sources),
                phase=phase))

    def backward_module(self) -> str:
        """The module whose forward made the autograd node running now ("" outside one:
        the loss's seed gradient)."""
        node = torch._C._current_autograd_node()
        if node is None:
            return ""
        number = node._sequence_nr()
        module = self._backward_modules.get(number)
        if module is None:
            at = bisect_right(self._node_numbers, number)
            modules = self._node_modules
            module = modules[at] if at < len(modules) else ""
            self._backward_modules[number] = module
        return module

    def uncounted_ops(self) -> list[UncountedOp]:
        return [UncountedOp(op=op, calls=calls, modules=list(mods))
                for op, (calls, mods) in self.uncounted.items()]

    def peak_activation_bytes(self, outputs: Any) -> int:
        end = len(self.records)
        for t in tree_leaves(outputs):
            if isinstance(t, torch.Tensor):
                span = self.live.get(_storage_key(t))
                if span is not None:
                    span[2] = end  # returned tensors stay alive to the end
        return self.peak_live()[0]

    def peak_live(self) -> tuple[int, int]:
        """The largest total of the spans' bytes alive at once, and the op index where it
        is first reached: each storage alive from its first write to its last read."""
        end = len(self.records)
        delta = [0] * (end + 2)
        for size, first, last in self.spans:
            delta[first] += size
            delta[max(last, first) + 1] -= size
        peak = running = at = 0
        for index, d in enumerate(delta):
            running += d
            if running > peak:
                peak, at = running, index
        return peak, at


# the ops whose kernels read dense operands (a broadcast input is copied out first)
_DENSE_KERNELS = frozenset({OpCategory.MATMUL, OpCategory.CONV, OpCategory.POINTWISE,
                            OpCategory.DEPTHWISE, OpCategory.GROUPED, OpCategory.ATTENTION})

_next_node_number = torch._C._autograd._get_sequence_nr  # the next autograd node's number


def _owner_inside(module: str, owners: tuple[str, ...]) -> str:
    """The first of ``owners`` inside ``module`` (its descendant), else ``module``: an op
    on a submodule's own weight is charged to that submodule even when the parent ran it."""
    prefix = module + "." if module else ""
    for owner in owners:
        if owner.startswith(prefix) and owner != module:
            return owner
    return module


class _CostMode(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps __torch_dispatch__ in a dynamo-disable guard unless a mode opts out;
        # the guard imports torch._dynamo (over a second) and adds overhead to every op.
        # Nothing is compiled inside a trace, so the guard protects nothing here.
        return False

    def __init__(self, state: TraceState):
        super().__init__()
        self.state = state

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        state = self.state
        name, entry, zero, kernel = state.op_info(func)
        out = kernel(args, kwargs) if kernel is not None else None
        if out is None:
            out = func(*args, **kwargs)
        if state.suppress:
            return out
        if zero:
            state.known_zero_calls += 1
        else:
            state.record(name, entry, args, kwargs, out)
        return out


class _FunctionLevelMode(TorchFunctionMode):
    def __init__(self, state: TraceState):
        super().__init__()
        self.state = state

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is _SDPA:
            return self._attention(func, args, kwargs)
        if func is _MHA_FORWARD and not self.state.on_meta:
            # its scaled_dot_product_attention runs while this mode is off, so dispatch sees
            # the kernel: the math decomposition, as on meta, not CPU's flash kernel
            with sdpa_kernel([SDPBackend.MATH]):
                return func(*args, **kwargs)
        recurrent = _RECURRENT.get(func) if type(func) is _BUILTIN else None
        if recurrent is None or self.state.suppress:
            return func(*args, **kwargs)
        return self._one_op(recurrent, self.state.recurrent_entries[recurrent], func, None,
                            args, kwargs)

    def _attention(self, func, args, kwargs):
        state = self.state
        if state.suppress:
            return func(*args, **kwargs)
        out = None
        if state.on_meta and not state.training and len(args) >= 3:
            enable_gqa = args[7] if len(args) > 7 else kwargs.get("enable_gqa", False)
            mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
            out = meta_kernels.attention_output(*args[:3], enable_gqa, mask)
        elif state.on_meta and state.training:
            func = _fused_attention(args, kwargs) or func
        return self._one_op("scaled_dot_product_attention", state.sdpa_entry, func, out, args,
                            kwargs)

    def _one_op(self, name: str, entry: FormulaEntry | None, func, out, args, kwargs):
        """Record ``func`` as one op; the ops it runs below (``out`` None) are not recorded."""
        state = self.state
        if out is None:
            state.suppress += 1
            try:
                out = func(*args, **kwargs)
            finally:
                state.suppress -= 1
        state.record(name, entry, args, kwargs, out)
        return out


_FLASH_CPU = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default


def _fused_attention(args: tuple, kwargs: dict) -> Callable[..., Any] | None:
    """In a training step on meta, attention runs a fused kernel (CPU's flash attention),
    as on CPU and CUDA: it saves q, k, v, the output and the log-sum-exp for its backward,
    which recomputes the scores. Meta's own choice, the math path, would save the attention
    weights instead and keep different tensors alive. Grouped-query heads run it too, as on
    the CPU. None (the math path) where the fused kernel does not apply: inputs that are not
    4-D, dropout, heads that do not divide."""
    if len(args) < 3 or any(not isinstance(t, torch.Tensor) or t.dim() != 4 for t in args[:3]):
        return None
    names = ("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
    options = dict(zip(names, args[3:]))
    options.update({k: v for k, v in kwargs.items() if k in names})
    q, k, v = args[:3]
    heads, kv_heads = q.shape[1], k.shape[1]
    grouped = heads != kv_heads
    if options.get("dropout_p", 0.0) or kv_heads != v.shape[1] or heads % kv_heads \
            or (grouped and not options.get("enable_gqa", False)):
        return None

    def fused(*_args: Any, **_kwargs: Any) -> torch.Tensor:
        return _FLASH_CPU(q, k, v, 0.0, bool(options.get("is_causal", False)),
                          attn_mask=options.get("attn_mask"), scale=options.get("scale"))[0]

    return fused


_BUILTIN = type(torch._C._VariableFunctions.lstm)
_MHA_FORWARD = F.multi_head_attention_forward


@contextmanager
def module_scope(model: nn.Module, state: TraceState) -> Iterator[None]:
    """Push each module's path on entry and pop it on exit, for the duration of a trace.

    A :class:`ModuleTracker` on ``state.stack`` itself, so the ops read the innermost path
    from there; after a forward that raised, the stack still names where it failed.
    Modules outside ``model`` (not in the index) are ignored.
    """
    with ModuleTracker(state.index.paths, stack=state.stack):
        yield


@contextmanager
def tracing(model: nn.Module, state: TraceState) -> Iterator[TraceState]:
    """Record every op run inside the block into ``state``: the module scope and both
    modes, installed together and removed on exit (a forward, and in a training step the
    loss and the backward too)."""
    with ExitStack() as stack:
        stack.enter_context(module_scope(model, state))
        stack.enter_context(_FunctionLevelMode(state))
        stack.enter_context(_CostMode(state))
        stack.enter_context(attributed_warnings())  # at the model's line, not ours
        yield state


def run_forward(model: nn.Module, state: TraceState, inputs: tuple,
                input_kwargs: dict | None,
                tensors: Mapping[str, torch.Tensor] | None = None) -> Any:
    """``model(*inputs, **input_kwargs)`` (with ``tensors`` swapped in for its parameters
    and buffers), an exception raised by it translated into a ``ForwardError`` naming the
    module it was in."""
    try:
        if tensors is None:
            return model(*inputs, **(input_kwargs or {}))
        return torch.func.functional_call(model, dict(tensors), tuple(inputs),
                                          input_kwargs or {}, tie_weights=True, strict=False)
    except ForwardError:
        raise
    except Exception as exc:  # a user's forward can raise anything
        where = state.stack[-1] if state.stack else ""
        kind = state.module_types.get(where, type(model).__name__)
        raise forward_error(where, kind, inputs, exc) from exc  # as bench and compare say it


def new_state(model: nn.Module, inputs: tuple, input_kwargs: dict | None, *,
              storage_dtype: torch.dtype | None, index: ModuleIndex | None,
              formulas: Mapping[OpKey, Callable[..., Any]] | None,
              training: bool = False) -> TraceState:
    """A trace's state, its inputs registered as the first activations."""
    leaves = tree_leaves((inputs, input_kwargs or {}))
    input_tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
    index = index or index_modules(model)
    on_meta = any(t.is_meta for t in input_tensors) or \
        any(p.is_meta for p in index.params[:1])
    state = TraceState(model, storage_dtype, on_meta, index, override_entries(formulas),
                       training=training)
    for t in input_tensors:
        state.add_activation(t, 0)
    return state


def trace(model: nn.Module, inputs: tuple, input_kwargs: dict | None = None, *,
          storage_dtype: torch.dtype | None = None, index: ModuleIndex | None = None,
          formulas: Mapping[OpKey, Callable[..., Any]] | None = None,
          tensors: Mapping[str, torch.Tensor] | None = None) -> tuple[TraceState, Any]:
    """Run ``model(*inputs, **input_kwargs)`` once under the tracer; return the state and output.

    ``index`` is ``index_modules(model)`` when the caller has it already; ``formulas`` maps
    ops to formulas used instead of the registry's for this trace only (see registry.py).
    ``tensors`` (name -> tensor) stand in for the model's parameters and buffers for this
    forward (``torch.func.functional_call``); ``index`` must then index them."""
    state = new_state(model, inputs, input_kwargs, storage_dtype=storage_dtype, index=index,
                      formulas=formulas)
    with torch.no_grad(), tracing(model, state):
        output = run_forward(model, state, inputs, input_kwargs, tensors)
    return state, output
