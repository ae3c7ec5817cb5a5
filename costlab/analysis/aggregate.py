"""Roll per-op records up into totals and per-module costs, and into DataFrames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from costlab.analysis.records import CostTotals, ModuleCost, OpRecord

if TYPE_CHECKING:  # pandas is imported only when a frame is asked for
    import pandas as pd

    from costlab.analysis.records import ModelCost


def totals(records: Iterable[OpRecord], *, params: int, buffers: int, peak_bytes: int,
           partial: bool) -> CostTotals:
    macs = flops = read = written = ops = 0
    for r in records:
        macs += r.macs
        flops += r.flops
        read += r.bytes_read
        written += r.bytes_written
        ops += 1
    return CostTotals(macs, flops, params, buffers, read, written, peak_bytes, ops, partial)


def _ancestors(path: str, depth: int) -> list[str]:
    """``a.b.c`` at depth 2 -> ["a", "a.b"]; the root "" is never included."""
    if not path:
        return []
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(min(depth, len(parts)))]


def module_costs(cost: "ModelCost", depth: int) -> list[ModuleCost]:
    """One row per module down to ``depth`` (1 = the model's children), in definition order.

    Each row sums every op run inside the module, its descendants included; params are the
    module's unique parameter elements. Modules that ran no op and hold no params are left out.
    """
    # one pass over the records: sum per innermost module, then hand each module's sums to
    # its ancestors once (modules are far fewer than ops)
    own: dict[str, list[int]] = {}
    for r in cost.layers:
        s = own.get(r.module)
        if s is None:
            s = own[r.module] = [0, 0, 0, 0, 0]
        s[0] += r.macs
        s[1] += r.flops
        s[2] += r.bytes_read
        s[3] += r.bytes_written
        s[4] += 1
    sums: dict[str, list[int]] = {}
    for module, s in own.items():
        for path in _ancestors(module, depth):
            total = sums.get(path)
            if total is None:
                sums[path] = list(s)
            else:
                for i in range(5):
                    total[i] += s[i]
    rows = []
    for path, (module_type, params) in cost.module_tree.items():
        if not path:
            continue
        level = path.count(".") + 1
        if level > depth:
            continue
        s = sums.get(path)
        if s is None and not params:
            continue
        macs, flops, read, written, ops = s or (0, 0, 0, 0, 0)
        rows.append(ModuleCost(path, module_type, level, macs, flops, params, read, written, ops))
    return rows


def shape_text(shape) -> str:
    """(1, 3, 224, 224) -> "1x3x224x224"; None -> "" (every table writes shapes so)."""
    if shape is None:
        return ""
    return "x".join(map(str, shape))


def shapes_text(shapes) -> str:
    """Several shapes, space-separated: "1x128 1x128"."""
    return " ".join([shape_text(s) for s in shapes])


LAYER_COLUMNS = ["index", "module", "module_type", "op", "category", "input_shape", "output_shape",
                 "kernel", "stride", "groups", "macs", "flops", "params", "bytes_read",
                 "bytes_written", "memory_access_bytes", "share_macs", "counted", "note"]
MODULE_COLUMNS = ["module", "module_type", "depth", "macs", "flops", "params", "bytes_read",
                  "bytes_written", "memory_access_bytes", "ops", "share_macs"]


def layer_rows(cost: "ModelCost") -> list[dict]:
    total_macs = cost.total.macs or 1
    rows = []
    shape_texts: dict[tuple, str] = {}  # deep models repeat the same shapes many times
    for r in cost.layers:
        attrs = r.attrs or {}
        inputs = shape_texts.get(r.input_shapes)
        if inputs is None:
            inputs = shape_texts[r.input_shapes] = shapes_text(r.input_shapes)
        outputs = shape_texts.get(r.output_shapes)
        if outputs is None:
            outputs = shape_texts[r.output_shapes] = shapes_text(r.output_shapes)
        rows.append({
            "index": r.index, "module": r.module, "module_type": r.module_type, "op": r.op,
            "category": r.category, "input_shape": inputs, "output_shape": outputs,
            "kernel": shape_text(attrs.get("kernel")), "stride": shape_text(attrs.get("stride")),
            "groups": attrs.get("groups", ""), "macs": r.macs, "flops": r.flops,
            "params": r.params, "bytes_read": r.bytes_read, "bytes_written": r.bytes_written,
            "memory_access_bytes": r.bytes_read + r.bytes_written,
            "share_macs": r.macs / total_macs, "counted": r.counted,
            "note": attrs.get("note", "") if r.counted else "no formula: uncounted",
        })
    return rows


def module_rows(cost: "ModelCost", depth: int) -> list[dict]:
    total_macs = cost.total.macs or 1
    return [{
        "module": m.path, "module_type": m.module_type, "depth": m.depth, "macs": m.macs,
        "flops": m.flops, "params": m.params, "bytes_read": m.bytes_read,
        "bytes_written": m.bytes_written, "memory_access_bytes": m.bytes_read + m.bytes_written,
        "ops": m.ops, "share_macs": m.macs / total_macs,
    } for m in module_costs(cost, depth)]


def layers_frame(cost: "ModelCost") -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(layer_rows(cost), columns=LAYER_COLUMNS)


def modules_frame(cost: "ModelCost", depth: int) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame(module_rows(cost, depth), columns=MODULE_COLUMNS)
