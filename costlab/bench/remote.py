"""Benchmarks on a board reached over the network.

``--device ssh://user@host[:port]`` runs ``costlab serve-bench`` on the board through the
system ``ssh`` client, writes a versioned :class:`~costlab.bench.protocol.BenchRequest`
(JSON) to its stdin and reads the versioned report back from its stdout; both ends must
speak the same schema (``bench.protocol``). The board needs costlab installed; a user model
file (``file.py:Class`` or ``model.pt2``) is copied over with ``scp`` into a fresh
temporary directory first and removed afterwards.

Safety: the model and its options travel as JSON on stdin, never on the command line. ssh
joins the words of a remote command (the costlab command, ``mktemp``, ``rm``) into one line
that the remote shell parses, so every word is quoted with ``shlex.quote`` (and words with
control characters, which no quoting survives in every shell, are refused). Host keys are checked
(``StrictHostKeyChecking=yes``) and nothing prompts (``BatchMode=yes``): an unknown host,
a refused key or a missing remote costlab is a one-line error.

Configuration, each also a parameter of :class:`SshClient`:

- ``COSTLAB_SSH`` / ``COSTLAB_SCP``: the ssh and scp programs (default ``ssh``, ``scp``);
- ``COSTLAB_SSH_OPTIONS``: extra options for both, e.g. ``-i ~/.ssh/board -o
  UserKnownHostsFile=~/boards_known_hosts`` (options both ssh and scp accept: ``-i``,
  ``-o``, ``-F``, ``-J``, ``-4``, ``-6``);
- ``COSTLAB_REMOTE_COMMAND``: how to start costlab on the board, e.g.
  ``/home/pi/venv/bin/costlab`` when a non-interactive ssh shell's PATH does not reach it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from costlab.bench.protocol import BenchRequest, read_report_envelope
from costlab.core.errors import CostlabError, UsageError

SSH_SCHEME = "ssh://"

# ssh exits 255 for its own failures; anything else is the remote command's exit status
SSH_FAILED = 255
COMMAND_NOT_FOUND = 127
# the board's hidden command that reads one request on stdin and writes one report
SERVE_COMMAND = "serve-bench"

_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_ssh_device(device: str | None) -> bool:
    """Whether ``--device`` names a board over ssh rather than a local device."""
    return bool(device) and device.startswith(SSH_SCHEME)


@dataclass(frozen=True)
class SshTarget:
    """A board: ``ssh://user@host:port``; user and port fall back to ssh's own defaults."""

    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{SSH_SCHEME}{user}{host}{port}"

    def options(self) -> list[str]:
        """Port and user as ``-o`` options, which ssh and scp both accept."""
        options = []
        if self.port is not None:
            options += ["-o", f"Port={self.port}"]
        if self.user:
            options += ["-o", f"User={self.user}"]
        return options

    def scp_path(self, remote_path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{remote_path}"


def parse_ssh_url(url: str) -> SshTarget:
    """``ssh://[user@]host[:port]`` (an IPv6 host in brackets) as an :class:`SshTarget`."""
    usage = "expected ssh://user@host or ssh://user@host:port"
    if not url.startswith(SSH_SCHEME):
        raise UsageError(f"malformed ssh device {url!r}: {usage}")
    rest = url[len(SSH_SCHEME):].rstrip("/")
    user = None
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        if not _USER.fullmatch(user):
            raise UsageError(f"malformed user name in {url!r}: {usage}")
    port_text = None
    if rest.startswith("["):  # [::1]:2222
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or not _IPV6.fullmatch(host) or (tail and not tail.startswith(":")):
            raise UsageError(f"malformed IPv6 host in {url!r}: {usage}")
        port_text = tail[1:] if tail else None
    else:
        host, colon, port_text = rest.partition(":")
        port_text = port_text if colon else None
        # a host never starts with '-', so it cannot be taken for an ssh option
        if not _HOST.fullmatch(host):
            raise UsageError(f"malformed host in {url!r}: {usage}")
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UsageError(f"malformed port in {url!r}: a number from 1 to 65535")
        port = int(port_text)
    return SshTarget(host=host, user=user, port=port)


@dataclass(frozen=True)
class SshClient:
    """How to reach boards: the programs, their extra options and the remote costlab."""

    ssh: str = "ssh"
    scp: str = "scp"
    options: tuple[str, ...] = ()
    remote_command: tuple[str, ...] = ("costlab",)
    connect_timeout_s: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 remote_command: str | None = None) -> "SshClient":
        """The client the COSTLAB_SSH* variables describe; ``remote_command`` overrides
        COSTLAB_REMOTE_COMMAND (it is the CLI's ``--remote-costlab``)."""
        env = os.environ if environ is None else environ
        command = remote_command or env.get("COSTLAB_REMOTE_COMMAND") or "costlab"
        try:
            options = tuple(shlex.split(env.get("COSTLAB_SSH_OPTIONS", "")))
            words = tuple(shlex.split(command))
        except ValueError as exc:
            raise UsageError(f"cannot parse the ssh settings: {exc}") from None
        if not words:
            raise UsageError("the remote costlab command is empty")
        return cls(ssh=env.get("COSTLAB_SSH") or "ssh", scp=env.get("COSTLAB_SCP") or "scp",
                   options=options, remote_command=words)

    def base_options(self, target: SshTarget) -> list[str]:
        # ssh keeps the first value it sees for an option, so ours come before the user's:
        # no extra option can switch host-key checking off or bring back a password prompt
        return ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"ConnectTimeout={self.connect_timeout_s}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
                *target.options(), *self.options]


