"""Where many independent tasks run: here, on a local pool of processes, or on Ray.

A *job* is a picklable object whose ``start()`` is called once per worker and returns the
function that does one task there: the model code is imported, the registry filled, torch's
threads set, once per worker and not per task. ``run(job, tasks)`` yields ``(task, result)``
pairs as tasks finish (not in order: callers that need order sort by the task). Every
executor gives the same results; only the wall time differs.

- :class:`InProcess` runs the tasks one after another in this process (no start-up cost).
- :class:`ProcessPool` starts ``jobs`` fresh (spawned) worker processes; each keeps two
  tasks queued so it never waits for the next.
- :class:`RayCluster` starts one actor per CPU of a Ray cluster (``address``: ``auto``, a
  cluster's address, or none for a local instance of ``num_cpus``), two tasks in flight
  each. Ray is the optional extra ``costlab[ray]``.

A task that raises in a worker stops the run with that error in one line: jobs that must
go on past a failing item (a sweep's point that cannot be built) catch it themselves.
"""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol

from costlab.core.errors import CostlabError, UsageError

RAY_HINT = "Ray is not installed: pip install 'costlab[ray]' (it brings ray and pyarrow)"
# tasks queued per worker: one running, one waiting, so a worker never idles between tasks
IN_FLIGHT_PER_WORKER = 2
# how often the pool looks for a worker that died while waiting for results
POLL_S = 0.5


class Job(Protocol):
    def start(self) -> Callable[[Any], Any]:
        """Called once in each worker: the function that does one task there."""


def cores_available() -> int:
    """The cores this process may run on (its affinity mask), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity masks
        return max(1, os.cpu_count() or 1)


def one_line(exc: BaseException) -> str:
    """An exception as the one line a result row or an error message carries."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return first if isinstance(exc, CostlabError) else f"{type(exc).__name__}: {first}"


