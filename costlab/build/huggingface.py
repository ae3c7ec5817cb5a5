"""``hf:`` models: Hugging Face transformers models built from a config, always offline.

- ``hf:PATH``: a ``config.json``, a directory holding one (a local checkout), or a model's
  directory in the Hugging Face cache layout (``models--org--name/snapshots/<rev>/``);
- ``hf:org/name``: that model's ``config.json`` if the Hugging Face cache holds it;
- ``hf:MODEL_TYPE`` (``hf:llama``, ``hf:mixtral``): the config class's defaults.

``--kwargs`` (``model_kwargs``) override config fields. The model is built with
``AutoModelForCausalLM.from_config`` (``AutoModel`` for configs without a causal LM head) on
meta, in the config's dtype, without initializing weights. costlab never downloads: a hub
id without a local config is a one-line error saying how to fetch ``config.json``.

The default input is 1 x 2048 token ids, or the config's own position limit if smaller;
a vision config (image size and channels, no vocabulary) takes one image.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costlab.core.errors import UsageError

PREFIX = "hf:"
MISSING = ("transformers is not installed: pip install 'costlab[hf]' "
           "(or pip install transformers)")
DEFAULT_TOKENS = 2048
# where configs name their longest input, first found wins
POSITION_LIMITS = ("max_position_embeddings", "n_positions", "max_sequence_length",
                   "seq_length", "n_ctx")
# MoE configs name their experts and top-k in several ways
EXPERT_COUNTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
TOP_KS = ("num_experts_per_tok", "moe_top_k", "top_k", "num_selected_experts")


def transformers_module():
    """transformers, or the one-line install hint."""
    try:
        import transformers
    except ImportError:
        raise UsageError(MISSING) from None
    return transformers


def hub_cache() -> Path:
    """The Hugging Face hub cache, as huggingface_hub finds it (its environment variables)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _cached_snapshot_config(model_dir: Path) -> Path | None:
    """config.json of a cached model directory (models--org--name): the snapshot refs/main
    names, else the newest snapshot that has one."""
    snapshots = model_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = model_dir / "refs" / "main"
    if ref.is_file():
        chosen = snapshots / ref.read_text(encoding="utf-8").strip() / "config.json"
        if chosen.is_file():
            return chosen
    found = [p / "config.json" for p in snapshots.iterdir() if (p / "config.json").is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def find_config(name: str) -> Path | None:
    """The config.json ``name`` points at (a path, a cached model, a cached hub id), or None
    when it is none of these."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "config.json").is_file():
            return path / "config.json"
        cached = _cached_snapshot_config(path)
        if cached is not None:
            return cached
        raise UsageError(f"{PREFIX}{name}: no config.json in {path} (nor a cached model's "
                         "snapshots/ there)")
    if name.endswith(".json"):
        raise UsageError(f"{PREFIX}{name}: no such file")
    if name.count("/") == 1 and not name.startswith(("/", ".", "~")):
        return _cached_snapshot_config(hub_cache() / ("models--" + name.replace("/", "--")))
    return None


def _no_download(name: str) -> UsageError:
    return UsageError(
        f"{PREFIX}{name}: no local config.json (not a path, not in the Hugging Face cache at "
        f"{hub_cache()}); costlab never downloads: fetch it with `hf download {name} "
        f"config.json --local-dir DIR` (or save config.json from the model's page) and use "
        f"{PREFIX}DIR")


def _read_config_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a config.json is a JSON object")
    return data


def _config_class(transformers: Any, model_type: str, origin: str) -> Any:
    mapping = transformers.CONFIG_MAPPING
    if model_type in mapping:
        return mapping[model_type]
    close = difflib.get_close_matches(model_type, list(mapping.keys()), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"{origin}: transformers {transformers.__version__} has no model type "
                     f"{model_type!r}{hint}")


def _check_overrides(config_class: Any, base: dict[str, Any], overrides: dict[str, Any],
                     origin: str) -> None:
    """Config fields only: a config class takes unknown keywords silently, so a typo would
    change nothing and say nothing."""
    if not overrides:
        return
    known = set(base) | set(config_class().to_dict())
    for key in overrides:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(f"{origin} has no config field {key!r}{hint}")


@dataclass(frozen=True, kw_only=True)
class HfConfig:
    """A resolved config and where it came from."""

    config: Any  # a transformers PretrainedConfig
    origin: str  # "config.json at PATH (LlamaConfig)" or "LlamaConfig defaults"


def resolve_config(name: str, overrides: dict[str, Any] | None = None) -> HfConfig:
    """The config ``hf:name`` names, with ``overrides`` applied to its fields."""
    transformers = transformers_module()
    overrides = dict(overrides or {})
    if not name:
        raise UsageError("hf: needs a config: hf:PATH (a config.json or its directory), "
                         "hf:org/name (cached) or hf:MODEL_TYPE such as hf:llama")
    path = find_config(name)
    if path is not None:
        data = _read_config_json(path)
        model_type = data.get("model_type")
        if not isinstance(model_type, str):
            raise UsageError(f"{path}: no model_type, so no config class to build it with")
        config_class = _config_class(transformers, model_type, str(path))
        _check_overrides(config_class, data, overrides, str(path))
        try:
            config = config_class.from_dict({**data, **overrides})
        except Exception as exc:  # a config's own checks raise anything
            raise UsageError(f"{path}: {type(exc).__name__}: {exc}") from exc
        return HfConfig(config=config,
                        origin=f"config.json at {path} ({type(config).__name__})")
    if "/" in name or name.startswith((".", "~")):
        raise _no_download(name)
    config_class = _config_class(transformers, name, f"{PREFIX}{name}")
    _check_overrides(config_class, {}, overrides, f"{PREFIX}{name}")
    try:
        config = config_class(**overrides)
    except Exception as exc:
        raise UsageError(f"{PREFIX}{name}: {type(exc).__name__}: {exc}") from exc
    return HfConfig(config=config, origin=f"{config_class.__name__} defaults")


def config_dtype(config: Any):
    """The torch dtype the config names (``dtype``, or ``torch_dtype`` in older ones);
    float32 when it names none."""
    import torch

    # recent configs have dtype (reading torch_dtype there warns); older ones torch_dtype
    value = config.dtype if hasattr(config, "dtype") else getattr(config, "torch_dtype", None)
    if isinstance(value, str):
        value = getattr(torch, value, None)
    return value if isinstance(value, torch.dtype) else torch.float32


def text_config(config: Any) -> Any:
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config


def default_input(config: Any) -> tuple[tuple[int, ...], str]:
    """The input without batch, and its dtype: token ids up to 2048 or the config's
    limit; one image for a vision config."""
    text = text_config(config)
    if getattr(text, "vocab_size", None) is None and getattr(config, "image_size", None):
        size = config.image_size
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        return (int(getattr(config, "num_channels", 3)), int(height), int(width)), "float32"
    tokens = DEFAULT_TOKENS
    for name in POSITION_LIMITS:
        limit = getattr(text, name, None)
        if isinstance(limit, int) and limit > 0:
            tokens = min(tokens, limit)
            break
    return (tokens,), "int64"


def auto_class(transformers: Any, config: Any) -> Any:
    """AutoModelForCausalLM where the config has a causal LM, else AutoModel."""
    causal = transformers.AutoModelForCausalLM
    return causal if type(config) in causal._model_mapping else transformers.AutoModel


def build(config: Any, device: str) -> Any:
    """The model of ``config`` on ``device``: on meta without initializing weights."""
    import torch

    from costlab.build.meta_kernels import meta_construction
    from costlab.build.user_code import quiet_loggers

    transformers = transformers_module()
    auto = auto_class(transformers, config)
    dtype = config_dtype(config)
    place = meta_construction() if device == "meta" else torch.device(device)
    try:
        with place, quiet_loggers("transformers"):
            model = auto.from_config(config, dtype=dtype)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise UsageError(f"building {type(config).__name__} with {auto.__name__} failed: "
                         f"{type(exc).__name__}: {first}") from exc
    return model.eval()


@dataclass(frozen=True, kw_only=True)
class MoEParams:
    """Parameters a token meets in a routed MoE model: all but the experts it skips."""

    total: int
    active: int  # per token: the dense part plus top_k of every layer's experts
    experts: int
    top_k: int


def _first_int(config: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def moe_params(module: Any, config: Any) -> MoEParams | None:
    """Active params per token of a routed MoE model; None for a dense one.

    Expert weights are the parameters under an ``experts`` module: stacked (experts, ...)
    tensors, or one module per expert (``experts.0.``); a token uses top_k of them."""
    import re

    text = text_config(config)
    experts, top_k = _first_int(text, EXPERT_COUNTS), _first_int(text, TOP_KS)
    if experts is None or top_k is None or top_k >= experts:
        return None
    per_expert = re.compile(r"(^|\.)experts\.\d+\.")
    total = routed = 0
    for name, p in module.named_parameters():
        total += p.numel()
        stacked = "experts" in name and p.dim() == 3 and p.shape[0] == experts
        if stacked or per_expert.search(name):
            routed += p.numel()
    if not routed:
        return None
    return MoEParams(total=total, active=total - routed * (experts - top_k) // experts,
                     experts=experts, top_k=top_k)


def kv_geometry(config: Any) -> tuple[int, int, int]:
    """(layers, kv heads, head dim) of a decoder's KV cache, from its config."""
    text = text_config(config)
    layers = getattr(text, "num_hidden_layers", None)
    heads = getattr(text, "num_attention_heads", None)
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    hidden = getattr(text, "hidden_size", None)
    head_dim = getattr(text, "head_dim", None) or (hidden // heads if hidden and heads else None)
    if not all(isinstance(v, int) and v > 0 for v in (layers, kv_heads, head_dim)):
        raise UsageError(f"{type(config).__name__} does not say its layers, key/value heads "
                         "and head size: no KV cache to fill")
    return layers, kv_heads, head_dim


def is_hf_model(module: Any) -> bool:
    try:
        from transformers import PreTrainedModel
    except ImportError:
        return False
    return isinstance(module, PreTrainedModel)


def filled_cache(module: Any, batch: int, tokens: int, dtype: Any = None):
    """transformers' DynamicCache holding ``tokens`` positions of every layer, on meta."""
    import torch

    transformers = transformers_module()
    config = module.config
    layers, kv_heads, head_dim = kv_geometry(config)
    dtype = dtype or next(module.parameters()).dtype
    cache = transformers.DynamicCache(config=config)
    if tokens:
        for layer in range(layers):
            keys = torch.empty(batch, kv_heads, tokens, head_dim, dtype=dtype, device="meta")
            cache.update(keys, torch.empty_like(keys), layer)
    return cache


def cache_keyword(module: Any) -> str:
    """What forward calls its cache: ``cache`` in recent transformers (which deprecates
    ``past_key_values``), ``past_key_values`` before."""
    import inspect

    try:
        parameters = inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def cache_tensors(cache: Any) -> list:
    """The key and value tensors a transformers cache holds (per-layer objects in recent
    versions, key_cache/value_cache lists in older ones)."""
    found = []
    for layer in getattr(cache, "layers", None) or []:
        found += [t for t in (getattr(layer, "keys", None), getattr(layer, "values", None))
                  if t is not None and hasattr(t, "numel")]
    if not found:
        for name in ("key_cache", "value_cache"):
            found += [t for t in getattr(cache, name, None) or [] if hasattr(t, "numel")]
    return found


@dataclass(frozen=True, kw_only=True)
class HfModel:
    """An ``hf:`` model built, with what loaders.LoadedModel needs of it."""

    module: Any
    name: str
    notes: list[str]
    input_size: tuple[int, ...]
    input_dtype: str


def load_hf(name: str, overrides: dict[str, Any] | None, device: str) -> HfModel:
    """``hf:name`` built on ``device``."""
    resolved = resolve_config(name, overrides)
    config = resolved.config
    module = build(config, device)
    size, input_dtype = default_input(config)
    dtype = str(config_dtype(config)).replace("torch.", "")
    notes = [f"built from {resolved.origin} in {dtype}"]
    moe = moe_params(module, config)
    if moe is not None:
        notes.append(f"active params per token: {moe.active:,} of {moe.total:,} (top-"
                     f"{moe.top_k} of {moe.experts} experts)")
    return HfModel(module=module, name=PREFIX + name, notes=notes, input_size=size,
                   input_dtype=input_dtype)
