"""Which daemon to talk to, and starting one when none answers (zero set-up for a new user).

Host choice, first that is set: ``-H/--host`` (``unix:///path`` or ``tcp://host:port``), the
``WHARF_HOST`` environment variable, ``unix:///run/wharf/wharf.sock``.
``WHARF_API_VERSION`` pins the API version instead of negotiating it.

Auto-start: when the socket is absent or refuses connections, we are root, the host came from
the default or from ``WHARF_HOST`` and is a unix socket, and ``WHARF_NO_AUTOSTART`` is not
``1``, ``AutoStart`` runs ``wharfd --host unix://<path>`` detached (own session, stdin from
/dev/null, stdout and stderr appended to ``<data root>/wharfd.console.log``; the daemon keeps
its own ``wharfd.log``) and waits up to 10 s for ``/_ping``. ``WHARF_ROOT`` and
``WHARF_EXEC_ROOT`` become ``--data-root`` and ``--exec-root``. wharfd is looked for next to
``sys.executable`` (same venv), else on ``PATH``.

The lock: ``<socket>.lock`` is held (``flock``) from the decision to start until the daemon
answers or gives up, and the socket is probed again once it is held, so two CLIs racing on a
cold machine start one daemon; the second finds it answering. The lock file is left in place
(removing it would let a third CLI lock a new inode while the second still holds the old one).

Seams: the spawner, the root check, the daemon finder, the clock and sleep are constructor
arguments of ``AutoStart``; tests fake them.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client``.
"""

from __future__ import annotations

import enum
import fcntl
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from wharf.client.api import EngineClient
from wharf.client.errors import DaemonError, DaemonUnreachable, UnreachableReason
from wharf.client.transport import TcpTransport, Transport, UnixSocketTransport
from wharf.errdefs import EngineFailure, InvalidArgument, Unavailable

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_SOCKET = "/run/wharf/wharf.sock"
DEFAULT_HOST = f"unix://{DEFAULT_SOCKET}"
DEFAULT_DATA_ROOT = "/var/lib/wharf"
CONSOLE_LOG = "wharfd.console.log"


class HostSource(enum.Enum):
    FLAG = "flag"
    ENV = "env"
    DEFAULT = "default"


class Host(NamedTuple):
    """A daemon address: ``unix:///path`` or ``tcp://host:port``, and where it came from."""

    url: str
    source: HostSource

    @property
    def socket_path(self) -> str | None:
        return self.url.removeprefix("unix://") if self.url.startswith("unix://") else None


def parse_host(value: str, source: HostSource = HostSource.FLAG) -> Host:
    """Validate and normalize a ``-H`` value; a bare absolute path means a unix socket."""
    text = value.strip()
    if text.startswith("/"):
        text = f"unix://{text}"
    if text.startswith("unix://"):
        path = text.removeprefix("unix://")
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid host {value!r}: unix socket path must be absolute")
        return Host(f"unix://{path}", source)
    if text.startswith("tcp://"):
        address = text.removeprefix("tcp://").rstrip("/")
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise InvalidArgument(f"invalid host {value!r}: expected tcp://HOST:PORT")
        return Host(f"tcp://{host}:{int(port)}", source)
    raise InvalidArgument(
        f"invalid host {value!r}: wharf supports unix:///path and tcp://host:port"
    )


def resolve_host(flag: str | None, env: Mapping[str, str]) -> Host:
    if flag:
        return parse_host(flag, HostSource.FLAG)
    if value := env.get("WHARF_HOST", "").strip():
        return parse_host(value, HostSource.ENV)
    return Host(DEFAULT_HOST, HostSource.DEFAULT)


def transport_for(host: Host) -> Transport:
    path = host.socket_path
    if path is not None:
        return UnixSocketTransport(path)
    address = host.url.removeprefix("tcp://")
    name, _, port = address.rpartition(":")
    return TcpTransport(name.strip("[]"), int(port))


def find_wharfd() -> str | None:
    """``wharfd`` beside the running interpreter (same venv), else on ``PATH``."""
    # pathlib and shutil are imported here: only a failed connect gets this far.
    import shutil
    from pathlib import Path

    beside = Path(sys.executable).parent / "wharfd"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("wharfd")


class Process(Protocol):
    def poll(self) -> int | None: ...


class Spawner(Protocol):
    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> Process:
        """Start ``argv`` detached from us, its output appended to ``log_path``."""
        ...


class SubprocessSpawner:
    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> Process:
        import subprocess  # only paid for on the rare start

        log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our Ctrl-C and exit must not reach the daemon
                close_fds=True,
                env=dict(env),
                cwd="/",
            )


