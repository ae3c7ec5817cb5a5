"""Benchmarks over ssh, against a real sshd on 127.0.0.1, and the emulation check."""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import costlab
from costlab.bench.protocol import BenchRequest
from costlab.core.version import BENCH_PROTOCOL_SCHEMA_VERSION as SCHEMA_VERSION
from costlab.bench.remote import (
    SshClient,
    SshTarget,
    parse_ssh_url,
    quote_remote_word,
    remote_model,
    run_remote_bench,
)
from costlab.bench.emulation import cpuinfo_family, emulation_reason, running_under_emulation
from costlab.bench.timing import TimingPolicy
from costlab.core.errors import CostlabError, UsageError
from costlab.core.version import __version__

SSHD = shutil.which("sshd") or next(
    (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None)
# the costlab entry point next to this Python, importing the costlab these tests import
# (sshd passes no environment on, so PYTHONPATH is set on the board's command line)
LOCAL_ROOT = str(Path(costlab.__file__).resolve().parents[1])
LOCAL_COSTLAB = shlex.join(["env", f"PYTHONPATH={LOCAL_ROOT}",
                            str(Path(sys.executable).with_name("costlab"))])

# --- ssh:// URLs, quoting, model specifiers: no sshd needed ---------------------------------


@pytest.mark.parametrize("url,target", [
    ("ssh://pi@board.local", SshTarget("board.local", "pi", None)),
    ("ssh://pi@10.0.0.7:2222", SshTarget("10.0.0.7", "pi", 2222)),
    ("ssh://jetson", SshTarget("jetson", None, None)),
    ("ssh://ubuntu@[fe80::1]:22/", SshTarget("fe80::1", "ubuntu", 22)),
])
def test_parse_ssh_url(url, target):
    assert parse_ssh_url(url) == target


def test_ssh_target_prints_as_its_url():
    assert str(SshTarget("fe80::1", "ubuntu", 22)) == "ssh://ubuntu@[fe80::1]:22"
    assert str(SshTarget("board")) == "ssh://board"


@pytest.mark.parametrize("url,message", [
    ("pi@board", "expected ssh://user@host"),
    ("ssh://", "malformed host"),
    ("ssh://pi@", "malformed host"),
    ("ssh://pi@-oProxyCommand=x", "malformed host"),
    ("ssh://-oProxyCommand=x@board", "malformed user"),
    ("ssh://pi@board:0", "malformed port"),
    ("ssh://pi@board:70000", "malformed port"),
    ("ssh://pi@board:22x", "malformed port"),
    ("ssh://pi@bo ard", "malformed host"),
    ("ssh://pi@[fe80::1", "malformed IPv6"),
])
def test_malformed_ssh_urls_are_usage_errors(url, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_ssh_url(url)
    assert "\n" not in str(err.value)


def test_remote_words_are_quoted_for_the_shell():
    assert quote_remote_word("mobilenet_v2") == "mobilenet_v2"
    assert quote_remote_word("a b") == "'a b'"
    assert quote_remote_word("$(reboot)") == "'$(reboot)'"
    assert quote_remote_word("it's") == "'it'\"'\"'s'"
    assert quote_remote_word("~/venv/bin/costlab") == "~/venv/bin/costlab"
    assert quote_remote_word("~/my venv/costlab") == "~/'my venv/costlab'"
    with pytest.raises(UsageError, match="control character"):
        quote_remote_word("net\nreboot")


def test_remote_model_names_the_file_to_copy(tmp_path):
    assert remote_model("mobilenet_v2") == (None, "mobilenet_v2")
    assert remote_model("block:bottleneck") == (None, "block:bottleneck")
    assert remote_model("torchvision:resnet18") == (None, "torchvision:resnet18")
    assert remote_model("mypackage.nets:build") == (None, "mypackage.nets:build")
    net = tmp_path / "my net.py"
    net.write_text("")
    assert remote_model(f"{net}:Net") == (net, "my_net.py:Net")
    exported = tmp_path / "tiny.pt2"
    exported.write_bytes(b"")
    assert remote_model(str(exported)) == (exported, "tiny.pt2")
    with pytest.raises(UsageError, match="cannot read model file .*missing.py"):
        remote_model(f"{tmp_path}/missing.py:Net")
    with pytest.raises(UsageError, match="starts with '-'"):
        remote_model("--help")


def test_client_from_environment():
    client = SshClient.from_env({
        "COSTLAB_SSH": "/opt/ssh", "COSTLAB_SCP": "/opt/scp",
        "COSTLAB_SSH_OPTIONS": "-i '/keys/my board' -o UserKnownHostsFile=/k",
        "COSTLAB_REMOTE_COMMAND": "python3 -m costlab.cli",
    })
    assert client == SshClient(ssh="/opt/ssh", scp="/opt/scp",
                               options=("-i", "/keys/my board", "-o", "UserKnownHostsFile=/k"),
                               remote_command=("python3", "-m", "costlab.cli"))
    assert SshClient.from_env({"COSTLAB_REMOTE_COMMAND": "x"},
                              remote_command="/venv/bin/costlab").remote_command == \
        ("/venv/bin/costlab",)
    assert SshClient.from_env({}) == SshClient()


def test_host_key_checking_and_batch_mode_come_before_user_options():
    client = SshClient(options=("-o", "StrictHostKeyChecking=no"))
    options = client.base_options(SshTarget("board", "pi", 2222))
    # ssh keeps the first value of an option: the user's "no" cannot win
    assert options.index("StrictHostKeyChecking=yes") < options.index("StrictHostKeyChecking=no")
    assert options[:4] == ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    assert "Port=2222" in options and "User=pi" in options


def test_missing_ssh_client_is_one_line():
    client = SshClient(ssh="/nonexistent/ssh")
    with pytest.raises(CostlabError, match="^/nonexistent/ssh not found: install the OpenSSH"):
        run_remote_bench("ssh://pi@board", BenchRequest(model="mobilenet_v2"), client=client)


# --- emulation: a pure function of what /proc says ------------------------------------------

X86_CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n" \
              "model name\t: AMD EPYC\nflags\t\t: fpu vme sse sse2 avx2\n"
ARM_CPUINFO = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32\n" \
              "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n" \
              "CPU part\t: 0xd0b\nCPU revision\t: 1\n"
QEMU_MAPS = ("55d0c0000000-55d0c0400000 r-xp 00000000 08:01 1311 /usr/bin/qemu-aarch64-static\n"
             "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n")
NATIVE_MAPS = "55d0c0000000-55d0c0400000 r-xp 00000000 08:01 1311 /usr/bin/python3.11\n" \
              "7f1000000000-7f1000001000 r--p 00000000 08:01 77 /opt/qemu-notes.txt\n"


def test_cpuinfo_families():
    assert cpuinfo_family(X86_CPUINFO) == "x86"
    assert cpuinfo_family(ARM_CPUINFO) == "arm"
    assert cpuinfo_family("processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc\n") == "riscv"
    assert cpuinfo_family("processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\n") == \
        "power"
    assert cpuinfo_family("vendor_id       : IBM/S390\n") == "s390"
    assert cpuinfo_family("") is None


def test_native_machines_are_not_emulated():
    assert emulation_reason("x86_64", X86_CPUINFO, NATIVE_MAPS, {}) is None
    assert emulation_reason("aarch64", ARM_CPUINFO, NATIVE_MAPS, {}) is None
    # a handler for another architecture says nothing about this interpreter
    assert emulation_reason("x86_64", X86_CPUINFO, NATIVE_MAPS,
                            {"qemu-aarch64": "enabled\ninterpreter /usr/bin/qemu-aarch64\n"}) \
        is None
    assert emulation_reason("aarch64", None, None, None) is None  # nothing readable


def test_foreign_cpuinfo_means_emulation():
    assert emulation_reason("aarch64", X86_CPUINFO, NATIVE_MAPS, {}) == (
        "the interpreter reports aarch64 but /proc/cpuinfo describes an x86 CPU: "
        "it runs under emulation (qemu user mode)")
    assert "describes an arm CPU" in emulation_reason("x86_64", ARM_CPUINFO)


def test_qemu_in_the_address_space_means_emulation():
    assert emulation_reason("aarch64", ARM_CPUINFO, QEMU_MAPS, {}) == \
        "qemu-aarch64-static is running this aarch64 interpreter (qemu user mode)"


def test_binfmt_handler_for_this_machine_means_emulation():
    handlers = {"qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64\n"}
    assert emulation_reason("aarch64", ARM_CPUINFO, NATIVE_MAPS, handlers) == (
        "binfmt_misc runs aarch64 programs through qemu-aarch64 on this host, so this "
        "interpreter is emulated")
    disabled = {"qemu-aarch64": "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64\n"}
    assert emulation_reason("aarch64", ARM_CPUINFO, NATIVE_MAPS, disabled) is None


def test_rosetta_translation_means_emulation():
    assert emulation_reason("x86_64", None, None, None, translated=True).startswith(
        "this x86_64 Python runs under Rosetta 2")


def test_bench_refuses_to_time_an_emulated_interpreter(monkeypatch):
    from typer.testing import CliRunner

    from costlab.bench import emulation
    from costlab.cli import app

    monkeypatch.setattr(emulation, "running_under_emulation", lambda: "qemu-aarch64 runs it")
    with pytest.raises(CostlabError, match="^refusing to report latency: qemu-aarch64 runs it;"):
        emulation.refuse_under_emulation()
    result = CliRunner().invoke(app, ["bench", "block:conv3x3", "--quick"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: refusing to report latency: qemu-aarch64 runs it;")
    assert len(result.stderr.strip().splitlines()) == 1


def test_this_machine_reads_as_native():
    # CI and development machines run natively; were this one emulated, the reason says how
    assert running_under_emulation() is None


# --- a real sshd on 127.0.0.1 ---------------------------------------------------------------

# a board's costlab serve-bench that answers with what it was sent
STUB_REMOTE = '''\
import json, os, sys
request = json.loads(sys.stdin.read())
model = request["model"]
if model == "fail-usage":
    print("progress...", file=sys.stderr)
    print("error: unknown model 'fail-usage'", file=sys.stderr)
    sys.exit(2)
version = request["schema_version"] + (1 if model == "newer-board" else 0)
path = model.split(":")[0]
found = os.path.isfile(path)
print(json.dumps({"schema_version": version, "kind": "bench_report", "report": {
    "argv": sys.argv[1:], "request": request, "model_path": path if found else None,
    "model_text": open(path).read() if found else None}}))
'''
# an older costlab: a typer app without the serve-bench command
OLD_COSTLAB = '''\
import typer

app = typer.Typer()


@app.command()
def bench(model: str):
    pass


@app.command("list")
def list_models():
    pass


app()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)


class Board:
    """An sshd on 127.0.0.1 that lets the current user in with one fresh key."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}"
        self.key = root / "client_key"
        self.known_hosts = root / "known_hosts"

    def client(self, remote_command: str = LOCAL_COSTLAB, key: Path | None = None,
               known_hosts: Path | None = None) -> SshClient:
        options = ("-F", "/dev/null", "-o", "IdentitiesOnly=yes",
                   "-i", str(key or self.key),
                   "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}",
                   "-o", "GlobalKnownHostsFile=/dev/null")
        return SshClient(options=options, remote_command=tuple(shlex.split(remote_command)),
                         connect_timeout_s=5)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("sshd or the ssh client is not installed (.ci/run installs them)")
    root = tmp_path_factory.mktemp("board")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755)  # sshd's privilege separation directory
    _keygen(root / "host_key")
    _keygen(root / "client_key")
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    port = _free_port()
    host_key = (root / "host_key.pub").read_text().split()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (root / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
""")
    log = open(root / "sshd.log", "w")
    sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if sshd.poll() is not None:
                pytest.skip(f"sshd did not start: {(root / 'sshd.log').read_text()[-300:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.skip("sshd did not listen within 10 s")
                time.sleep(0.1)
        (root / "stub.py").write_text(STUB_REMOTE)
        (root / "old_costlab.py").write_text(OLD_COSTLAB)
        yield Board(root, port)
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)
        log.close()


def _stub(board: Board) -> str:
    return shlex.join([sys.executable, str(board.root / "stub.py")])


def test_the_request_reaches_the_board_verbatim_on_stdin(board, tmp_path):
    marker = tmp_path / "injected"
    tricky = [f"$(touch {marker})", f"; touch {marker}", "it's \"quoted\"", "a  b", "*",
              "line\nbreak"]
    request = BenchRequest(model="mobilenet_v2", model_kwargs={"names": tricky},
                           knobs={"width": 0.5, "n": "7"}, threads=1, memory=False,
                           policy=TimingPolicy(warmup_iters=1, min_iters=3))
    report = run_remote_bench(board.url, request, client=board.client(_stub(board)))
    assert report["argv"] == ["serve-bench"]  # nothing else on the command line
    assert report["request"] == request.to_dict()
    assert BenchRequest.from_dict(report["request"]) == request
    assert not marker.exists()


def test_a_user_model_file_is_copied_and_removed(board, tmp_path):
    net = tmp_path / "my net.py"
    net.write_text("class Net: pass  # the board reads this copy\n")
    report = run_remote_bench(board.url, BenchRequest(model=f"{net}:Net", batch=2),
                              client=board.client(_stub(board)))
    remote_path = Path(report["model_path"])
    assert remote_path.name == "my_net.py"
    assert remote_path.parent != net.parent
    assert report["model_text"] == net.read_text()
    assert report["request"]["model"] == f"{remote_path}:Net"
    assert report["request"]["batch"] == 2
    # same machine: the temporary directory on the "board" is gone again
    assert not remote_path.parent.exists()


def test_remote_costlab_errors_pass_through(board):
    with pytest.raises(UsageError) as err:
        run_remote_bench(board.url, BenchRequest(model="fail-usage"),
                         client=board.client(_stub(board)))
    assert str(err.value) == "on 127.0.0.1: unknown model 'fail-usage'"


def test_a_board_report_of_another_schema_names_both_versions(board):
    with pytest.raises(CostlabError) as err:
        run_remote_bench(board.url, BenchRequest(model="newer-board"),
                         client=board.client(_stub(board)))
    assert str(err.value) == (
        f"costlab on 127.0.0.1 writes bench reports of schema {SCHEMA_VERSION + 1}; this "
        f"costlab ({__version__}) reads schema {SCHEMA_VERSION}: install the same costlab "
        "version on both machines")


def test_a_request_of_another_schema_is_refused_by_the_board(board):
    from dataclasses import replace

    request = replace(BenchRequest(model="block:conv3x3"), schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(UsageError) as err:
        run_remote_bench(board.url, request, client=board.client())
    assert str(err.value) == (
        f"on 127.0.0.1: this costlab ({__version__}) reads bench requests of schema "
        f"{SCHEMA_VERSION}; the request is schema {SCHEMA_VERSION + 1}: install the same "
        "costlab version on both machines")


def test_a_board_without_serve_bench_is_one_line(board):
    old = shlex.join([sys.executable, str(board.root / "old_costlab.py")])
    with pytest.raises(CostlabError) as err:
        run_remote_bench(board.url, BenchRequest(model="block:conv3x3"),
                         client=board.client(old))
    assert str(err.value) == ("costlab on 127.0.0.1 has no serve-bench command (an older "
                              "costlab): install the same costlab version on both machines")


def test_connection_refused_is_one_line(board):
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{_free_port()}"
    with pytest.raises(CostlabError) as err:
        run_remote_bench(url, BenchRequest(model="mobilenet_v2"), client=board.client())
    assert str(err.value).startswith("cannot connect to 127.0.0.1:")
    assert str(err.value).endswith(": connection refused (is sshd running there?)")


def test_refused_key_is_one_line(board, tmp_path):
    _keygen(tmp_path / "stranger")
    with pytest.raises(CostlabError) as err:
        run_remote_bench(board.url, BenchRequest(model="mobilenet_v2"),
                         client=board.client(key=tmp_path / "stranger"))
    assert str(err.value).startswith(
        f"127.0.0.1:{board.port} refused the login as {getpass.getuser()} "
        "(Permission denied)")
    assert "\n" not in str(err.value)


def test_unknown_host_key_is_one_line(board, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(CostlabError) as err:
        run_remote_bench(board.url, BenchRequest(model="mobilenet_v2"),
                         client=board.client(known_hosts=empty))
    assert str(err.value).startswith(
        f"the host key of 127.0.0.1:{board.port} is not in known_hosts")
    assert "\n" not in str(err.value)
    assert empty.read_text() == ""  # nothing was added behind the user's back


def test_changed_host_key_is_one_line(board, tmp_path):
    _keygen(tmp_path / "impostor")
    wrong = tmp_path / "known_hosts"
    key = (tmp_path / "impostor.pub").read_text().split()
    wrong.write_text(f"[127.0.0.1]:{board.port} {key[0]} {key[1]}\n")
    with pytest.raises(CostlabError, match="has CHANGED") as err:
        run_remote_bench(board.url, BenchRequest(model="mobilenet_v2"),
                         client=board.client(known_hosts=wrong))
    assert "\n" not in str(err.value)


def test_missing_remote_costlab_is_one_line(board):
    with pytest.raises(CostlabError) as err:
        run_remote_bench(board.url, BenchRequest(model="mobilenet_v2"),
                         client=board.client("/nonexistent/bin/costlab"))
    assert str(err.value).startswith(
        "costlab is not installed on 127.0.0.1 (or not on the PATH of a non-interactive ssh "
        "login): `/nonexistent/bin/costlab` was not found")
    assert "\n" not in str(err.value)


# --- the real costlab bench on the board -----------------------------------------------------

TINY_POLICY = ["--warmup", "1", "--warmup-time", "0", "--iters", "3", "--min-time", "0",
               "--max-time", "2", "--rounds", "1"]
TINY = TimingPolicy(warmup_iters=1, warmup_s=0, min_iters=3, min_s=0, max_s=2)
TINY_NET = '''\
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x).relu()
'''


def _key_structure(value):
    """The keys of a JSON value, nested; lists by the structure of their first item."""
    if isinstance(value, dict):
        return {k: _key_structure(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        return [_key_structure(value[0])]
    return None


def _bench_json(args: list[str], env: dict | None = None):
    from typer.testing import CliRunner

    from costlab.cli import app

    result = CliRunner().invoke(app, ["bench", *args, "--format", "json"], env=env)
    printed = result.exit_code == 0 and result.stdout.strip()
    return result, (json.loads(result.stdout) if printed else None)


def test_remote_report_has_the_local_schema(board):
    from costlab.bench.runner import BenchReport

    report = run_remote_bench(board.url, BenchRequest(model="block:conv3x3", policy=TINY),
                              client=board.client())
    result, local = _bench_json(["block:conv3x3", *TINY_POLICY])
    assert result.exit_code == 0, result.stderr
    assert _key_structure(report) == _key_structure(local["reports"][0])
    assert report["model"] == "block:conv3x3" and report["device"] == "cpu"
    assert report["iterations"] == len(report["samples_ms"]) >= 3
    assert BenchReport.from_dict(report).to_dict() == report


def _cli_env(board: Board) -> dict:
    return {"COSTLAB_SSH_OPTIONS": shlex.join(board.client().options)}


def test_bench_command_runs_on_the_board(board, tmp_path):
    from typer.testing import CliRunner

    from costlab.cli import app

    out = tmp_path / "board.txt"  # the rich table, drawn from the board's report
    result = CliRunner().invoke(app, [
        "bench", "block:conv3x3", "--device", board.url, "--remote-costlab", LOCAL_COSTLAB,
        *TINY_POLICY, "-o", str(out), "--format", "table"], env=_cli_env(board))
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert "block:conv3x3" in text and f"measured on {board.url} (its CPU) over ssh" in text


def test_bench_command_runs_a_user_file_on_the_board(board, tmp_path):
    net = tmp_path / "tiny net.py"
    net.write_text(TINY_NET)
    result, payload = _bench_json([f"{net}:Tiny", "--input", "2,8", "--device", board.url,
                                   "--remote-costlab", LOCAL_COSTLAB, "--no-memory",
                                   *TINY_POLICY, "--rounds", "2"], env=_cli_env(board))
    assert result.exit_code == 0, result.stderr
    report = payload["reports"][0]
    assert report["model"] == f"{net}:Tiny"
    assert report["input_shapes"] == [[2, 8]] and report["batch"] == 2
    assert report["peak_memory"] is None  # --no-memory was forwarded
    assert report["notes"][-1] == f"measured on {board.url} (its CPU) over ssh, 2 rounds, " \
                                  "each a fresh process"
    assert report["rounds"] == 2 and len(report["round_sizes"]) == 2


def test_bench_command_errors_are_one_line(board, tmp_path):
    _keygen(tmp_path / "stranger")
    env = {"COSTLAB_SSH_OPTIONS": shlex.join(board.client(key=tmp_path / "stranger").options)}
    for args, code, start in [
        (["--remote-costlab", LOCAL_COSTLAB], 1, f"error: 127.0.0.1:{board.port} refused"),
        (["--remote-costlab", "/nonexistent/costlab"], 1, "error: costlab is not installed"),
    ]:
        result, _ = _bench_json(["block:conv3x3", "--device", board.url, *args],
                                env=env if "refused" in start else _cli_env(board))
        assert result.exit_code == code
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(start), result.stderr
    # the board's own costlab error comes back as one line, with its usage exit status
    result, _ = _bench_json(["no_such_model", "--device", board.url,
                             "--remote-costlab", LOCAL_COSTLAB], env=_cli_env(board))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: on 127.0.0.1: unknown model 'no_such_model'")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def good_report() -> dict:
    from costlab.bench.runner import bench

    return bench("block:conv3x3", {"input_shape": "1,8,12,12"}, memory=False,
                 policy=TimingPolicy(0, 0, 2, 0, 30)).to_dict()


@pytest.mark.parametrize("broken", [{"peak_memory": 5}, {"stats": None}, {"environment": {}}])
def test_a_board_report_of_another_shape_is_one_line(monkeypatch, broken, good_report):
    from costlab.bench import remote

    monkeypatch.setattr(remote, "run_remote_bench", lambda *a, **k: {**good_report, **broken})
    with pytest.raises(CostlabError, match=r"^cannot read the report from board \(.*\): install "):
        remote.bench_over_ssh("ssh://pi@board", BenchRequest(model="block:conv3x3"),
                              client=object())


def test_a_bench_report_of_another_schema_is_one_line(monkeypatch, good_report):
    from costlab.bench import remote
    from costlab.core.version import BENCH_REPORT_SCHEMA_VERSION as REPORT_SCHEMA

    newer = {**good_report, "schema_version": REPORT_SCHEMA + 1}
    monkeypatch.setattr(remote, "run_remote_bench", lambda *a, **k: newer)
    with pytest.raises(CostlabError) as err:
        remote.bench_over_ssh("ssh://pi@board", BenchRequest(model="block:conv3x3"),
                              client=object())
    assert str(err.value) == (f"costlab on board writes bench schema {REPORT_SCHEMA + 1}, "
                              f"this one reads {REPORT_SCHEMA}: install the same costlab "
                              "version on both")


def test_rounds_on_a_board_are_fresh_remote_processes_merged(monkeypatch, good_report):
    from costlab.bench import remote

    sent = []

    def fake(target, request, client=None):
        sent.append(request)
        scale = 1 + 0.1 * len(sent)  # each round its own level
        return {**good_report, "samples_ms": [s * scale for s in good_report["samples_ms"]]}

    monkeypatch.setattr(remote, "run_remote_bench", fake)
    report = remote.bench_over_ssh("ssh://pi@board", BenchRequest(model="block:conv3x3"),
                                   client=object(), rounds=3)
    assert [r.memory for r in sent] == [True, False, False]  # peak memory measured once
    n = len(good_report["samples_ms"])
    assert report.rounds == 3 and report.rounds_in_workers and report.round_sizes == [n] * 3
    assert report.round_medians_ms == pytest.approx(
        [good_report["stats"]["median_ms"] * (1 + 0.1 * k) for k in (1, 2, 3)], rel=1e-4)
    assert report.notes[-1] == "measured on ssh://pi@board (its CPU) over ssh, 3 rounds, " \
                               "each a fresh process"
    with pytest.raises(UsageError, match="rounds must be"):
        remote.bench_over_ssh("ssh://pi@board", BenchRequest(model="x"), client=object(),
                              rounds=0)
