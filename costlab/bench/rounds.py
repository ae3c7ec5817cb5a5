"""Rounds of a measurement: which model leads each round, and a round in a worker process.

A run measured once covers the noise within that run, not what changes between runs (the
allocator's layout, the clock, thread placement, the neighbours' load), so ``bench_models``
measures in rounds, as pyperf does: each round is a fresh worker process
(``costlab serve-bench`` on this machine, fed a ``protocol.RoundRequest``) that builds the
models and times them interleaved; the model order rotates from round to round so each
model leads as often as the others.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from costlab.bench.protocol import RoundRequest, read_round_envelope
from costlab.core.errors import CostlabError, UsageError

# rounds of `compare --latency` and `bench` unless --rounds says otherwise (--quick: one)
DEFAULT_ROUNDS = 5
# a worker that has not answered by then is stuck (building and timing are bounded by the
# policy's max_s, model building by this)
WORKER_TIMEOUT_S = 600.0


def rotation(models: int, round_index: int) -> list[int]:
    """The order of the models (indices) in round ``round_index``: shifted by one a round."""
    if models < 1 or round_index < 0:
        raise ValueError("need at least one model and a round index >= 0")
    shift = round_index % models
    return [(shift + i) % models for i in range(models)]


def schedule(models: int, rounds: int) -> list[list[int]]:
    """Every round's model order."""
    return [rotation(models, r) for r in range(rounds)]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "costlab", "serve-bench"]


def worker_environment() -> dict[str, str]:
    """This environment, with the directory of the costlab that is running first on the
    worker's PYTHONPATH, so the worker runs this same code (a checkout, not an install)."""
    root = str(Path(__file__).resolve().parents[2])  # costlab/bench/rounds.py -> the root
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_round(request: RoundRequest, timeout_s: float = WORKER_TIMEOUT_S) -> list[dict]:
    """One round in a fresh worker: each model's report (a ``BenchReport`` dict), in the
    request's order. A worker's own one-line error comes back as the same error."""
    try:
        done = subprocess.run(worker_command(), input=request.to_json(), capture_output=True,
                              text=True, errors="replace", env=worker_environment(),
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise CostlabError(f"a bench worker did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        if errors:
            error = UsageError if done.returncode == UsageError.exit_code else CostlabError
            raise error(errors[-1][len("error:"):].strip())
        raise CostlabError(f"a bench worker failed (exit status {done.returncode}): "
                           f"{lines[-1] if lines else 'no message'}")
    reports = read_round_envelope(done.stdout)
    if len(reports) != len(request.models):
        raise CostlabError(f"a bench worker sent {len(reports)} reports for "
                           f"{len(request.models)} models")
    return reports