def _is_root() -> bool:
    return os.geteuid() == 0


class AutoStart:
    """Starts wharfd when allowed; see the module docstring for the rules.

    A plain class (not a dataclass): it is defined on every start-up and used on few.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        spawner: Spawner | None = None,
        is_root: Callable[[], bool] = _is_root,
        find_daemon: Callable[[], str | None] = find_wharfd,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> None:
        self.env = env
        self.spawner: Spawner = SubprocessSpawner() if spawner is None else spawner
        self.is_root = is_root
        self.find_daemon = find_daemon
        self.sleep = sleep
        self.clock = clock
        self.timeout = timeout
        self.interval = interval

    def allowed(self, host: Host, error: DaemonUnreachable) -> bool:
        return (
            self.env.get("WHARF_NO_AUTOSTART", "") != "1"
            and host.source in (HostSource.DEFAULT, HostSource.ENV)
            and host.socket_path is not None
            and error.reason in (UnreachableReason.MISSING, UnreachableReason.REFUSED)
            and self.is_root()
        )

    def argv(self, daemon: str, host: Host) -> list[str]:
        argv = [daemon, "--host", host.url]
        if root := self.env.get("WHARF_ROOT"):
            argv += ["--data-root", root]
        if exec_root := self.env.get("WHARF_EXEC_ROOT"):
            argv += ["--exec-root", exec_root]
        return argv

    def log_path(self) -> Path:
        from pathlib import Path

        return Path(self.env.get("WHARF_ROOT") or DEFAULT_DATA_ROOT) / CONSOLE_LOG

    def start(self, host: Host, probe: Callable[[], object]) -> None:
        """Start the daemon for ``host`` unless another CLI did; return once it answers."""
        socket_path = host.socket_path
        if socket_path is None:
            raise InvalidArgument(f"cannot start a daemon for {host.url}: not a unix socket")
        from pathlib import Path

        Path(socket_path).parent.mkdir(parents=True, exist_ok=True, mode=0o711)
        fd = os.open(f"{socket_path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            self._lock(fd, host)
            if self._answers(probe):
                return  # another CLI started it while we waited for the lock
            self._spawn_and_wait(host, probe)
        finally:
            os.close(fd)  # closing the descriptor drops the flock

    def _lock(self, fd: int, host: Host) -> None:
        # The holder waits at most ``timeout`` for its daemon; give it that and a margin.
        deadline = self.clock() + 2 * self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if self.clock() >= deadline:
                    raise Unavailable(
                        f"timed out waiting for another wharf to start the daemon at {host.url}"
                    ) from None
                self.sleep(self.interval)

    def _answers(self, probe: Callable[[], object]) -> bool:
        try:
            probe()
        except DaemonUnreachable:
            return False
        except DaemonError:
            return True  # it answered, if only with an error: it is up
        return True

    def _spawn_and_wait(self, host: Host, probe: Callable[[], object]) -> None:
        daemon = self.find_daemon()
        if daemon is None:
            raise DaemonUnreachable(
                f"Cannot connect to the Wharf daemon at {host.url}, and wharfd was not found "
                f"next to {sys.executable} or on PATH to start one.",
                reason=UnreachableReason.MISSING,
                host=host.url,
            )
        log_path = self.log_path()
        try:
            process = self.spawner.spawn(self.argv(daemon, host), env=self.env, log_path=log_path)
        except OSError as exc:
            raise EngineFailure(f"cannot start {daemon}: {exc.strerror or exc}") from exc
        deadline = self.clock() + self.timeout
        while not self._answers(probe):
            code = process.poll()
            if code is not None:
                raise EngineFailure(
                    f"wharfd exited with status {code} before it answered on {host.url}; "
                    f"see {log_path}"
                )
            if self.clock() >= deadline:
                raise Unavailable(
                    f"wharfd did not answer on {host.url} within {self.timeout:g}s; see {log_path}"
                )
            self.sleep(self.interval)


def connect(
    host_flag: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    autostart: AutoStart | None = None,
    api_version: str | None = None,
) -> EngineClient:
    """A client of the chosen daemon, which answered a ping (and was started if need be)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    host = resolve_host(host_flag, environ)
    client = EngineClient(
        transport_for(host), api_version or environ.get("WHARF_API_VERSION") or None
    )
    try:
        client.ping()
        return client
    except DaemonUnreachable as exc:
        starter = autostart if autostart is not None else AutoStart(env=environ)
        if not starter.allowed(host, exc):
            raise
    starter.start(host, client.ping)
    return client
