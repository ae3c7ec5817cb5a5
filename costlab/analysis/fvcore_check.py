"""Cross-check against fvcore's FlopCountAnalysis, module by module.

fvcore counts one multiply-add as one "flop", so its numbers line up with costlab's MACs,
except where its conventions differ; ``DIFFERENCES`` names them and each row says which
apply to that module.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from costlab.core.categories import OpCategory
from costlab.core.errors import CostlabError

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from costlab.core.records import ModelCost

DIFFERENCES = {
    OpCategory.NORM: "fvcore adds BatchNorm (1 per element, 2 with affine)",
    OpCategory.POOLING: "fvcore adds adaptive pooling (1 per input element)",
    OpCategory.REDUCTION: "fvcore adds adaptive pooling (1 per input element)",
    OpCategory.ATTENTION: "fvcore skips attention",
}
SUMMARY = ("fvcore counts one multiply-add as one flop (compare with MACs); it adds BatchNorm and "
           "adaptive pooling, skips element-wise ops and activations (listed as unsupported) "
           "and attention, and needs real weights (it runs on CPU, not meta).")


@dataclass
class FvcoreCheck:
    frame: "pd.DataFrame"  # module, costlab_macs, fvcore, difference, why
    unsupported: dict[str, int]


def check_fvcore(cost: "ModelCost", model: "nn.Module", inputs: tuple, depth: int) -> FvcoreCheck:
    """Run fvcore on ``model`` (a CPU twin of the analyzed one) and line it up with ``cost``."""
    import pandas as pd
    import torch

    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise CostlabError("fvcore is not installed: pip install fvcore") from None
    if any(p.device.type == "meta" for p in model.parameters()):
        raise CostlabError("fvcore needs real weights; the model is on meta")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(model.eval(), inputs)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        with torch.no_grad():
            by_module = analysis.by_module()
        unsupported = dict(analysis.unsupported_ops())

    categories: dict[str, set[str]] = {}
    for r in cost.layers:
        parts = r.module.split(".") if r.module else []
        for i in range(len(parts) + 1):
            categories.setdefault(".".join(parts[:i]), set()).add(r.category)

    rows = [{"module": "(total)", "costlab_macs": cost.total.macs,
             "fvcore": int(by_module.get("", 0)), "categories": categories.get("", set())}]
    rows += [{"module": m.path, "costlab_macs": m.macs, "fvcore": int(by_module.get(m.path, 0)),
              "categories": categories.get(m.path, set())} for m in cost.modules(depth)]
    for row in rows:
        row["difference"] = row["fvcore"] - row["costlab_macs"]
        why = sorted({DIFFERENCES[c] for c in row.pop("categories") if c in DIFFERENCES})
        row["why"] = "; ".join(why) if row["difference"] else ""
    frame = pd.DataFrame(rows, columns=["module", "costlab_macs", "fvcore", "difference", "why"])
    return FvcoreCheck(frame, unsupported)
