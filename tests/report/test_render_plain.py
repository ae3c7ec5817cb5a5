"""Long layer tables print as aligned plain text with the same cells as the rich table."""

import costlab
from costlab.report.export import analysis_document
from costlab.report.renderers import rich


def test_plain_table_alignment():
    text = rich.plain_table("t", ["name", "n"], [["ab", "1"], ["c", "100"]], {"name"})
    assert text.splitlines() == ["t", "name    n", "----  ---", "ab      1", "c     100"]


def test_large_models_get_the_plain_layer_table(monkeypatch):
    document = analysis_document(costlab.analyze("mobilenet_v1"), 1, True)
    rich_text = rich.render(document)
    monkeypatch.setattr(rich, "PLAIN_TABLE_ROWS", 10)
    plain_text = rich.render(document)
    layer_lines = [line for line in plain_text.splitlines()
                   if line.lstrip().startswith("27 ")]
    assert "┃ op " in rich_text and "┃ op " not in plain_text
    assert len(layer_lines) == 1 and "features.5.dw.conv" in layer_lines[0]
    assert layer_lines[0].split()[-1] == "0.3"  # % MACs, as in the rich table
    assert "│ 27 │ features.5.dw.conv" in rich_text
