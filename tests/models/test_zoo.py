"""The whole zoo at default settings, on the meta device: every op counted, every model
with a reference, every published row within reach of a registered model."""

from __future__ import annotations

import pytest

import costlab
from costlab.models import registry
from costlab.references import published

NAMES = registry().names()


@pytest.mark.parametrize("name", NAMES)
def test_every_model_analyzes_on_meta_with_nothing_uncounted(name):
    cost = costlab.analyze(name)
    assert cost.info.device == "meta"
    assert cost.total.macs > 0 and cost.total.params >= 0
    assert cost.uncounted == [], [(u.op, u.calls) for u in cost.uncounted]
    assert cost.total.partial is False


@pytest.mark.parametrize("name", NAMES)
def test_every_model_names_its_source(name):
    spec = registry().get(name)
    assert spec.reference and spec.family
    assert spec.builder.__doc__ and len(spec.builder.__doc__.split()) > 5


def test_every_published_model_is_in_the_zoo():
    missing = sorted({row.model for row in published()} - set(NAMES))
    assert missing == [], f"published rows with no registered model: {missing}"
