"""Running the CLI in tests: success with its output, or a one-line error and its exit code."""

from __future__ import annotations

from typer.testing import CliRunner

from costlab.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def ok(*args) -> str:
    """Run a command that must succeed; its stdout."""
    result = invoke(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def fails(*args, code: int | None = None) -> str:
    """Run a command that must fail with one ``error:`` line and no traceback; that line."""
    result = invoke(*args)
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]
