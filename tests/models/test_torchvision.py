"""costlab reproduces torchvision's published GFLOPS (MACs) and params, when torchvision is
installed (it is optional: a multi-GB install here). The full list is checked by
benchmarks/torchvision_check.py."""

from __future__ import annotations

import pytest

import costlab

torchvision = pytest.importorskip("torchvision")


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "vit_b_16", "swin_t",
                                  "efficientnet_b0"])
def test_matches_torchvision_metadata(name):
    from torchvision.models import get_model_weights

    weights = list(get_model_weights(name))[0]
    crop = weights.transforms().crop_size[0]
    cost = costlab.analyze(f"torchvision:{name}", (1, 3, crop, crop))
    assert round(cost.total.macs / 1e9, 3) == round(weights.meta["_ops"], 3)
    assert cost.total.params == weights.meta["num_params"]
    assert cost.total.partial is False
