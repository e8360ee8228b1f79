"""The engine's side of a container monitor: start one, find it again, attach to it, read its exit.

May import ``wharf.errdefs``, the stdlib-only ``wharf.runtime.monitor*`` modules and the
standard library. The monitor process itself is monitor_process.py; its state directory,
configuration file and attach protocol are drawn in monitor_process.py, monitor_config.py
and monitor_protocol.py.

Invariants:

- ``spawn_monitor`` returns only once the runtime has created the process (the monitor wrote
  ``{"ok": true, ...}`` on the ready pipe); on failure it raises ``EngineFailure`` with the
  runtime's one-line error, and no monitor process, socket or pid file is left behind
  (``monitor.json``, ``runtime.log`` and the log file belong to the engine).
- The monitor is not the engine's child (it detaches at start), so the engine never has to
  reap it, and monitors started before a wharfd restart look the same as new ones.
- Unix socket paths are limited to 107 bytes: ``MonitorConfig`` refuses longer ones.
- ``exit_file`` is written atomically by the monitor, after the last log line and before the
  attach socket goes away: a watcher that finds the socket gone finds the exit file.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import os
import select
import signal as signals
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from wharf.errdefs import Conflict, EngineFailure, InvalidArgument
from wharf.runtime import monitor
from wharf.runtime.monitor_logfile import format_timestamp
from wharf.runtime.monitor_protocol import (
    HEADER_SIZE,
    KIND_EXIT,
    KIND_HELLO,
    KIND_RESIZE,
    KIND_STDERR,
    KIND_STDIN,
    KIND_STDIN_CLOSE,
    KIND_STDOUT,
    MAX_PAYLOAD,
    FrameDecoder,
    ProtocolError,
    decode_exit,
    encode_hello,
    encode_resize,
    json_dumps,
    json_loads,
    pack_frame,
    unpack_header,
)

MONITOR_SCRIPT = Path(monitor.__file__).resolve()
CONFIG_FILE = "monitor.json"
PID_FILE = "monitor.pid"
CRASH_FILE = "monitor.log"
READY_TIMEOUT = 30.0
# What wait_for_exit reports when the monitor died without recording an exit (Docker
# reports 255 when it loses track of a container's exit the same way).
LOST_EXIT_CODE = 255
SOCKET_PATH_MAX = 107


class FrameKind(enum.IntEnum):
    """Attach frame kinds (monitor_protocol.py); 0-2 are Docker's stream ids."""

    STDIN = KIND_STDIN
    STDOUT = KIND_STDOUT
    STDERR = KIND_STDERR
    HELLO = KIND_HELLO
    STDIN_CLOSE = KIND_STDIN_CLOSE
    RESIZE = KIND_RESIZE
    EXIT = KIND_EXIT


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a container's process ended: Docker's exit code (128+N for signal N) and time."""

    exit_code: int
    finished_at: str  # RFC 3339, UTC, nanoseconds
    signal: int | None = None

    @classmethod
    def from_json(cls, payload: bytes) -> ExitStatus:
        try:
            code, finished_at, sig = decode_exit(payload)
        except ProtocolError as exc:
            raise EngineFailure(f"malformed exit record: {exc}") from exc
        return cls(code, finished_at, sig)


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    payload: bytes

    def exit_status(self) -> ExitStatus:
        if self.kind is not FrameKind.EXIT:
            raise EngineFailure(f"expected an EXIT frame, got {self.kind.name}")
        return ExitStatus.from_json(self.payload)


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """What one monitor supervises; ``spawn_monitor`` writes it as ``monitor.json``."""

    container_id: str
    state_dir: Path
    launch_argv: tuple[str, ...]
    pid_file: Path
    tty: bool
    open_stdin: bool
    stdin_once: bool
    log_path: Path | None
    log_max_size: int  # bytes; 0 = never rotate
    log_max_files: int  # files kept, the current one included
    console_socket: Path | None  # required with a tty: the runtime's --console-socket
    attach_socket: Path
    exit_file: Path
    # Exec: the process runs as soon as it is launched, before its client can attach;
    # hold its output (in the pipe) until a stdout/stderr client is there, or a while.
    hold_output: bool = False

    def __post_init__(self) -> None:
        if not self.launch_argv:
            raise InvalidArgument("monitor: the launch command is empty")
        if self.tty and self.console_socket is None:
            raise InvalidArgument("monitor: a tty needs a console socket")
        if self.log_max_size < 0:
            raise InvalidArgument(f"monitor: log max size must be >= 0, not {self.log_max_size}")
        if self.log_max_files < 1:
            raise InvalidArgument(f"monitor: log max files must be >= 1, not {self.log_max_files}")
        for path in (self.attach_socket, self.console_socket):
            if path is not None and len(os.fsencode(path.absolute())) > SOCKET_PATH_MAX:
                raise InvalidArgument(
                    f"monitor: socket path longer than {SOCKET_PATH_MAX} bytes: {path}"
                )

    def to_json(self, ready_fd: int) -> bytes:
        def text(path: Path | None) -> str | None:
            return None if path is None else str(path.absolute())

        return json_dumps(
            {
                "id": self.container_id,
                "launch_argv": list(self.launch_argv),
                "pid_file": text(self.pid_file),
                "tty": self.tty,
                "open_stdin": self.open_stdin,
                "stdin_once": self.stdin_once,
                "log_path": text(self.log_path),
                "log_max_size": self.log_max_size,
                "log_max_files": self.log_max_files,
                "console_socket": text(self.console_socket),
                "attach_socket": text(self.attach_socket),
                "exit_file": text(self.exit_file),
                "ready_fd": ready_fd,
                "hold_output": self.hold_output,
            }
        ).encode()


@dataclass(frozen=True, slots=True)
class MonitorHandle:
    monitor_pid: int
    process_pid: int  # the container's (or exec process's) pid, in the host's namespace


def spawn_monitor(
    config: MonitorConfig, *, python: str = sys.executable, timeout: float = READY_TIMEOUT
) -> MonitorHandle:
    """Start the monitor, let it run the launch argv, and wait until the process exists.

    Blocks (up to ``timeout``): call it from a worker thread. A stale exit file from an
    earlier run of the same container is removed first.
    """
    state_dir = config.state_dir.absolute()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        config.exit_file.unlink(missing_ok=True)
    except OSError as exc:
        raise EngineFailure(f"cannot prepare monitor state {state_dir}: {exc}") from exc
    config_path = state_dir / CONFIG_FILE
    ready_r, ready_w = os.pipe()
    try:
        try:
            _write_atomically(config_path, config.to_json(ready_w))
            intermediate = subprocess.Popen(
                [python, "-I", "-S", str(MONITOR_SCRIPT), str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(ready_w,),
                start_new_session=True,
                cwd="/",
            )
        finally:
            os.close(ready_w)
        # The monitor forks at once and its first process exits: that is all we reap.
        intermediate.wait()
        line = _read_ready(ready_r, time.monotonic() + timeout)
    except OSError as exc:
        raise EngineFailure(f"cannot start the container monitor: {exc}") from exc
    finally:
        os.close(ready_r)
    if line is None:
        _kill_monitor(state_dir)
        _remove_leftovers(config)
        raise EngineFailure(
            f"container monitor for {config.container_id} did not report within {timeout:g} s"
        )
    if not line:
        _remove_leftovers(config)
        raise EngineFailure(f"container monitor exited before it was ready{_crash_note(state_dir)}")
    try:
        report = json_loads(line)
    except ValueError as exc:
        raise EngineFailure(f"container monitor sent a malformed report: {line!r}") from exc
    if not isinstance(report, dict):
        raise EngineFailure(f"container monitor sent a malformed report: {line!r}")
    if report.get("ok") is not True:
        _remove_leftovers(config)
        raise EngineFailure(str(report.get("error") or "the container runtime failed"))
    monitor_pid, process_pid = report.get("monitor_pid"), report.get("pid")
    if not isinstance(monitor_pid, int) or not isinstance(process_pid, int):
        raise EngineFailure(f"container monitor sent a malformed report: {line!r}")
    return MonitorHandle(monitor_pid=monitor_pid, process_pid=process_pid)


def _read_ready(fd: int, deadline: float) -> bytes | None:
    """The report line (``b""`` if there is none), once the monitor has closed the pipe.

    None on timeout. After a failure the pipe closes when the monitor exits, so returning
    means no monitor is left.
    """
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.partition(b"\n")[0].strip()
        data += chunk


def _kill_monitor(state_dir: Path) -> None:
    pid = read_monitor_pid(state_dir)
    if pid is not None and monitor_alive(state_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signals.SIGKILL)


def _remove_leftovers(config: MonitorConfig) -> None:
    # The monitor cleans up after a failed launch; this covers a monitor that crashed.
    for path in (config.attach_socket, config.console_socket, config.state_dir / PID_FILE):
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def _crash_note(state_dir: Path) -> str:
    try:
        lines = (state_dir / CRASH_FILE).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def read_exit(exit_file: Path) -> ExitStatus | None:
    """The recorded exit, or None while there is none (the process runs, or never ran)."""
    try:
        payload = exit_file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EngineFailure(f"cannot read exit record {exit_file}: {exc}") from exc
    return ExitStatus.from_json(payload)


def read_monitor_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def monitor_alive(state_dir: Path) -> bool:
    """Whether the monitor recorded in ``state_dir`` still runs (and is that monitor).

    Checks the pid's command line, so a recycled pid is not mistaken for the monitor.
    """
    pid = read_monitor_pid(state_dir)
    if pid is None:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = cmdline.split(b"\0")
    config_path = os.fsencode(state_dir.absolute() / CONFIG_FILE)
    return config_path in args and any(arg.endswith(b"/monitor.py") for arg in args)


def _not_running(path: Path, exc: OSError) -> Conflict:
    return Conflict(f"the container is not running (no monitor at {path}: {exc.strerror})")


class Attachment:
    """A blocking attach connection (for tests, the CLI-less tools and worker threads)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._decoder = FrameDecoder()
        self._frames: list[tuple[int, bytes]] = []

    @classmethod
    def connect(cls, attach_socket: Path, *, stdin: bool, stdout: bool, stderr: bool) -> Attachment:
        """Connect and say HELLO; raises Conflict when no monitor listens there."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(os.fspath(attach_socket))
            sock.sendall(
                pack_frame(KIND_HELLO, encode_hello(stdin=stdin, stdout=stdout, stderr=stderr))
            )
        except OSError as exc:
            sock.close()
            raise _not_running(attach_socket, exc) from exc
        return cls(sock)

    def set_deadline(self, seconds: float | None) -> None:
        """recv_frame raises TimeoutError when no data comes for ``seconds`` (None: wait)."""
        self._sock.settimeout(seconds)

    def recv_frame(self) -> Frame | None:
        """The next frame from the monitor; None once it has closed the connection."""
        while not self._frames:
            try:
                data = self._sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            try:
                self._frames.extend(self._decoder.feed(data))
            except ProtocolError as exc:
                raise EngineFailure(f"container monitor sent a bad frame: {exc}") from exc
        kind, payload = self._frames.pop(0)
        if kind == KIND_HELLO:
            return self.recv_frame()  # the monitor's acknowledgement of our HELLO
        return Frame(FrameKind(kind), payload)

    def send_stdin(self, data: bytes) -> None:
        for start in range(0, len(data), MAX_PAYLOAD):
            self._send(KIND_STDIN, data[start : start + MAX_PAYLOAD])

    def close_stdin(self) -> None:
        self._send(KIND_STDIN_CLOSE)

    def resize(self, height: int, width: int) -> None:
        self._send(KIND_RESIZE, encode_resize(height, width))

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Attachment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, kind: int, payload: bytes = b"") -> None:
        try:
            self._sock.sendall(pack_frame(kind, payload))
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                raise Conflict("the container has exited") from exc
            raise EngineFailure(f"cannot write to the container monitor: {exc}") from exc


_HELLO_ACK_TIMEOUT = 2.0  # a monitor answers at once; only one from an older wharf never does


class AsyncAttachment:
    """An attach connection on asyncio streams (for the API server)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._early: list[Frame] = []

    async def wait_acknowledged(self, timeout: float) -> None:
        """Until the monitor has taken our HELLO (its HELLO frame comes back); frames that
        arrive first (a monitor from before acknowledgements) are kept for read_frame."""
        try:
            async with asyncio.timeout(timeout):
                while (frame := await self._read()) is not None:
                    if frame.kind is FrameKind.HELLO:
                        return
                    self._early.append(frame)
                    if frame.kind is FrameKind.EXIT:
                        return
        except TimeoutError:
            return

    async def read_frame(self) -> Frame | None:
        """The next frame; None once the monitor has closed the connection."""
        if self._early:
            return self._early.pop(0)
        while (frame := await self._read()) is not None and frame.kind is FrameKind.HELLO:
            pass
        return frame

    async def _read(self) -> Frame | None:
        try:
            header = await self._reader.readexactly(HEADER_SIZE)
            kind, length = unpack_header(header)
            payload = await self._reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None
        except ProtocolError as exc:
            raise EngineFailure(f"container monitor sent a bad frame: {exc}") from exc
        return Frame(FrameKind(kind), payload)

    async def write_stdin(self, data: bytes) -> None:
        for start in range(0, len(data), MAX_PAYLOAD):
            await self._send(KIND_STDIN, data[start : start + MAX_PAYLOAD])

    async def close_stdin(self) -> None:
        await self._send(KIND_STDIN_CLOSE)

    async def resize(self, height: int, width: int) -> None:
        await self._send(KIND_RESIZE, encode_resize(height, width))

    def close(self) -> None:
        self._writer.close()

    async def _send(self, kind: int, payload: bytes = b"") -> None:
        try:
            self._writer.write(pack_frame(kind, payload))
            await self._writer.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise Conflict("the container has exited") from exc


