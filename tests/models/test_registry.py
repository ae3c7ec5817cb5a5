from __future__ import annotations

import pytest

from costlab.core.errors import UnknownModelError, UsageError
from costlab.models import get_model_spec, registry


def test_registered_models_and_knobs():
    reg = registry()
    assert {"mobilenet_v1", "mobilenet_v2"} <= set(reg.names())
    spec = reg.get("mobilenet_v2")
    assert [k.name for k in spec.knobs] == ["width", "num_classes"]
    assert spec.input_for(2, 160) == (2, 3, 160, 160)
    assert "Table 2" in spec.reference


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError) as info:
        get_model_spec("mobilenetv2")
    assert info.value.suggestions[0] == "mobilenet_v2"
    assert info.value.exit_code == 2


@pytest.mark.parametrize("value", [0, -1.0, "wide"])
def test_bad_knob_values(value):
    with pytest.raises(UsageError):
        get_model_spec("mobilenet_v1").resolve_knobs({"width": value})


def test_unknown_knob():
    with pytest.raises(UsageError, match="no knob 'groups'"):
        get_model_spec("mobilenet_v1").resolve_knobs({"groups": 3})


def test_registry_owns_its_namespaces():
    reg = registry()
    assert reg.owns("mobilenet_v2") and reg.owns("block:conv5x5")
    assert reg.owns("block:typo")  # a typo in a registered namespace gets suggestions
    assert not reg.owns("torchvision:resnet50") and not reg.owns("net.py:Net")