@dataclass
class _Completed:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class RemoteSession:
    """Runs commands on one board; each is a list of words, quoted here, one by one."""

    target: SshTarget
    client: SshClient = field(default_factory=SshClient)

    def _run(self, argv: list[str], what: str, stdin_text: str | None = None) -> _Completed:
        # no input: stdin is /dev/null, so nothing on the board can wait for a terminal
        stdin = subprocess.DEVNULL if stdin_text is None else None
        try:
            done = subprocess.run(argv, stdin=stdin, input=stdin_text, capture_output=True,
                                  text=True, errors="replace")
        except FileNotFoundError:
            raise CostlabError(f"{argv[0]} not found: install the OpenSSH client "
                               f"(needed to {what})") from None
        return _Completed(done.returncode, done.stdout, done.stderr)

    def run(self, words: Sequence[str], what: str, stdin_text: str | None = None) -> _Completed:
        """``words`` run on the board; ``stdin_text`` is written to the command's stdin."""
        remote = [quote_remote_word(w) for w in words]
        argv = [self.client.ssh, *self.client.base_options(self.target), "-T", "--",
                self.target.host, *remote]
        done = self._run(argv, what, stdin_text)
        if done.returncode == SSH_FAILED:
            raise CostlabError(ssh_failure(self.target, done.stderr, what))
        return done

    def copy_to(self, local: Path, remote_path: str) -> None:
        argv = [self.client.scp, "-q", *self.client.base_options(self.target), "--",
                str(local), self.target.scp_path(remote_path)]
        done = self._run(argv, f"copy {local.name}")
        if done.returncode != 0:
            raise CostlabError(ssh_failure(self.target, done.stderr, f"copy {local.name}"))

    def make_temp_dir(self) -> str:
        done = self.run(["mktemp", "-d"], "make a temporary directory")
        path = done.stdout.strip()
        if done.returncode != 0 or not _SAFE_PATH.fullmatch(path) or path.count("/") < 2:
            raise CostlabError(f"cannot make a temporary directory on {self.target}: "
                               f"{_last_line(done.stderr) or path or 'mktemp printed nothing'}")
        return path

    def remove_dir(self, path: str) -> None:
        try:
            self.run(["rm", "-rf", "--", path], "clean up")
        except CostlabError:
            pass  # the report is what matters; the board's /tmp is cleared on reboot


