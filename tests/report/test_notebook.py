"""Results display themselves: an HTML table in Jupyter, the terminal table under rich."""

from __future__ import annotations

import io
import pickle

from rich.console import Console

import costlab
from costlab.core.records import ModelCost


def test_model_cost_shows_html_and_rich():
    cost = costlab.analyze("mobilenet_v1")
    assert isinstance(cost, ModelCost)
    html = cost._repr_html_()
    assert html.startswith('<div class="costlab">') and "<!DOCTYPE" not in html
    assert "<table" in html and "features" in html and "568.74" in html
    console = Console(file=io.StringIO(), width=100, color_system=None, record=True)
    console.print(cost)
    text = console.export_text()
    assert "modules to depth 2" in text and "MACs 568,740,352" in text
    assert type(pickle.loads(pickle.dumps(cost))) is type(cost)
    from dataclasses import fields

    plain = ModelCost(**{f.name: getattr(cost, f.name) for f in fields(ModelCost)})
    assert cost == plain and plain == cost


def test_comparison_and_sweep_show_html_and_rich():
    comparison = costlab.compare(["mobilenet_v1", "mobilenet_v2"])
    assert "<table" in comparison._repr_html_() and "mobilenet_v2" in comparison._repr_html_()
    console = Console(file=io.StringIO(), width=100, color_system=None, record=True)
    console.print(comparison)
    assert "0.53x" in console.export_text()
    sweep = costlab.sweep("mobilenet_v1", {"width": "1,0.5"})
    assert "<table" in sweep._repr_html_()
