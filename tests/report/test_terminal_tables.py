"""Terminal tables a person can read: no number or name cut at 80 or 100 columns, low-priority
columns left out (and named), few models transposed, units chosen per column."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

import costlab
from costlab.report.document import Table, scaled
from costlab.report.export import analysis_document, comparison_document
from costlab.report.renderers.rich import draw, terminal_width
from costlab.report.units import choose_unit, scaled_text
from tests.cli_helpers import invoke

THREE = ["mobilenet_v1", "mobilenet_v2", "shufflenet_v2"]


def drawn(document, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    draw(document, console)
    return console.export_text()


def cells(text: str) -> list[str]:
    """Every table cell on the page, stripped (the box characters split them)."""
    return [c.strip() for line in text.splitlines() if line.startswith("│")
            for c in line.strip("│").split("│")]


@pytest.fixture(scope="module")
def three():
    return costlab.compare(THREE)


@pytest.mark.parametrize("width", [80, 100])
def test_three_model_compare_cuts_no_number_or_name(three, width):
    text = drawn(comparison_document(three), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    shown = cells(text)
    # transposed: one column per model, the names whole in the header
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.strip("┃").split("┃")] == ["model", *THREE]
    rows = {r[0]: r[1:] for r in (c.strip("│").split("│") for c in [
        line for line in text.splitlines() if line.startswith("│")])}
    rows = {k.strip(): [v.strip() for v in vs] for k, vs in rows.items()}
    assert rows["MACs (M)"] == ["568.74", "300.77", "144.91"]
    assert rows["FLOPs (G)"] == ["1.16", "0.64", "0.30"]
    assert rows["mem access (MB)"] == ["138.65", "173.07", "68.05"]
    assert rows["MACs x"] == ["1.00x", "0.53x", "0.25x"]
    assert "variant" not in rows  # no model has one: the row is left out
    assert shown


@pytest.mark.parametrize("width", [80, 100])
def test_many_models_drop_low_priority_columns_and_say_which(width):
    models = THREE + ["resnet50", "squeezenet", "llama_70b"]
    text = drawn(comparison_document(costlab.compare(models)), width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    body = [c.strip() for line in text.splitlines() if line.startswith("│")
            for c in line.strip("│").split("│")]
    for name in models:
        assert name in body
    assert "146.22" in body and "<0.01" in body  # llama_70b's MACs in T, the CNNs' below
    said = " ".join(text.split("Not shown at this width: ")[1].split())
    assert said.startswith("variant, input, ")
    assert "(a wider terminal, or -f md, csv or html, shows every column)." in said


def test_a_module_table_of_a_small_model_scales_down():
    import torch

    cost = costlab.analyze(torch.nn.Sequential(torch.nn.Linear(8, 4)), input_shape=(1, 8))
    text = drawn(analysis_document(cost, depth=1), 100)
    assert "MACs (K)" not in text  # 32 MACs: no prefix at all
    assert re.search(r"│ 0\s+│ Linear\s+│\s+32\.00 │", text)


def test_units_per_column():
    assert choose_unit([568_740_352, 300_774_272], "count").name == "M"
    assert choose_unit([1_162_745_320], "count").name == "G"
    assert choose_unit([138_650_000], "bytes").name == "MB"
    assert choose_unit([0, None], "count").name == "M"  # a column of zeros keeps the default
    # a small value beside a large one: a smaller unit while the large keeps <= 4 digits
    assert choose_unit([4_500_000, 2_000], "bytes").name == "KB"
    # ... and beyond that the small one reads <0.01, not 0.00
    huge = choose_unit([146_222_161_590_000, 144_910_000], "count")
    assert huge.name == "T" and huge.text(144_910_000) == "<0.01" and huge.text(0) == "0.00"
    assert scaled_text(146_222_161_590_000, "count") == "146.22 T"
    assert scaled_text(512, "count") == "512"
    assert scaled_text(3_400_000, "bytes") == "3.40 MB"


def test_scaled_column_label_and_cells():
    table = Table(columns=[scaled("m", "MACs ({unit})", base=1e6)],
                  rows=[{"m": 1500.0}, {"m": None}]).with_units()
    assert table.columns[0].label == "MACs (G)"
    assert [table.columns[0].cell(r) for r in table.rows] == ["1.50", ""]


def test_piped_output_honours_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_width() == 80
    result = invoke("compare", *THREE)
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    monkeypatch.delenv("COLUMNS")
    assert terminal_width() == 200  # a pipe without COLUMNS: wide, not wrapped


def test_csv_and_json_keep_exact_integers(three):
    import json

    from costlab.report.renderers import render

    payload = json.loads(render(comparison_document(three), "json"))
    assert payload["totals"][0]["macs"] == 568_740_352


def test_summary_lines_are_plain_text_on_a_colour_terminal(three):
    # rich highlights numbers in plain strings ("0." bold); sentences are drawn as Text
    console = Console(file=io.StringIO(), width=120, force_terminal=True,
                      color_system="truecolor")
    draw(comparison_document(three), console)
    lines = [line for line in console.file.getvalue().splitlines() if "fewer MACs" in line]
    assert lines == ["mobilenet_v2: 0.53x MACs, 0.83x params (vs mobilenet_v1); 47% fewer MACs",
                     "shufflenet_v2: 0.25x MACs, 0.54x params (vs mobilenet_v1); 75% fewer MACs"]
