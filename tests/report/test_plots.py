"""Figures: the data behind each plot, and a written file that is an image, not blank."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import costlab  # noqa: E402
from costlab.analysis.roofline import estimate  # noqa: E402
from costlab.api import compare, sweep  # noqa: E402
from costlab.core.errors import CostlabError, UsageError  # noqa: E402
from costlab.hardware import load_profile  # noqa: E402
from costlab.report import figures, plots  # noqa: E402


def assert_image(path, min_width=400, min_height=300):
    from matplotlib.image import imread

    pixels = imread(str(path))
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height
    assert pixels[..., :3].var() > 0  # not one flat colour
    assert not list(path.parent.glob(f".{path.name}.*"))  # no temporary file left behind


def test_pareto_front_by_hand():
    frame = pd.DataFrame({"label": list("abcde"), "macs_m": [10, 20, 20, 30, 5],
                          "top1": [60, 70, 65, 69, 50]})
    # c is beaten by b (same MACs, higher top-1), d by b (fewer MACs, higher top-1)
    assert list(plots.pareto_front(frame)) == [True, True, False, False, True]


def test_zoo_front_members():
    zoo = plots.zoo_accuracy_frame()
    front = set(zoo[plots.pareto_front(zoo)]["label"])
    assert {"efficientnet_b0", "efficientnet_b7", "mobilenet_v3_large (width=1.0)"} <= front
    # dominated: ResNet-50 (3.8G, 76.0) by EfficientNet-B0 (390M, 77.1)
    assert not {"resnet50", "vgg16", "mobilenet_v1 (width=1.0)", "alexnet"} & front
    assert len(zoo) == 37 and zoo["top1"].notna().all()


def test_accuracy_vs_macs_png(tmp_path):
    path = tmp_path / "zoo.png"
    data = plots.plot_accuracy_vs_macs(plots.zoo_accuracy_frame(), str(path),
                                       highlight=["resnet50"])
    assert_image(path)
    assert data.loc[data["label"] == "resnet50", "highlight"].tolist() == [True]
    assert data["highlight"].sum() == 1


def test_comparison_puts_computed_macs_among_the_zoo(tmp_path):
    comparison = compare(["mobilenet_v1", "mobilenet_v2"])
    frame = figures.comparison_frame(comparison)
    v2 = frame[frame["label"] == "mobilenet_v2"]
    assert v2["macs_m"].tolist() == [300.774272] and v2["top1"].tolist() == [72.0]
    # the zoo's own mobilenet_v2 width=1.0 row gave way to the computed one
    assert (frame["model"] == "mobilenet_v2").sum() == 2  # the computed one and width=1.4
    path = tmp_path / "compare.svg"
    data = figures.comparison_figure(comparison, str(path))
    assert path.read_text().lstrip().startswith("<?xml") and "<svg" in path.read_text()
    assert set(data[data["highlight"]]["label"]) == {"mobilenet_v1", "mobilenet_v2"}


def test_layer_bars(tmp_path):
    cost = costlab.analyze("mobilenet_v2")
    path = tmp_path / "layers.png"
    data = figures.analysis_figure(cost, str(path))
    assert_image(path)
    assert len(data) == len(cost.layers) == 151
    assert data["macs"].sum() == cost.total.macs
    assert data["memory_access_bytes"].sum() == cost.total.memory_access_bytes


def test_roofline_points(tmp_path):
    cost = costlab.analyze("mobilenet_v1", dtype="float32")
    est = estimate(cost, load_profile("raspberry_pi_4"))
    path = tmp_path / "roof.png"
    data = figures.estimate_figure(est, str(path))
    assert_image(path)
    assert len(data) == len(est.layers)  # every op of MobileNet V1 has FLOPs and bytes
    # no point above the roof: rate <= min(peak, bandwidth x intensity)
    roof = (data["intensity"] * 12.8).clip(upper=48.0)
    assert (data["gflops"] <= roof * (1 + 1e-9)).all()
    assert set(data["bound"]) == {"compute", "memory", "overhead"}


def test_latency_vs_macs(tmp_path):
    frame = pd.DataFrame({"model": ["a", "b", "c"], "macs_m": [100.0, 300.0, 600.0],
                          "latency_ms": [5.0, 4.0, 9.0], "latency_low_ms": [4.5, 3.9, 8.0],
                          "latency_high_ms": [5.5, 4.2, 9.5]})
    path = tmp_path / "latency.png"
    data = plots.plot_latency_vs_macs(frame, str(path))
    assert_image(path)
    assert list(data["model"]) == ["a", "b", "c"]


def test_sweep_lines(tmp_path):
    result = sweep("mobilenet_v1", {"width": "1,0.5"}, "224,160")
    path = tmp_path / "sweep.png"
    data = figures.sweep_figure(result, str(path))
    assert_image(path)
    assert list(data.columns) == ["width", "resolution", "macs_m"]
    assert data["macs_m"].round(3).tolist() == [568.74, 290.675, 149.497, 76.525]


def test_bad_paths_fail_before_drawing(tmp_path):
    with pytest.raises(UsageError, match=r"must end in \.png, \.svg, \.pdf"):
        plots.check_plot_path(str(tmp_path / "figure.jpg"))
    with pytest.raises(UsageError, match="does not exist"):
        plots.check_plot_path(str(tmp_path / "absent" / "figure.png"))


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    plt = plots._pyplot()
    figure = plt.figure()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figure, "savefig", broken)
    path = tmp_path / "full.png"
    with pytest.raises(UsageError, match="cannot write .*No space left on device"):
        plots.save_figure(figure, str(path))
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(CostlabError, match=r"plotting needs matplotlib: pip install matplotlib$"):
        plots.check_plot_path("figure.png")


def test_bench_and_compare_latency_plots(tmp_path):
    from typer.testing import CliRunner

    from costlab.cli import app

    tiny = ["--min-time", "0", "--quick", "-i", "1,8,12,12"]
    path = tmp_path / "samples.png"
    result = CliRunner().invoke(app, ["bench", "block:conv3x3", *tiny, "--no-memory",
                                      "--plot", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert_image(path)
    path = tmp_path / "latency.svg"
    result = CliRunner().invoke(app, ["compare", "block:conv3x3", "block:conv5x5", "--latency",
                                      *tiny, "--plot", str(path), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert path.read_text().startswith("<?xml") and "block:conv5x5" in path.read_text()


def test_latency_frame_pairs_macs_with_measured_medians():
    from costlab.bench.runner import bench_models
    from costlab.bench.timing import TimingPolicy

    comparison = compare(["block:conv3x3", "block:conv5x5"], input_shape="1,8,12,12")
    comparison.latency = bench_models(["block:conv3x3", "block:conv5x5"],
                                      {"input_shape": "1,8,12,12"}, memory=False,
                                      policy=TimingPolicy(0, 0, 5, 0, 30))
    frame = figures.latency_frame(comparison)
    assert list(frame["macs_m"]) == [c.total.macs / 1e6 for c in comparison.costs]
    assert list(frame["latency_ms"]) == [r.stats.median_ms for r in comparison.latency.reports]
    samples = figures.samples_frame(comparison.latency.reports)
    assert len(samples) == 10 and list(samples["call"][:5]) == [0, 1, 2, 3, 4]
