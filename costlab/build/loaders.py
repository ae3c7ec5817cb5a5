"""Loaders for users' own models: files, modules, torchvision, timm, exported programs.

A specifier names where a model comes from:

- ``path/to/file.py:Name``: a class, a factory function or a module instance in that file
  (importing the file runs its code, as ``python file.py`` would);
- ``package.module:name``: the same, from an importable module;
- ``torchvision:resnet50`` and ``timm:mobilenetv3_large_100``: built without weights, and
  with a default input: timm's from the model's ``pretrained_cfg["input_size"]``,
  torchvision's classification models 1x3x224x224;
- ``model.pt2``: a program saved by ``torch.export.save``;
- ``hf:PATH``, ``hf:org/name`` and ``hf:MODEL_TYPE``: a Hugging Face transformers model
  built from its config, offline (build/huggingface.py).

Constructors run under ``torch.device("meta")`` so no weights are allocated; one that fails
there (it loads a checkpoint, say) is built on the CPU instead, with a note saying so.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costlab.build.user_code import quiet_loggers, running_user_code
from costlab.core.errors import CostlabError, UsageError

# torchvision's classification models are for ImageNet crops (some weights use larger ones;
# the models built without weights take any size above their minimum)
TORCHVISION_CLASSIFICATION_INPUT = (3, 224, 224)

OPTIONAL = {
    "torchvision": "torchvision is not installed: pip install torchvision (a build matching "
                   "your torch)",
    "timm": "timm is not installed: pip install timm",
}


@dataclass
class LoadedModel:
    module: Any  # nn.Module
    name: str
    device: str  # where its parameters live
    notes: list[str] = field(default_factory=list)
    example_inputs: tuple | None = None  # an exported program's own example inputs
    example_kwargs: dict | None = None
    input_size: tuple[int, ...] | None = None  # the default input without batch, if known
    input_dtype: str = "float32"  # of the default input: int64 for token ids

    def default_input(self, batch: int = 1,
                      resolution: int | None = None) -> tuple[int, ...] | None:
        """The default input shape with ``batch`` (and ``resolution`` for images)."""
        if self.input_size is None:
            return None
        size = tuple(self.input_size)
        if resolution is not None and len(size) == 3:
            size = (size[0], resolution, resolution)
        return (batch, *size)


def is_specifier(text: str) -> bool:
    """Whether ``text`` names a user model rather than a registered one."""
    return text.endswith((".pt2", ".pt", ".pth")) or ":" in text


def _short_error(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def unwrap(module: Any) -> Any:
    """The model inside torch.compile's OptimizedModule and DataParallel-style wrappers."""
    from torch import nn

    for _ in range(8):  # wrappers can nest, but not endlessly
        inner = getattr(module, "_orig_mod", None)  # torch.compile
        if inner is None and isinstance(module, (nn.DataParallel,
                                                 nn.parallel.DistributedDataParallel)):
            inner = module.module
        if inner is None:
            return module
        module = inner
    return module


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"cannot read model file {path}: no such file")
    module_name = f"costlab_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        with running_user_code(path):
            spec.loader.exec_module(module)
    except Exception as exc:  # the user's file can raise anything at import
        sys.modules.pop(module_name, None)
        if isinstance(exc, CostlabError):  # a sys.exit, said in one line
            raise
        raise UsageError(f"importing {path} failed: {_short_error(exc)}") from exc
    return module


def _import_module(name: str) -> Any:
    try:
        with running_user_code(name):
            return importlib.import_module(name)
    except CostlabError:
        raise
    except ImportError as exc:
        root = name.split(".")[0]
        if root in OPTIONAL:
            raise UsageError(OPTIONAL[root]) from None
        raise UsageError(f"cannot import module {name!r}: {_short_error(exc)}") from None
    except Exception as exc:
        raise UsageError(f"importing {name} failed: {_short_error(exc)}") from exc


def _construct(target: Any, kwargs: dict[str, Any], label: str, device: str) -> LoadedModel:
    """Call a class or factory on ``device`` (meta first), or take a module instance."""
    from torch import nn

    if isinstance(target, nn.Module):
        if kwargs:
            raise UsageError(f"{label} is a module instance: --kwargs do not apply")
        module = unwrap(target)
        return LoadedModel(module, label, _device_of(module))
    if not callable(target):
        raise UsageError(f"{label} is a {type(target).__name__}, not a model class or factory")
    with running_user_code(label, "building"):
        return _build(target, kwargs, label, device)


def _build(target: Any, kwargs: dict[str, Any], label: str, device: str) -> LoadedModel:
    import torch
    from torch import nn

    notes = []
    tried = ["meta", "cpu"] if device == "meta" else [device]
    for where in tried:
        try:
            with torch.device(where):
                built = target(**kwargs)
        except TypeError as exc:
            if where == tried[-1] or "meta" not in str(exc):
                raise UsageError(f"calling {label}(**kwargs) failed: {_short_error(exc)}; "
                                 f"it takes {signature_hint(target)}") from exc
            notes.append(f"built on cpu: the constructor failed on meta ({_short_error(exc)})")
            continue
        except Exception as exc:
            if where == tried[-1]:
                raise UsageError(f"building {label} failed: {_short_error(exc)}") from exc
            notes.append(f"built on cpu: the constructor failed on meta ({_short_error(exc)})")
            continue
        built = unwrap(built)
        if not isinstance(built, nn.Module):
            raise UsageError(f"{label} returned a {type(built).__name__}, not an nn.Module")
        return LoadedModel(built, label, _device_of(built), notes)
    raise AssertionError("unreachable")


