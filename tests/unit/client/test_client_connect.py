"""Host selection and daemon auto-start, with a fake spawner, root check and clock."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from wharf import errdefs
from wharf.client.connect import (
    DEFAULT_HOST,
    AutoStart,
    Host,
    HostSource,
    connect,
    parse_host,
    resolve_host,
    transport_for,
)
from wharf.client.errors import DaemonNotFound, DaemonUnreachable, UnreachableReason
from wharf.client.transport import TcpTransport, UnixSocketTransport


def _unreachable(reason: UnreachableReason = UnreachableReason.MISSING) -> DaemonUnreachable:
    return DaemonUnreachable("down", reason=reason, host="unix:///x")


# --- host choice


def test_flag_beats_env_beats_default() -> None:
    env = {"WHARF_HOST": "unix:///env.sock"}
    assert resolve_host("unix:///flag.sock", env) == Host("unix:///flag.sock", HostSource.FLAG)
    assert resolve_host(None, env) == Host("unix:///env.sock", HostSource.ENV)
    assert resolve_host(None, {}) == Host(DEFAULT_HOST, HostSource.DEFAULT)
    assert resolve_host(None, {}).socket_path == "/run/wharf/wharf.sock"


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("unix:///a/b.sock", "unix:///a/b.sock"),
        ("/a/b.sock", "unix:///a/b.sock"),
        ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
        ("tcp://localhost:2375/", "tcp://localhost:2375"),
    ],
)
def test_parse_host(value: str, url: str) -> None:
    assert parse_host(value).url == url


@pytest.mark.parametrize(
    "value", ["unix://rel.sock", "tcp://host", "ssh://me@box", "npipe:////./x"]
)
def test_bad_hosts_are_refused(value: str) -> None:
    with pytest.raises(errdefs.InvalidArgument):
        parse_host(value)


def test_transport_for() -> None:
    unix = transport_for(parse_host("unix:///s.sock"))
    assert isinstance(unix, UnixSocketTransport) and unix.path == "/s.sock"
    tcp = transport_for(parse_host("tcp://10.0.0.1:2375"))
    assert isinstance(tcp, TcpTransport) and (tcp.host, tcp.port) == ("10.0.0.1", 2375)


# --- auto-start policy


class FakeProcess:
    def __init__(self, code: int | None = None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


class FakeDaemon:
    """A daemon that answers ``ready_after`` probes after it was spawned."""

    def __init__(self, ready_after: int = 2, exit_code: int | None = None) -> None:
        self.ready_after = ready_after
        self.exit_code = exit_code
        self.spawned: list[tuple[list[str], dict[str, str], Path]] = []
        self.probes = 0
        self.lock = threading.Lock()

    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> FakeProcess:
        with self.lock:
            self.spawned.append((list(argv), dict(env), log_path))
        return FakeProcess(self.exit_code)

    def probe(self) -> None:
        with self.lock:
            if not self.spawned:
                raise _unreachable()
            self.probes += 1
            if self.probes < self.ready_after:
                raise _unreachable(UnreachableReason.REFUSED)


def _starter(
    daemon: FakeDaemon, env: Mapping[str, str] | None = None, *, root: bool = True, **kw: object
) -> AutoStart:
    return AutoStart(
        env=dict(env or {}),
        spawner=daemon,
        is_root=lambda: root,
        find_daemon=lambda: "/venv/bin/wharfd",
        sleep=lambda _s: None,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("host", "env", "root", "reason", "allowed"),
    [
        (Host(DEFAULT_HOST, HostSource.DEFAULT), {}, True, UnreachableReason.MISSING, True),
        (Host("unix:///e.sock", HostSource.ENV), {}, True, UnreachableReason.REFUSED, True),
        (Host("unix:///f.sock", HostSource.FLAG), {}, True, UnreachableReason.MISSING, False),
        (Host("tcp://h:1", HostSource.ENV), {}, True, UnreachableReason.REFUSED, False),
        (Host(DEFAULT_HOST, HostSource.DEFAULT), {}, False, UnreachableReason.MISSING, False),
        (Host(DEFAULT_HOST, HostSource.DEFAULT), {}, True, UnreachableReason.PERMISSION, False),
        (
            Host(DEFAULT_HOST, HostSource.DEFAULT),
            {"WHARF_NO_AUTOSTART": "1"},
            True,
            UnreachableReason.MISSING,
            False,
        ),
    ],
)
def test_when_auto_start_is_allowed(
    host: Host, env: dict[str, str], root: bool, reason: UnreachableReason, allowed: bool
) -> None:
    starter = _starter(FakeDaemon(), env, root=root)
    assert starter.allowed(host, _unreachable(reason)) is allowed


def test_start_spawns_wharfd_with_roots_and_waits_for_it(tmp_path: Path) -> None:
    daemon = FakeDaemon(ready_after=3)
    env = {"WHARF_ROOT": str(tmp_path / "root"), "WHARF_EXEC_ROOT": str(tmp_path / "exec")}
    host = Host(f"unix://{tmp_path}/run/wharf.sock", HostSource.ENV)

    _starter(daemon, env).start(host, daemon.probe)

    ((argv, passed_env, log_path),) = daemon.spawned
    assert argv == [
        "/venv/bin/wharfd",
        "--host",
        host.url,
        "--data-root",
        str(tmp_path / "root"),
        "--exec-root",
        str(tmp_path / "exec"),
    ]
    assert passed_env == env
    assert log_path == tmp_path / "root" / "wharfd.console.log"
    assert daemon.probes == 3
    assert (tmp_path / "run" / "wharf.sock.lock").exists()


def test_start_does_nothing_when_another_cli_already_started_it(tmp_path: Path) -> None:
    daemon = FakeDaemon(ready_after=1)
    daemon.spawned.append((["earlier"], {}, tmp_path))  # someone else's daemon is up
    _starter(daemon).start(Host(f"unix://{tmp_path}/s.sock", HostSource.DEFAULT), daemon.probe)
    assert len(daemon.spawned) == 1


def test_daemon_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    daemon = FakeDaemon(ready_after=99, exit_code=3)
    starter = _starter(daemon, {"WHARF_ROOT": str(tmp_path)})
    with pytest.raises(errdefs.EngineFailure, match=r"exited with status 3 .*wharfd.console.log"):
        starter.start(Host(f"unix://{tmp_path}/s.sock", HostSource.DEFAULT), daemon.probe)


def test_daemon_that_never_answers_times_out(tmp_path: Path) -> None:
    daemon = FakeDaemon(ready_after=10**9)
    ticks = iter(range(10**6))
    starter = _starter(daemon, clock=lambda: float(next(ticks)), timeout=5.0)
    with pytest.raises(errdefs.Unavailable, match=r"did not answer .* within 5s"):
        starter.start(Host(f"unix://{tmp_path}/s.sock", HostSource.DEFAULT), daemon.probe)


def test_missing_wharfd_binary(tmp_path: Path) -> None:
    daemon = FakeDaemon()
    starter = AutoStart(env={}, spawner=daemon, is_root=lambda: True, find_daemon=lambda: None)
    with pytest.raises(DaemonUnreachable, match="wharfd was not found"):
        starter.start(Host(f"unix://{tmp_path}/s.sock", HostSource.DEFAULT), daemon.probe)
    assert daemon.spawned == []


def test_a_daemon_answering_with_an_error_counts_as_up(tmp_path: Path) -> None:
    daemon = FakeDaemon()

    def probe() -> None:
        if daemon.spawned:
            raise DaemonNotFound("page not found")
        raise _unreachable()

    _starter(daemon).start(Host(f"unix://{tmp_path}/s.sock", HostSource.DEFAULT), probe)
    assert len(daemon.spawned) == 1


def test_two_racing_clis_start_one_daemon(tmp_path: Path) -> None:
    daemon = FakeDaemon(ready_after=5)
    host = Host(f"unix://{tmp_path}/s.sock", HostSource.DEFAULT)

    def slow_probe() -> None:
        time.sleep(0.005)  # both threads must overlap while the first waits for its daemon
        daemon.probe()

    def run() -> None:
        starter = AutoStart(
            env={},
            spawner=daemon,
            is_root=lambda: True,
            find_daemon=lambda: "/bin/wharfd",
            interval=0.002,
        )
        starter.start(host, slow_probe)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(daemon.spawned) == 1


# --- connect, end to end on a real socket


def test_connect_refuses_to_start_when_disabled(tmp_path: Path) -> None:
    env = {"WHARF_HOST": f"unix://{tmp_path}/s.sock", "WHARF_NO_AUTOSTART": "1"}
    with pytest.raises(DaemonUnreachable, match=r"Cannot connect to the Wharf daemon at unix://"):
        connect(env=env)


class _PingHandler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.43")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _PingServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _ServingSpawner:
    """ "Starts a daemon" by serving ``/_ping`` on the socket from a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.servers: list[_PingServer] = []

    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> FakeProcess:
        server = _PingServer(str(self.path), _PingHandler)
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        return FakeProcess()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize(("pinned", "expected"), [(None, "1.43"), ("1.41", "1.41")])
def test_connect_starts_a_daemon_and_negotiates(
    tmp_path: Path, pinned: str | None, expected: str
) -> None:
    path = tmp_path / "s.sock"
    env = {"WHARF_HOST": f"unix://{path}"}
    if pinned:
        env["WHARF_API_VERSION"] = pinned
    spawner = _ServingSpawner(path)
    starter = AutoStart(env=env, spawner=spawner, is_root=lambda: True, find_daemon=lambda: "w")
    try:
        client = connect(env=env, autostart=starter)
        assert client.api_version == expected
        # A second CLI finds it running and starts nothing.
        connect(env=env, autostart=starter)
    finally:
        spawner.stop()
    assert len(spawner.servers) == 1
