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


@pytest.mark.parametrize("name", ["ResNet50", " resnet50 ", "MOBILENET_V2\n"])
def test_names_match_in_any_case_and_ignore_surrounding_spaces(name):
    reg = registry()
    assert reg.get(name) is reg.get(name.strip().lower())
    assert reg.owns(name) and reg.owns("Block:Conv5x5")


@pytest.mark.parametrize("alias, model, knobs", [
    ("vit_b_16", "vit_b16", {}),
    ("squeezenet1_0", "squeezenet", {"version": "v1.0"}),
    ("squeezenet1_1", "squeezenet", {"version": "v1.1"}),
    ("shufflenet_v2_x0_5", "shufflenet_v2", {"scale": 0.5}),
    ("shufflenet_v2_x1_0", "shufflenet_v2", {"scale": 1.0}),
    ("shufflenet_v2_x1_5", "shufflenet_v2", {"scale": 1.5}),
    ("Shufflenet_V2_X2_0", "shufflenet_v2", {"scale": 2.0}),
])
def test_torchvision_names_are_aliases_of_zoo_models(alias, model, knobs):
    spec = registry().get(alias)
    assert spec.name == model
    resolved = spec.resolve_knobs({})
    assert {k: resolved[k] for k in knobs} == knobs
    assert registry().owns(alias)


def test_an_alias_builds_its_zoo_model_at_the_fixed_knobs():
    import costlab

    # torchvision 0.28's shufflenet_v2_x0_5 has the same MACs and params (checked by hand)
    cost = costlab.analyze("shufflenet_v2_x0_5")
    assert cost.name == "shufflenet_v2" and cost.info.knobs["scale"] == 0.5
    assert (cost.total.macs, cost.total.params) == (40_476_448, 1_366_792)
    assert cost.total.macs == costlab.analyze("shufflenet_v2", scale=0.5).total.macs


def test_an_alias_keeps_its_knobs():
    spec = registry().get("shufflenet_v2_x0_5")
    assert spec.resolve_knobs({"scale": "0.5"})["scale"] == 0.5
    with pytest.raises(UsageError, match=r"shufflenet_v2_x0_5 is shufflenet_v2 with "
                                         r"scale=0.5; for scale=1.5 ask for shufflenet_v2"):
        spec.resolve_knobs({"scale": 1.5})


def test_every_alias_names_a_zoo_model_and_valid_knobs():
    from costlab.models.registry import TORCHVISION_ALIASES

    reg = registry()
    for alias in TORCHVISION_ALIASES:
        assert alias.name not in reg.specs and alias.model in reg.specs
        spec = reg.specs[alias.model]
        for knob, value in alias.knobs:
            assert spec.knob(knob).parse(value) == value


def test_unknown_names_get_suggestions_among_aliases_too():
    with pytest.raises(UnknownModelError) as info:
        get_model_spec(" ViT_B_17 ")
    assert info.value.suggestions[:2] == ["vit_b_16", "vit_b16"]
    assert str(info.value).startswith("unknown model 'ViT_B_17'")
