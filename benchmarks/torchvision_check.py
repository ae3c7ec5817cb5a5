"""costlab against torchvision's published costs, for every classification model.

    pip install torchvision   # a build matching your torch; see the README
    python benchmarks/torchvision_check.py [--only resnet50,vit_b_16] [--device meta]

torchvision's weights metadata carries ``_ops`` (GFLOPS, which are multiply-accumulates)
and ``num_params`` for each set of weights, measured at the weights' crop size. This script
analyzes every classification model with ``costlab.analyze("torchvision:NAME")`` at that
size and prints both beside each other: MACs to torchvision's printed precision (3
decimals of G), params exactly. Nothing is downloaded: models are built with weights=None.
"""

from __future__ import annotations

import argparse
import sys
import time

import costlab


def builder_kwargs(name: str, crop: int) -> dict:
    """What torchvision's weights builders set themselves when they load weights."""
    if name == "googlenet":
        return {"aux_logits": False}  # the published count leaves the aux heads out
    if name.startswith("vit_") and crop != 224:
        return {"image_size": crop}  # vit_h_14's weights are for 518x518
    return {}


def rows(only: set[str] | None, device: str):
    import torchvision
    from torchvision.models import get_model_weights, list_models

    for name in sorted(list_models(module=torchvision.models)):
        if only and name not in only:
            continue
        try:
            weights = list(get_model_weights(name))
        except (ValueError, KeyError):
            continue
        for w in weights[:1]:  # the first (default) weights of each model
            meta = w.meta
            crop = w.transforms().crop_size[0]
            kwargs = {"num_classes": len(meta["categories"]), **builder_kwargs(name, crop)}
            start = time.perf_counter()
            try:
                cost = costlab.analyze(f"torchvision:{name}", (1, 3, crop, crop),
                                       model_kwargs=kwargs, device=device)
            except costlab.core.errors.CostlabError as exc:
                yield name, crop, meta["_ops"], None, meta["num_params"], None, str(exc)
                continue
            seconds = time.perf_counter() - start
            yield (name, crop, meta["_ops"], cost.total.macs / 1e9, meta["num_params"],
                   cost.total.params, f"{seconds:.2f}s" + (" partial" if cost.total.partial
                                                           else ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--device", default="meta", choices=["meta", "cpu"])
    args = parser.parse_args()
    try:
        import torchvision  # noqa: F401
    except ImportError:
        print("torchvision is not installed: pip install torchvision", file=sys.stderr)
        return 2
    only = set(filter(None, args.only.split(","))) or None
    import datetime
    import platform

    import torch
    import torchvision as tv

    print(f"# costlab vs torchvision's published costs\n\n{datetime.date.today()}, "
          f"torch {torch.__version__}, torchvision {tv.__version__}, costlab "
          f"{costlab.__version__}, Python {platform.python_version()}, analyzed on "
          f"{args.device}. GMACs are compared at torchvision's printed precision (3 "
          f"decimals), params exactly.\n")
    print("| model | crop | torchvision GMACs | costlab GMACs | match | torchvision params "
          "| costlab params | match | note |")
    print("|---|---:|---:|---:|---|---:|---:|---|---|")
    matched = total = 0
    for name, crop, ops, macs, nparams, params, note in rows(only, args.device):
        total += 1
        macs_ok = macs is not None and round(macs, 3) == round(ops, 3)
        params_ok = params == nparams
        matched += macs_ok and params_ok
        print(f"| {name} | {crop} | {ops:.3f} | {'' if macs is None else f'{macs:.3f}'} | "
              f"{'yes' if macs_ok else 'NO'} | {nparams:,} | "
              f"{'' if params is None else f'{params:,}'} | {'yes' if params_ok else 'NO'} | "
              f"{note} |")
    print(f"\n{matched} of {total} models match torchvision on both MACs and params.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