async def open_attachment(
    socket_path: Path, *, stdin: bool, stdout: bool, stderr: bool
) -> AsyncAttachment:
    """Connect and say HELLO; raises Conflict when no monitor listens there."""
    try:
        reader, writer = await asyncio.open_unix_connection(os.fspath(socket_path))
    except OSError as exc:
        raise _not_running(socket_path, exc) from exc
    attachment = AsyncAttachment(reader, writer)
    try:
        writer.write(
            pack_frame(KIND_HELLO, encode_hello(stdin=stdin, stdout=stdout, stderr=stderr))
        )
        await writer.drain()
        await attachment.wait_acknowledged(_HELLO_ACK_TIMEOUT)
    except OSError as exc:
        attachment.close()
        raise _not_running(socket_path, exc) from exc
    return attachment


async def wait_for_exit(attach_socket: Path, exit_file: Path) -> ExitStatus:
    """Wait until the process exits and return how.

    Watches through the monitor (a HELLO with no streams); when the monitor is gone, or goes
    away without an EXIT frame, the exit file decides; without one the monitor died before
    the process's end was known, and the answer is ``LOST_EXIT_CODE``.
    """
    try:
        attachment = await open_attachment(attach_socket, stdin=False, stdout=False, stderr=False)
    except Conflict:
        pass
    else:
        try:
            while (frame := await attachment.read_frame()) is not None:
                if frame.kind is FrameKind.EXIT:
                    return frame.exit_status()
        finally:
            attachment.close()
    status = read_exit(exit_file)
    if status is not None:
        return status
    return ExitStatus(LOST_EXIT_CODE, format_timestamp(time.time_ns()), None)
