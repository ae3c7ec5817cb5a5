"""Roll-ups and table rows of an analysis, kept importable here for existing callers.

They live in costlab.core.records, beside the types they sum: a module's or a model's
counts are the sum of its ops' ``Counts``.
"""

from costlab.core.records import (
    LAYER_COLUMNS,
    MODULE_COLUMNS,
    layer_rows,
    layers_frame,
    module_costs,
    module_rows,
    modules_frame,
    shape_text,
    shapes_text,
    totals,
)

__all__ = ["LAYER_COLUMNS", "MODULE_COLUMNS", "layer_rows", "layers_frame", "module_costs",
           "module_rows", "modules_frame", "shape_text", "shapes_text", "totals"]