def _device_of(module: Any) -> str:
    for tensor in list(module.parameters())[:1] + list(module.buffers())[:1]:
        return tensor.device.type
    return "cpu"


def _load_exported(path: Path) -> LoadedModel:
    import torch

    if not path.is_file():
        raise UsageError(f"cannot read {path}: no such file")
    # torch's own deprecation chatter, and its log of the error costlab reports in one line
    with warnings.catch_warnings(), quiet_loggers("torch.export", "torch._export"):
        warnings.simplefilter("ignore")
        try:
            program = torch.export.load(str(path))
        except Exception as exc:
            raise UsageError(f"cannot load exported program {path}: {_short_error(exc)}") \
                from exc
        try:
            # unflatten restores the original module hierarchy: ops keep their module paths
            module = torch.export.unflatten(program)
        except Exception:
            module = program.module()
    example = getattr(program, "example_inputs", None)
    args, kwargs = (example if example is not None else (None, None))
    return LoadedModel(module, path.name, _device_of(module), [],
                       tuple(args) if args is not None else None, dict(kwargs or {}))


def import_target(specifier: str) -> Any:
    """The class or factory ``file.py:Name`` or ``package.module:name`` names, imported
    now: for a sweep, which builds it at many settings and imports its code once."""
    source, _, attr = specifier.rpartition(":")
    if not source or not attr or source in ("torchvision", "timm") or \
            specifier.endswith((".pt2", ".pt", ".pth")):
        raise UsageError(f"malformed factory {specifier!r}: expected file.py:build or "
                         "package.module:build")
    target = _import_file(Path(source)) if source.endswith(".py") else _import_module(source)
    for part in attr.split("."):
        if not hasattr(target, part):
            raise UsageError(f"{source} has no attribute {attr!r}")
        target = getattr(target, part)
    return target


def construct(target: Any, kwargs: dict[str, Any], label: str,
              device: str = "meta") -> LoadedModel:
    """``target(**kwargs)`` on ``device`` (meta first, then the CPU), as ``load`` builds."""
    return _construct(target, dict(kwargs), label, device)


def load(specifier: str, kwargs: dict[str, Any] | None = None,
         device: str = "meta") -> LoadedModel:
    """Build the model a specifier names (see the module docstring)."""
    kwargs = dict(kwargs or {})
    if specifier.startswith("hf:"):  # before the split: a path may hold a colon
        from costlab.build.huggingface import load_hf

        built = load_hf(specifier[3:], kwargs, device)
        return LoadedModel(built.module, built.name, device, built.notes,
                           input_size=built.input_size, input_dtype=built.input_dtype)
    if specifier.endswith(".pt2"):
        if kwargs:
            raise UsageError("--kwargs do not apply to an exported program")
        return _load_exported(Path(specifier))
    if specifier.endswith((".pt", ".pth")):
        raise UsageError(f"{specifier}: a .pt file holds weights, not an architecture; save "
                         "the model with torch.export.save(...) as .pt2, or name its class "
                         "as file.py:ClassName")
    source, _, attr = specifier.rpartition(":")
    if not source or not attr:
        raise UsageError(f"malformed model specifier {specifier!r}: expected file.py:Name, "
                         "package.module:name, torchvision:NAME, timm:NAME, hf:CONFIG or "
                         "FILE.pt2")
    if source == "torchvision":
        return _torchvision(attr, kwargs, device)
    if source == "timm":
        return _timm(attr, kwargs, device)
    if source.endswith(".py"):
        namespace = _import_file(Path(source))
    else:
        namespace = _import_module(source)
    target = namespace
    for part in attr.split("."):
        if not hasattr(target, part):
            raise UsageError(f"{source} has no attribute {attr!r}")
        target = getattr(target, part)
    return _construct(target, kwargs, specifier, device)


def _torchvision(name: str, kwargs: dict[str, Any], device: str) -> LoadedModel:
    models = _import_module("torchvision.models")
    if name not in models.list_models():
        raise UsageError(f"torchvision has no model {name!r}")
    if "weights" in kwargs and kwargs["weights"] is not None:
        raise UsageError("costlab never downloads weights: leave out 'weights'")
    builder = models.get_model_builder(name)
    loaded = _construct(lambda **kw: builder(weights=None, **kw), kwargs,
                        f"torchvision:{name}", device)
    if name in models.list_models(module=models):  # the classification models
        loaded.input_size = TORCHVISION_CLASSIFICATION_INPUT
    return loaded


def _timm(name: str, kwargs: dict[str, Any], device: str) -> LoadedModel:
    timm = _import_module("timm")
    if not timm.is_model(name):
        raise UsageError(f"timm has no model {name!r}")
    loaded = _construct(lambda **kw: timm.create_model(name, pretrained=False, **kw), kwargs,
                        f"timm:{name}", device)
    loaded.input_size = timm_input_size(loaded.module, kwargs)
    return loaded


def timm_input_size(model: Any, kwargs: dict[str, Any]) -> tuple[int, ...] | None:
    """A timm model's input without batch: its config's ``input_size`` (C, H, W), with
    ``img_size`` from the constructor's arguments where given (the model is built for it,
    its config still names the pretrained size)."""
    config = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    size = config.get("input_size") if isinstance(config, dict) else None
    if not size:
        return None
    size = tuple(int(d) for d in size)
    img_size = kwargs.get("img_size")
    if img_size is not None and len(size) == 3:
        height, width = (img_size, img_size) if isinstance(img_size, int) else img_size
        size = (size[0], int(height), int(width))
    return size


def signature_hint(target: Any) -> str:
    """The constructor's parameters, for error messages."""
    try:
        return str(inspect.signature(target))
    except (TypeError, ValueError):
        return "(...)"
