"""Benchmarks on a fleet of boards: one request timed on several ``ssh://`` boards at once.

Each board is one task of a :class:`~costlab.workflows.executors.ProcessPool` with one
worker process per board, so the boards are timed concurrently (each board times on its own
CPU; the ssh clients here only wait). Every report is tagged with its board's address
(``BenchReport.host``) and the reports come back in the order the boards were given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from costlab.core.errors import CostlabError, UsageError
from costlab.workflows.executors import ProcessPool


@dataclass(frozen=True, kw_only=True)
class BoardBench:
    """The job of one board's worker: the request, run on the board it is given."""

    request: Any  # a bench.protocol.BenchRequest
    rounds: int = 1
    remote_command: str | None = None

    def start(self) -> Callable[[str], Any]:
        from costlab.bench.remote import bench_over_ssh

        def run(device: str) -> Any:
            try:
                return bench_over_ssh(device, self.request, remote_command=self.remote_command,
                                      rounds=self.rounds)
            except CostlabError as exc:  # which board, when several are timed
                raise type(exc)(f"{device}: {exc}") from None

        return run


def check_boards(devices: Sequence[str]) -> list[str]:
    """Several ``--device``: every one a board over ssh, none twice."""
    from costlab.bench.remote import is_ssh_device, parse_ssh_url

    devices = list(devices)
    if len(devices) > 1:
        local = [d for d in devices if not is_ssh_device(d)]
        if local:
            raise UsageError(f"several --device time boards over ssh at once; {local[0]} is "
                             "not one (time this machine in a run of its own)")
        for device in devices:
            parse_ssh_url(device)
        if len(set(devices)) != len(devices):
            raise UsageError("a board is given twice in --device")
    return devices


def bench_boards(devices: Sequence[str], request: Any, *, rounds: int = 1,
                 remote_command: str | None = None) -> list[Any]:
    """``request`` timed on every board at once: their reports, in the order given."""
    devices = check_boards(devices)
    job = BoardBench(request=request, rounds=rounds, remote_command=remote_command)
    done = dict(ProcessPool(jobs=len(devices)).run(job, devices))
    return [done[d] for d in devices]


@dataclass(frozen=True, kw_only=True)
class BoardLatency:
    """The job of one board's worker in ``compare --latency``: the models timed there in
    rounds, interleaved, as they are on this machine."""

    models: list[str]
    options: dict
    timing: dict

    def start(self) -> Callable[[str], Any]:
        from functools import partial

        from costlab.bench.remote import run_remote_round
        from costlab.bench.runner import bench_models

        def run(device: str) -> Any:
            try:
                return bench_models(self.models, self.options, board=device,
                                    round_runner=partial(run_remote_round, device),
                                    **self.timing)
            except CostlabError as exc:  # which board, when several are timed
                raise type(exc)(f"{device}: {exc}") from None

        return run


def time_on_boards(models: Sequence[str], options: dict, devices: Sequence[str],
                   **timing: Any) -> list[Any]:
    """``models`` timed interleaved on every board at once (one worker process each): one
    ``LatencyComparison`` per board, in the order given. Progress bars stay here."""
    from costlab.bench.remote import is_ssh_device

    devices = check_boards(devices)
    if not all(is_ssh_device(d) for d in devices):
        raise UsageError("--latency-device several times names boards: ssh://user@host each")
    if not all(isinstance(m, str) for m in models):
        raise UsageError("a board times models given by name or specifier")
    timing = {k: v for k, v in timing.items() if k != "progress"}
    job = BoardLatency(models=list(models), options=dict(options), timing=timing)
    done = dict(ProcessPool(jobs=len(devices)).run(job, devices))
    return [done[d] for d in devices]
