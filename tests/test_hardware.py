"""Packaged hardware profiles: every one loads, its numbers follow from its derivation."""

from __future__ import annotations

import json

import pytest

from costlab.core.errors import UsageError
from costlab.hardware import STORAGE_DTYPE, load_all, load_profile, packaged_names

EXPECTED = ["apple_m1_pcore", "cortex_a76_phone", "desktop_zen4_core", "nvidia_a100",
            "nvidia_h100", "raspberry_pi_4", "raspberry_pi_5"]


def test_packaged_set():
    assert packaged_names() == EXPECTED
    for profile in load_all():
        assert profile.source and profile.description and profile.kind in ("cpu", "gpu")
        assert "float32" in profile.peak_gflops
        assert set(profile.peak_gflops) <= set(STORAGE_DTYPE)
        assert profile.bandwidth_gbs > 0 and profile.overhead_s > 0


@pytest.mark.parametrize("name, fp32, cores_ghz_flops", [
    ("raspberry_pi_4", 48.0, (4, 1.5, 8)),
    ("raspberry_pi_5", 153.6, (4, 2.4, 16)),
    ("cortex_a76_phone", 45.44, (1, 2.84, 16)),
    ("apple_m1_pcore", 102.4, (1, 3.2, 32)),
    ("desktop_zen4_core", 182.4, (1, 5.7, 32)),
])
def test_cpu_peaks_are_cores_times_clock_times_flops_per_cycle(name, fp32, cores_ghz_flops):
    cores, ghz, per_cycle = cores_ghz_flops
    profile = load_profile(name)
    assert profile.peak_gflops["float32"] == pytest.approx(cores * ghz * per_cycle)
    assert profile.peak_gflops["float32"] == fp32
    assert f"{cores} core" in profile.source and f"{per_cycle} fp32 FLOP/cycle" in profile.source


def test_gpu_datasheet_numbers():
    a100, h100 = load_profile("nvidia_a100"), load_profile("nvidia_h100")
    assert a100.peak_gflops == {"float32": 19_500.0, "tf32": 156_000.0, "float16": 312_000.0,
                                "bfloat16": 312_000.0, "int8": 624_000.0}
    assert a100.bandwidth_gbs == 2039.0
    assert h100.peak_gflops["tf32"] == 494_700.0 and h100.peak_gflops["float16"] == 989_400.0
    assert h100.bandwidth_gbs == 3350.0
    assert a100.ridge_point("float32") == pytest.approx(19_500 / 2039)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        load_profile("raspberry_pi_9")
    message = str(info.value)
    assert "unknown hardware profile 'raspberry_pi_9'" in message
    assert "nvidia_h100" in message and "\n" not in message


def test_user_file_round_trips(tmp_path):
    original = load_profile("raspberry_pi_5")
    path = tmp_path / "mine.json"
    path.write_text(original.to_json())
    assert load_profile(str(path)) == original


@pytest.mark.parametrize("data, message", [
    ({"name": "x", "peak_gflops": {"float32": 1}, "bandwidth_gbs": 1}, "missing overhead_s"),
    ({"name": "x", "peak_gflops": {}, "bandwidth_gbs": 1, "overhead_s": 0}, "peak_gflops must"),
    ({"name": "x", "peak_gflops": {"fp64": 1}, "bandwidth_gbs": 1, "overhead_s": 0},
     "unknown dtype 'fp64'"),
    ({"name": "x", "peak_gflops": {"float32": 1}, "bandwidth_gbs": 0, "overhead_s": 0},
     "bandwidth_gbs must be > 0"),
    ({"name": "x", "peak_gflops": {"float32": 1}, "bandwidth_gbs": 1, "overhead_s": -1},
     "overhead_s must be >= 0"),
    ({"name": "x", "peak_gflops": {"float32": 1}, "bandwidth_gbs": 1, "overhead_s": 0,
      "measured": 5}, "measured must be an object"),
    ([1, 2], "is a JSON object"),
])
def test_bad_user_files(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match=message):
        load_profile(str(path))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_profile(str(tmp_path / "absent.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match="is not valid JSON"):
        load_profile(str(broken))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(UsageError, match="not a text"):
        load_profile(str(binary))


def test_misspelt_name_gets_suggestions():
    with pytest.raises(UsageError) as info:
        load_profile("nvidia_a10")
    message = str(info.value)
    assert message.startswith("unknown hardware profile 'nvidia_a10' (did you mean "
                              "nvidia_a100, nvidia_h100?); known: ")
    assert "\n" not in message
    with pytest.raises(UsageError, match=r"'zzz'; known: apple_m1_pcore"):
        load_profile("zzz")


def test_names_match_in_any_case_and_with_spaces():
    assert load_profile(" NVIDIA_A100 ") == load_profile("nvidia_a100")