def quote_remote_word(word: str) -> str:
    """One word of a remote command line, quoted for the remote POSIX shell.

    A leading ``~/`` stays unquoted so that the remote shell expands it to the home
    directory (``~/venv/bin/costlab``); the rest of the word is quoted as usual.
    """
    if _CONTROL.search(word):
        raise UsageError(f"cannot pass {word!r} to a remote board: it has a control "
                         "character (a newline, a tab)")
    if word.startswith("~/") and len(word) > 2:
        return "~/" + shlex.quote(word[2:])
    return shlex.quote(word)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def ssh_failure(target: SshTarget, stderr: str, what: str) -> str:
    """ssh's own failure (exit 255) as one line that says what to do."""
    where = f"{target.host}:{target.port or 22}"
    text = stderr.lower()
    if "remote host identification has changed" in text:
        return (f"the host key of {where} has CHANGED since it was added to known_hosts; "
                "if the board was reinstalled, remove the old key (ssh-keygen -R) and add "
                "the new one after checking it")
    if "host key verification failed" in text or "host key is known for" in text:
        return (f"the host key of {where} is not in known_hosts: connect once with ssh "
                "and check and accept its fingerprint (or add it to the known_hosts file "
                "that COSTLAB_SSH_OPTIONS names), then retry")
    if "permission denied" in text:
        user = target.user or "your user"
        return (f"{where} refused the login as {user} (Permission denied): costlab "
                "connects without a password prompt, so install a key on the board "
                "(ssh-copy-id) or name one with COSTLAB_SSH_OPTIONS='-i KEY'")
    if "connection refused" in text:
        return f"cannot connect to {where}: connection refused (is sshd running there?)"
    if "could not resolve hostname" in text or "name or service not known" in text:
        return f"cannot resolve host {target.host!r}"
    if "timed out" in text:
        return f"cannot connect to {where}: connection timed out"
    if "no route to host" in text or "network is unreachable" in text:
        return f"cannot reach {where}: {_last_line(stderr)}"
    detail = _last_line(stderr) or "ssh exited with status 255"
    return f"ssh to {where} failed (while trying to {what}): {detail}"


def remote_model(model: str) -> tuple[Path | None, str]:
    """The local file a model specifier needs copied, and the name of its copy.

    ``file.py:Class`` and ``model.pt2`` name local files; registered names, importable
    ``package.module:name`` and ``torchvision:``/``timm:`` are found on the board.
    """
    if model.startswith("-"):
        raise UsageError(f"malformed model name {model!r}: it starts with '-'")
    if model.endswith(".pt2"):
        path, attr = Path(model), None
    else:
        source, colon, attr = model.rpartition(":")
        if not colon or not source.endswith(".py"):
            return None, model
        path = Path(source)
    if not path.is_file():
        raise UsageError(f"cannot read model file {path}: no such file")
    # the copy's name only has to keep the suffix: costlab imports a file by its path
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "model"
    name = f"{stem}{path.suffix}"
    return path, name if attr is None else f"{name}:{attr}"


def run_remote_bench(target: SshTarget | str, request: BenchRequest, *,
                     client: SshClient | None = None) -> dict:
    """``request`` run by ``costlab serve-bench`` on the board: its report, as a dict.

    A user model file is copied to a temporary directory on the board (the request sent
    names the copy) and removed afterwards.
    """
    if isinstance(target, str):
        target = parse_ssh_url(target)
    session = RemoteSession(target, client or SshClient.from_env())
    local_file, remote_name = remote_model(request.model)
    temp_dir = None
    try:
        if local_file is not None:
            temp_dir = session.make_temp_dir()
            session.copy_to(local_file.resolve(), f"{temp_dir}/{remote_name.split(':')[0]}")
            request = replace(request, model=f"{temp_dir}/{remote_name}")
        words = [*session.client.remote_command, SERVE_COMMAND]
        done = session.run(words, "run costlab serve-bench", stdin_text=request.to_json())
    finally:
        if temp_dir is not None:
            session.remove_dir(temp_dir)
    return parse_remote_report(target, session.client, done)


def run_remote_round(target: SshTarget | str, request: Any, *,
                     client: SshClient | None = None) -> list[dict]:
    """One round of ``compare --latency`` (a ``RoundRequest``: several models timed
    interleaved) in a fresh ``costlab serve-bench`` on the board: each model's report."""
    from costlab.bench.protocol import read_round_envelope

    if isinstance(target, str):
        target = parse_ssh_url(target)
    for model in request.models:
        if remote_model(model)[0] is not None:
            raise UsageError(f"{model}: a model file is timed on a board by `costlab bench "
                             "--device ssh://...`; compare --latency on a board takes "
                             "registered names and importable specifiers")
    session = RemoteSession(target, client or SshClient.from_env())
    words = [*session.client.remote_command, SERVE_COMMAND]
    done = session.run(words, "run costlab serve-bench", stdin_text=request.to_json())
    check_remote_run(target, session.client, done)
    try:
        reports = read_round_envelope(done.stdout)
    except CostlabError as exc:
        raise CostlabError(f"on {target.host}: {exc}") from None
    if len(reports) != len(request.models):
        raise CostlabError(f"{target.host} sent {len(reports)} reports for "
                           f"{len(request.models)} models")
    return reports


