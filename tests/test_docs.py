"""The README's quick start and the checked-in reports stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.cli import app

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    install_and_compare, install_and_test = quick_start_commands()
    assert install_and_compare.endswith("costlab compare mobilenet_v1 mobilenet_v2")
    assert "pip install torch==2.13.0" in install_and_compare
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


def test_readme_example_numbers_are_current():
    from costlab import compare

    readme = (ROOT / "README.md").read_text()
    c = compare(["mobilenet_v1", "mobilenet_v2"])
    v1, v2 = c.costs
    for cost in (v1, v2):
        assert f"| {cost.name} | {cost.total.macs / 1e6:,.2f} | {cost.total.flops / 1e6:,.2f} |" \
            in readme
    assert c.summary_lines()[0].split(" (vs")[0] in readme


@pytest.mark.parametrize("name,args", [
    ("mobilenet_v2_modules.md", ["analyze", "mobilenet_v2", "--depth", "2", "--no-layers"]),
    ("formulas.md", ["formulas"]),
    *[(f"guidelines_{m}.md", ["guidelines", m, "--top", "5"])
      for m in ("shufflenet_v1", "shufflenet_v2", "mobilenet_v2", "nasnet_a_mobile")],
])
def test_checked_in_reports_are_not_stale(name, args, tmp_path):
    # the paper reports (costlab report --all) are checked in tests/report/test_papers.py
    fresh = tmp_path / name
    result = CliRunner().invoke(app, [*args, "-o", str(fresh)])
    assert result.exit_code == 0, result.stderr
    assert (ROOT / "reports" / name).read_text() == fresh.read_text(), \
        f"reports/{name} is stale: run bash reports/regenerate.sh"
    script = (ROOT / "reports" / "regenerate.sh").read_text()
    assert name.split(".")[0] in script or args[1] in script


def test_readme_formulas_example_runs_and_counts_the_custom_op():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Counting your own ops", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.+?)\n```", section, flags=re.S)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # its own assert checks the count
    cost = namespace["cost"]
    assert cost.total.macs == 16_384 and cost.total.flops == 2 * 16_384 + 8 * 32
    # the override was for that analysis only
    again = namespace["costlab"].analyze(namespace["Net"](), input_shape=(8, 64))
    assert again.total.partial and [u.op for u in again.uncounted] == ["scaled_mm"]


def test_plots_work_after_the_quick_start_install():
    # the quick start installs `-e .` with no extra, so what --plot needs is a core dependency
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("matplotlib") for d in project["dependencies"])
    assert "pip install 'costlab[plot]'" not in (ROOT / "README.md").read_text()


def test_python_dash_m_costlab_runs_the_cli():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "costlab", "--help"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0 and "compare" in done.stdout