@dataclass(frozen=True, kw_only=True)
class InProcess:
    """Every task here, in order."""

    @property
    def workers(self) -> int:
        return 1

    def describe(self) -> str:
        return "in this process"

    def run(self, job: Job, tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        work = job.start()
        for task in tasks:
            yield task, work(task)


def _serve(job: Job, inbox: Any, outbox: Any) -> None:
    """A pool worker: start the job once, then do tasks until the ``None`` that ends it."""
    try:
        work = job.start()
    except BaseException as exc:  # the parent reports it; a traceback here says nothing more
        outbox.put(("failed", None, one_line(exc)))
        return
    import multiprocessing

    parent = multiprocessing.parent_process()
    while True:
        try:
            item = inbox.get(timeout=POLL_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the sweep was killed (kill -9): no one is waiting for results
            continue
        if item is None:
            return
        number, task = item
        try:
            outbox.put(("done", number, work(task)))
        except BaseException as exc:
            outbox.put(("failed", number, one_line(exc)))
            return


@dataclass(frozen=True, kw_only=True)
class ProcessPool:
    """``jobs`` worker processes on this machine."""

    jobs: int

    def __post_init__(self) -> None:
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"--jobs must be >= 1, got {self.jobs!r}")

    @property
    def workers(self) -> int:
        return self.jobs

    def describe(self) -> str:
        return f"{self.jobs} local worker process{'es' if self.jobs != 1 else ''}"

    def run(self, job: Job, tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        import multiprocessing

        # spawn, not fork: a forked child of a process that has run torch can hang on
        # the locks its threads held; a spawned one starts clean
        context = multiprocessing.get_context("spawn")
        inbox, outbox = context.Queue(), context.Queue()
        workers = [context.Process(target=_serve, args=(job, inbox, outbox), daemon=True)
                   for _ in range(self.jobs)]
        for worker in workers:
            worker.start()
        pending: dict[int, Any] = {}
        source = iter(tasks)
        numbers = iter(range(1 << 62))
        try:
            self._feed(source, numbers, pending, inbox)
            while pending:
                try:
                    kind, number, payload = outbox.get(timeout=POLL_S)
                except queue.Empty:
                    self._check_alive(workers)
                    continue
                if kind == "failed":
                    raise CostlabError(f"a worker failed: {payload}")
                yield pending.pop(number), payload
                self._feed(source, numbers, pending, inbox)
        finally:
            for _ in workers:
                inbox.put(None)
            for worker in workers:
                worker.join(timeout=2)
                if worker.is_alive():  # stopped early (an error, Ctrl-C): do not wait
                    worker.terminate()
                    worker.join()
            inbox.close()
            outbox.close()

    def _feed(self, source: Iterator[Any], numbers: Iterator[int], pending: dict[int, Any],
              inbox: Any) -> None:
        while len(pending) < IN_FLIGHT_PER_WORKER * self.jobs:
            task = next(source, _END)
            if task is _END:
                return
            number = next(numbers)
            pending[number] = task
            inbox.put((number, task))

    @staticmethod
    def _check_alive(workers: list[Any]) -> None:
        for worker in workers:
            if not worker.is_alive() and worker.exitcode not in (0, None):
                raise CostlabError(f"a worker process died (exit code {worker.exitcode}) "
                                   "with tasks unfinished: out of memory?")


_END = object()


class RayWorker:
    """One Ray actor: the job started once, then a task per call."""

    def __init__(self, job: Job) -> None:
        self._work = job.start()

    def run(self, task: Any) -> Any:
        return self._work(task)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_HINT) from None
    return ray


@dataclass(frozen=True, kw_only=True)
class RayCluster:
    """Actors on a Ray cluster: ``address`` ``auto``, ``ray://host:10001``, ``host:6379``,
    or None to start a local instance with ``num_cpus`` CPUs (default: all here)."""

    address: str | None = None
    num_cpus: int | None = None
    actors: int | None = None  # default: one per CPU of the cluster

    def describe(self) -> str:
        return f"Ray ({self.address or 'a local instance'})"

    @property
    def workers(self) -> int:
        return self.actors or self.num_cpus or cores_available()

    def run(self, job: Job, tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            self._init(ray)
        actors = []
        try:
            count = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
            actor_class = ray.remote(num_cpus=1)(RayWorker)
            actors = [actor_class.remote(job) for _ in range(count)]
            yield from self._dispatch(ray, actors, iter(tasks))
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise CostlabError(f"a Ray worker failed: {one_line(cause)}") from None
        finally:
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()

    def _init(self, ray: Any) -> None:
        import logging

        settings: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.ERROR,
                                        log_to_driver=False, configure_logging=True)
        if self.address is None:
            settings["num_cpus"] = self.num_cpus or cores_available()
        try:
            ray.init(address=self.address, **settings)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise CostlabError(f"cannot start or reach Ray at {where}: {one_line(exc)}") \
                from None

    @staticmethod
    def _dispatch(ray: Any, actors: list[Any], source: Iterator[Any]
                  ) -> Iterator[tuple[Any, Any]]:
        in_flight: dict[Any, tuple[Any, Any]] = {}  # ref -> (actor, task)

        def submit(actor: Any) -> None:
            task = next(source, _END)
            if task is not _END:
                in_flight[actor.run.remote(task)] = (actor, task)

        for actor in actors:
            for _ in range(IN_FLIGHT_PER_WORKER):
                submit(actor)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            actor, task = in_flight.pop(ready[0])
            result = ray.get(ready[0])
            submit(actor)
            yield task, result


Executor = InProcess | ProcessPool | RayCluster


def choose_executor(*, jobs: int | None, ray: str | None, points: int,
                    small: int = 48) -> Executor:
    """``--jobs`` and ``--ray`` as an executor: Ray when asked; ``--jobs 0`` or a sweep of
    at most ``small`` points in this process (a worker's start-up costs more than it saves);
    otherwise ``jobs`` processes, by default one per core this process may use."""
    if ray is not None:
        local = ray == "local"
        workers = jobs or None
        return RayCluster(address=None if local else ray, actors=workers,
                          num_cpus=workers if local else None)
    if jobs is None:
        return InProcess() if points <= small else ProcessPool(jobs=cores_available())
    if jobs < 0:
        raise UsageError(f"--jobs must be >= 0, got {jobs}")
    return InProcess() if jobs == 0 else ProcessPool(jobs=jobs)