def parse_remote_report(target: SshTarget, client: SshClient, done: _Completed) -> dict:
    """The remote report, or the remote failure as one line."""
    check_remote_run(target, client, done)
    return read_report_envelope(done.stdout, target.host)


def check_remote_run(target: SshTarget, client: SshClient, done: _Completed) -> None:
    """A remote ``serve-bench`` that failed, as one line that says why."""
    command = " ".join(client.remote_command)
    stderr = done.stderr
    if done.returncode == COMMAND_NOT_FOUND or (
            done.returncode != 0 and "command not found" in stderr.lower()):
        raise CostlabError(f"costlab is not installed on {target.host} (or not on the PATH "
                           f"of a non-interactive ssh login): `{command}` was not found; "
                           "install it there, or name it with --remote-costlab PATH "
                           "(COSTLAB_REMOTE_COMMAND)")
    if done.returncode != 0:
        errors = [ln.strip() for ln in stderr.splitlines() if ln.strip().startswith("error:")]
        if errors:  # remote costlab's own one-line error, passed through
            message = errors[-1][len("error:"):].strip()
            error = UsageError if done.returncode == UsageError.exit_code else CostlabError
            raise error(f"on {target.host}: {message}")
        if "no such command" in stderr.lower():  # click's words: an older costlab
            raise CostlabError(f"costlab on {target.host} has no {SERVE_COMMAND} command "
                               "(an older costlab): install the same costlab version on "
                               "both machines")
        raise CostlabError(f"costlab serve-bench failed on {target.host} (exit status "
                           f"{done.returncode}): {_last_line(stderr) or 'no message'}")
    if not done.stdout.strip():
        raise CostlabError(f"costlab serve-bench on {target.host} printed no report: "
                           f"{_last_line(stderr) or 'no output'}")


def bench_over_ssh(device: str, request: BenchRequest, *, remote_command: str | None = None,
                   client: SshClient | None = None, rounds: int = 1):
    """The :class:`~costlab.bench.runner.BenchReport` of ``request`` run on the board
    ``device`` names; ``remote_command`` is ``--remote-costlab``. With ``rounds`` > 1 the
    board runs the request that many times, each a fresh ``serve-bench`` process (peak
    memory in the first only), and the rounds are merged as local rounds are."""
    from dataclasses import replace as replaced

    from costlab.bench.runner import merge_rounds

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise UsageError(f"rounds must be an integer >= 1, got {rounds!r}")
    target = parse_ssh_url(device)
    client = client or SshClient.from_env(remote_command=remote_command)
    reports = [_one_remote_round(target, request if r == 0 else replaced(request, memory=False),
                                 client)
               for r in range(rounds)]
    report = reports[0] if rounds == 1 else merge_rounds(reports)
    if remote_model(request.model)[0] is not None:
        report.model = request.model  # the name of the file here, not of its copy
    report.host = str(target)
    report.notes.append(f"measured on {target} (its CPU) over ssh"
                        + (f", {rounds} rounds, each a fresh process" if rounds > 1 else ""))
    return report


def _one_remote_round(target: SshTarget, request: BenchRequest, client: SshClient):
    from costlab.bench.runner import BenchReport
    from costlab.core.version import BENCH_REPORT_SCHEMA_VERSION

    data = run_remote_bench(target, request, client=client)
    if data.get("schema_version") != BENCH_REPORT_SCHEMA_VERSION:
        raise CostlabError(f"costlab on {target.host} writes bench schema "
                           f"{data.get('schema_version')}, this one reads "
                           f"{BENCH_REPORT_SCHEMA_VERSION}: install the same costlab version "
                           "on both")
    try:
        return BenchReport.from_dict(data)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise CostlabError(f"cannot read the report from {target.host} ({exc}): install "
                           "the same costlab version on both") from None
