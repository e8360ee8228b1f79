"""The per-container monitor process (the role of conmon / containerd-shim), and its wire protocol.

Runs as its own process, one per container or exec process::

    python3 -I -S /abs/path/monitor.py <state_dir>/monitor.json

It owns the container's stdio (pipes, or a pty master received from the runtime), runs the
runtime's launch command (``runc create`` / ``runc exec --detach``), writes the json-file log,
serves attach clients on a unix socket, reaps the container and records its exit. It keeps
running when wharfd stops: nothing here depends on the engine being alive.

Imports: the standard library only, and only its cheapest C modules (``os``, ``select``,
``time``, ``_socket``, ``_struct``, ``_json``, ``_signal``, ``_codecs``; ``fcntl``/``termios``
and ``_ctypes`` lazily): every idle container pays for what this module imports, and the pure
Python ``socket``, ``signal`` and ``json`` modules pull in ``enum`` and ``re`` (about 1 MB of
private memory each time). The engine imports this module too, for the protocol constants and
codecs below, so nothing runs at import time.

The state directory (owned by the engine; the monitor writes only the files marked *)::

    <state_dir>/
      monitor.json     the configuration (written by the engine, read once)
      monitor.pid    * the monitor's pid, for re-attaching after a wharfd restart
      monitor.log    * a crash report, only if the monitor itself failed
      runtime.log      the runtime's --log file, if the launch argv asks for one

Configuration (``monitor.json``)::

    {"id", "launch_argv": [...], "pid_file", "tty": bool, "open_stdin": bool,
     "stdin_once": bool, "log_path": str|null, "log_max_size": int (0 = unlimited),
     "log_max_files": int, "console_socket": str|null, "attach_socket": str,
     "exit_file": str, "ready_fd": int}

Lifecycle:

1. Detach (fork; the parent exits at once, so the monitor is nobody's child), become a child
   subreaper, ignore SIGTERM/SIGINT/SIGHUP (the engine stops containers through the runtime),
   listen on ``attach_socket`` (and ``console_socket`` with a tty).
2. Run ``launch_argv`` with the container's stdio (pass-through pipes), or /dev/null plus an
   error pipe with a tty (the runtime sends the pty master over ``console_socket``).
3. Launch failed: write ``{"ok": false, "error": "<one line>"}`` to the ready fd, remove the
   sockets and pid files, exit 1. Launch succeeded: read the pid from ``pid_file``, write
   ``{"ok": true, "pid": N, "monitor_pid": M}`` and close the ready fd.
4. Loop: output -> json-file log and attached clients; client stdin -> container.
5. The container's pid exits (waitpid; the runtime's process exits first, so the container
   is re-parented to us): drain the output for a short bounded time, write ``exit_file``
   atomically as ``{"exit_code", "finished_at", "signal"}``, send EXIT to every client,
   remove the attach socket, exit 0.

Attach protocol, on ``attach_socket`` (stream socket), in both directions: frames
``[kind: u8][length: u32 big-endian][payload]``. Kinds 0-2 match Docker's multiplexed
stream ids::

    client -> monitor  HELLO {"stdin","stdout","stderr": bool}   first frame, exactly once
                       STDIN <bytes>, STDIN_CLOSE, RESIZE {"height","width"}
    monitor -> client  STDOUT <bytes>, STDERR <bytes> (with a tty all output is STDOUT)
                       EXIT {"exit_code", "finished_at", "signal"}, then the monitor closes

A client that asks for no stream is a pure exit watcher. With ``stdin_once`` the first
stdin client to send STDIN_CLOSE (or to disconnect) closes the container's stdin. A client
whose unsent output passes ``CLIENT_BUFFER_LIMIT`` is dropped: a slow reader never blocks
the container or the log.

Log format: Docker's json-file driver, byte for byte (its escaping, RFC 3339 times with
trailing zeros trimmed), one object per line, lines split at ``\\n`` and at 16 KiB; a read
that ends without a newline is written as a partial line at once. Rotation by size:
``<log>`` -> ``<log>.1`` -> ... -> ``<log>.<max_files-1>``; with one file the full log is
unlinked and started afresh (a new inode, so followers notice).
"""

from __future__ import annotations

import os
import select
import sys
import time

import _codecs
import _json
import _socket
import _struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Sequence
    from typing import TypeGuard
else:
    import _signal

# --- attach protocol --------------------------------------------------------------------------

KIND_STDIN = 0
KIND_STDOUT = 1
KIND_STDERR = 2
KIND_HELLO = 3
KIND_STDIN_CLOSE = 4
KIND_RESIZE = 5
KIND_EXIT = 6
KIND_COUNT = 7

HEADER = _struct.Struct(">BI")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD = 1 << 20


class ProtocolError(ValueError):
    """A malformed frame or payload; the connection that sent it is closed."""


def pack_frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame: header then payload."""
    if not 0 <= kind < KIND_COUNT:
        raise ProtocolError(f"unknown frame kind {kind}")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(kind, len(payload)) + payload


def unpack_header(header: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``(kind, payload length)`` from the first ``HEADER_SIZE`` bytes."""
    kind, length = HEADER.unpack_from(header)
    if kind >= KIND_COUNT:
        raise ProtocolError(f"unknown frame kind {kind}")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {length} bytes exceeds {MAX_PAYLOAD}")
    return kind, length


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get whole frames back."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buffer
        buf += data
        frames: list[tuple[int, bytes]] = []
        pos = 0
        end_of_data = len(buf)
        while end_of_data - pos >= HEADER_SIZE:
            kind, length = unpack_header(memoryview(buf)[pos : pos + HEADER_SIZE])
            end = pos + HEADER_SIZE + length
            if end > end_of_data:
                break
            frames.append((kind, bytes(buf[pos + HEADER_SIZE : end])))
            pos = end
        if pos:
            del buf[:pos]
        return frames


def encode_hello(*, stdin: bool, stdout: bool, stderr: bool) -> bytes:
    return json_dumps({"stdin": stdin, "stdout": stdout, "stderr": stderr}).encode()


def decode_hello(payload: bytes) -> tuple[bool, bool, bool]:
    """``(stdin, stdout, stderr)``; absent keys are false."""
    obj = _json_object(payload)
    flags = tuple(obj.get(key, False) for key in ("stdin", "stdout", "stderr"))
    if not all(isinstance(flag, bool) for flag in flags):
        raise ProtocolError("HELLO flags must be booleans")
    return flags[0] is True, flags[1] is True, flags[2] is True


def encode_resize(height: int, width: int) -> bytes:
    return json_dumps({"height": height, "width": width}).encode()


def decode_resize(payload: bytes) -> tuple[int, int]:
    """``(height, width)``, each within 0..65535 (a winsize field is 16 bits)."""
    obj = _json_object(payload)
    height, width = obj.get("height"), obj.get("width")
    if not (_is_int(height) and _is_int(width) and 0 <= height <= 0xFFFF and 0 <= width <= 0xFFFF):
        raise ProtocolError("RESIZE needs integer height and width in 0..65535")
    return height, width


def encode_exit(exit_code: int, finished_at: str, signal: int | None) -> bytes:
    return json_dumps(
        {"exit_code": exit_code, "finished_at": finished_at, "signal": signal}
    ).encode()


def decode_exit(payload: bytes) -> tuple[int, str, int | None]:
    """``(exit_code, finished_at, signal)``, as in an EXIT frame or the exit file."""
    obj = _json_object(payload)
    code, finished, signal = obj.get("exit_code"), obj.get("finished_at"), obj.get("signal")
    if not _is_int(code) or not isinstance(finished, str):
        raise ProtocolError("exit record needs an integer exit_code and a finished_at string")
    if signal is not None and not _is_int(signal):
        raise ProtocolError("exit record signal must be an integer or null")
    return code, finished, signal


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_object(payload: bytes) -> dict[str, object]:
    try:
        obj = json_loads(payload)
    except ValueError as exc:
        raise ProtocolError(f"payload is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("payload must be a JSON object")
    return obj


# --- minimal JSON on the C accelerator (the json package imports re and enum) -----------------


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads; plain ``json.loads`` defaults otherwise."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)


_scan_once = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
_JSON_SPACE = " \t\n\r"


def json_loads(text: str | bytes) -> object:
    """Parse one JSON document (like ``json.loads``; NaN and Infinity are refused)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"invalid UTF-8: {exc}") from exc
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    try:
        value, end = _scan_once(text, start)
    except StopIteration as exc:
        raise ValueError(f"invalid JSON at offset {exc.value}") from None
    if text[end:].strip(_JSON_SPACE):
        raise ValueError(f"extra data at offset {end}")
    return value


def json_dumps(value: object) -> str:
    """Compact JSON (ASCII) for None, bool, int, str, and lists/tuples/dicts of them."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            items.append(_json.encode_basestring_ascii(key) + ":" + json_dumps(item))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# --- Docker's json-file format -----------------------------------------------------------------

MAX_LOG_LINE = 16 * 1024  # Docker's copier splits longer lines into partial messages
_INVALID_UTF8 = "\udfff"  # lone surrogates never come out of a strict UTF-8 decode


def _mark_invalid_utf8(exc: UnicodeError) -> tuple[str, int]:
    # Go's decoder yields one U+FFFD per invalid byte; Python reports a maximal invalid
    # subpart, so one marker per byte of it matches Go.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _INVALID_UTF8 * (exc.end - exc.start), exc.end


_codecs.register_error("wharf-json-log", _mark_invalid_utf8)

# Python's encoder writes \t \b \f as short escapes where Docker writes \u00XX: swap those
# characters for markers first, then turn the markers (and what Docker escapes on top of
# JSON: < > & U+2028 U+2029, invalid bytes) into Docker's escapes.
_PRE_ESCAPES = (("\t", "\ud800"), ("\b", "\ud801"), ("\f", "\ud802"))
_ASCII_ESCAPES = (
    ("\ud800", "\\u0009"),
    ("\ud801", "\\u0008"),
    ("\ud802", "\\u000c"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
)
_UNICODE_ESCAPES = (
    (_INVALID_UTF8, "\\ufffd"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def docker_json_string(data: bytes) -> bytes:
    """``data`` as a JSON string literal exactly as Docker's json-file driver writes it."""
    ascii_only = data.isascii()
    text = data.decode("ascii") if ascii_only else data.decode("utf-8", "wharf-json-log")
    for char, marker in _PRE_ESCAPES:
        if char in text:
            text = text.replace(char, marker)
    out = _json.encode_basestring(text)
    for raw, escape in _ASCII_ESCAPES:
        if raw in out:
            out = out.replace(raw, escape)
    if not ascii_only:
        for raw, escape in _UNICODE_ESCAPES:
            if raw in out:
                out = out.replace(raw, escape)
    return out.encode("utf-8")


def format_timestamp(time_ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds, trailing zeros trimmed (Go's ``time.RFC3339Nano``)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    t = time.gmtime(seconds)
    base = (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )
    if nanos:
        return f"{base}.{nanos:09d}".rstrip("0") + "Z"
    return base + "Z"


class JsonLogWriter:
    """Appends output to a json-file log, rotating by size (layout in the module docstring).

    Write errors (a full disk) drop the entries rather than stop the monitor: the container
    must go on running.
    """

    __slots__ = ("_fd", "_size", "max_files", "max_size", "path")

    def __init__(self, path: str, *, max_size: int = 0, max_files: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self._fd = -1
        self._size = 0
        self._open()

    @property
    def size(self) -> int:
        """Bytes in the current file."""
        return self._size

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        """Log ``data`` read from ``stream`` ("stdout"/"stderr") at ``time_ns``."""
        if not data:
            return
        suffix = (
            b',"stream":"'
            + stream.encode()
            + b'","time":"'
            + format_timestamp(time_ns).encode()
            + b'"}\n'
        )
        entries = []
        pos, total = 0, len(data)
        while pos < total:
            newline = data.find(b"\n", pos, pos + MAX_LOG_LINE)
            end = newline + 1 if newline >= 0 else min(total, pos + MAX_LOG_LINE)
            entries.append(b'{"log":' + docker_json_string(data[pos:end]) + suffix)
            pos = end
        if self.max_size <= 0:
            self._write(b"".join(entries))
            return
        batch: list[bytes] = []
        pending = 0
        for entry in entries:
            # Docker's rule: a file is rotated once it has reached the limit, before the
            # next write; so a file holds at least one entry and passes the limit by < 1.
            if self._size + pending >= self.max_size:
                self._write(b"".join(batch))
                batch, pending = [], 0
                self._rotate()
            batch.append(entry)
            pending += len(entry)
        self._write(b"".join(batch))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> None:
        try:
            self._fd = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640
            )
            self._size = os.fstat(self._fd).st_size
        except OSError:
            self._fd = -1
            self._size = 0

    def _write(self, data: bytes) -> None:
        if self._fd < 0:
            self._open()
            if self._fd < 0:
                return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except InterruptedError:
                continue
            except OSError:
                return
            self._size += written
            view = view[written:]

    def _rotate(self) -> None:
        self.close()
        path = self.path
        try:
            if self.max_files > 1:
                for index in range(self.max_files - 1, 1, -1):
                    try:
                        os.rename(f"{path}.{index - 1}", f"{path}.{index}")
                    except FileNotFoundError:
                        pass
                os.rename(path, f"{path}.1")
            else:
                os.unlink(path)
        except OSError:
            pass
        self._open()


# --- the monitor process -----------------------------------------------------------------------

LAUNCH_TIMEOUT = 25.0  # below the engine's 30 s, so the engine hears our error, not a timeout
CONSOLE_GRACE = 5.0  # after the runtime exits, how long its console connection may lag
DRAIN_LIMIT = 2.0  # after the container exits, the longest we wait for its output to end
DRAIN_QUIET = 0.2  # ...and how long the output may stay silent before we stop waiting
CLIENT_BUFFER_LIMIT = 4 << 20  # unsent output per client before we drop it
STDIN_BUFFER_LIMIT = 1 << 20  # unwritten stdin before we stop reading from stdin clients
FINAL_FLUSH = 1.0  # how long clients get to read their EXIT frame
READ_SIZE = 65536
ERROR_TAIL = 8192
PR_SET_CHILD_SUBREAPER = 36
TIOCSWINSZ_FALLBACK = 0x5414
_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_SEND_FLAGS = _socket.MSG_DONTWAIT | _socket.MSG_NOSIGNAL
# Ignored dispositions survive exec: give the runtime (and so the container) the defaults.
_DEFAULT_SIGNALS = (
    _signal.SIGPIPE,
    _signal.SIGXFSZ,
    _signal.SIGTERM,
    _signal.SIGINT,
    _signal.SIGHUP,
)


class LaunchError(Exception):
    """The runtime refused to create the container; the message is its one-line error."""


class MonitorConfig:
    """``monitor.json``, checked (the engine-side dataclass lives in monitor_client.py)."""

    __slots__ = (
        "attach_socket",
        "console_socket",
        "container_id",
        "exit_file",
        "launch_argv",
        "log_max_files",
        "log_max_size",
        "log_path",
        "open_stdin",
        "pid_file",
        "ready_fd",
        "stdin_once",
        "tty",
    )

    def __init__(self, raw: object) -> None:
        if not isinstance(raw, dict):
            raise ValueError("monitor.json must hold an object")
        self.container_id = _str_field(raw, "id")
        argv = raw.get("launch_argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("monitor.json: launch_argv must be a non-empty list of strings")
        self.launch_argv: list[str] = argv
        self.pid_file = _str_field(raw, "pid_file")
        self.tty = _bool_field(raw, "tty")
        self.open_stdin = _bool_field(raw, "open_stdin")
        self.stdin_once = _bool_field(raw, "stdin_once")
        self.log_path = _optional_str(raw, "log_path")
        self.log_max_size = _int_field(raw, "log_max_size")
        self.log_max_files = _int_field(raw, "log_max_files")
        self.console_socket = _optional_str(raw, "console_socket")
        self.attach_socket = _str_field(raw, "attach_socket")
        self.exit_file = _str_field(raw, "exit_file")
        self.ready_fd = _int_field(raw, "ready_fd")
        if self.tty and self.console_socket is None:
            raise ValueError("monitor.json: a tty needs a console_socket")


def _str_field(raw: dict[str, object], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"monitor.json: {name} must be a non-empty string")
    return value


def _bool_field(raw: dict[str, object], name: str) -> bool:
    value = raw.get(name)
    if not isinstance(value, bool):
        raise ValueError(f"monitor.json: {name} must be a boolean")
    return value


def _int_field(raw: dict[str, object], name: str) -> int:
    value = raw.get(name)
    if not _is_int(value):
        raise ValueError(f"monitor.json: {name} must be an integer")
    return value


def _optional_str(raw: dict[str, object], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"monitor.json: {name} must be a string or null")
    return value


class _Client:
    """One attach connection."""

    __slots__ = (
        "decoder",
        "exit_sent",
        "fd",
        "hello",
        "out",
        "sock",
        "stderr",
        "stdin",
        "stdin_done",
        "stdout",
    )

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.decoder = FrameDecoder()
        self.hello = False
        self.stdin = self.stdout = self.stderr = False
        self.stdin_done = False
        self.exit_sent = False
        self.out = bytearray()


class Monitor:
    """The supervisor loop. ``run()`` returns the process exit status."""

    def __init__(self, config: MonitorConfig, state_dir: str) -> None:
        self.config = config
        self.state_dir = state_dir
        self.poll = select.poll()
        self.registered: dict[int, int] = {}
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.listener: _socket.socket | None = None
        self.console_listener: _socket.socket | None = None
        self.clients: dict[int, _Client] = {}
        # fd -> frame kind, for every output fd still open
        self.outputs: dict[int, int] = {}
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        self.stdin_once_used = False
        self.master = -1
        self.container_pid = 0
        self.reaped: dict[int, int] = {}  # statuses reaped before the container pid was known
        self.exit: tuple[int, int | None, int] | None = None  # (code, signal, time_ns)
        self.last_output = 0.0
        self.log: JsonLogWriter | None = None

    # --- set-up and launch ---

    def setup(self) -> None:
        for signum in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
            _signal.signal(signum, _signal.SIG_IGN)
        _signal.signal(_signal.SIGCHLD, _on_sigchld)
        _signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        _set_child_subreaper()
        self.listener = _listen(self.config.attach_socket)
        if self.config.tty:
            self.console_listener = _listen(str(self.config.console_socket))

    def launch(self) -> int:
        """Run the launch argv; returns the container pid or raises LaunchError."""
        config = self.config
        runtime_log = os.path.join(self.state_dir, "runtime.log")
        try:
            runtime_log_offset = os.stat(runtime_log).st_size
        except OSError:
            runtime_log_offset = 0
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        child_fds = [devnull]
        pre_output: list[tuple[int, bytes]] = []
        error_tail = bytearray()
        if config.tty:
            err_r, err_w = os.pipe()
            child_fds.append(err_w)
            stdio = (devnull, err_w, err_w)
            launch_outputs = {err_r: KIND_STDERR}
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            child_fds += [out_w, err_w]
            stdin_child = devnull
            if config.open_stdin:
                stdin_child, self.stdin_fd = os.pipe()
                child_fds.append(stdin_child)
                os.set_blocking(self.stdin_fd, False)
            stdio = (stdin_child, out_w, err_w)
            launch_outputs = {out_r: KIND_STDOUT, err_r: KIND_STDERR}
        for fd in launch_outputs:
            os.set_blocking(fd, False)
        try:
            launch_pid = os.posix_spawnp(
                config.launch_argv[0],
                config.launch_argv,
                os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(stdio)],
                setsigdef=_DEFAULT_SIGNALS,
            )
        except OSError as exc:
            for fd in [*child_fds, *launch_outputs]:
                os.close(fd)
            raise LaunchError(f"cannot run {config.launch_argv[0]}: {exc.strerror}") from None
        for fd in child_fds:
            os.close(fd)

        deadline = time.monotonic() + LAUNCH_TIMEOUT
        launch_status: int | None = None
        console_deadline = 0.0
        open_outputs = dict(launch_outputs)
        while True:
            self._reap()
            if launch_status is None and launch_pid in self.reaped:
                launch_status = self.reaped.pop(launch_pid)
                console_deadline = time.monotonic() + CONSOLE_GRACE
            if launch_status is not None:
                if launch_status != 0:
                    break
                if not config.tty or self.master >= 0:
                    break
                if time.monotonic() > console_deadline:
                    raise LaunchError("the runtime did not send the container's console")
            now = time.monotonic()
            if now > deadline:
                os.kill(launch_pid, _signal.SIGKILL)
                raise LaunchError(
                    f"the runtime did not finish within {LAUNCH_TIMEOUT:.0f} s: "
                    + " ".join(config.launch_argv)
                )
            wanted = {self.wake_r: _POLLIN}
            for fd in open_outputs:
                wanted[fd] = _POLLIN
            if self.console_listener is not None and self.master < 0:
                wanted[self.console_listener.fileno()] = _POLLIN
            self._set_interest(wanted)
            limit = deadline if launch_status is None else console_deadline
            for fd, _events in self._poll(max(0.0, limit - now)):
                if fd == self.wake_r:
                    self._drain_wakeups()
                elif fd in open_outputs:
                    self._read_launch_output(fd, open_outputs, pre_output, error_tail)
                elif self.console_listener is not None and fd == self.console_listener.fileno():
                    self._receive_console()
        # What the runtime wrote just before it exited is still in the pipes.
        for fd in list(open_outputs):
            while fd in open_outputs and self._read_launch_output(
                fd, open_outputs, pre_output, error_tail
            ):
                pass

        if launch_status != 0:
            raise LaunchError(
                _launch_error(
                    bytes(error_tail),
                    runtime_log,
                    runtime_log_offset,
                    launch_status,
                    config.launch_argv[0],
                )
            )
        try:
            with open(config.pid_file, "rb") as f:
                pid = int(f.read().strip() or b"0")
        except (OSError, ValueError) as exc:
            raise LaunchError(f"cannot read the container's pid file: {exc}") from None
        if pid <= 0:
            raise LaunchError(f"the runtime wrote no pid to {config.pid_file}")
        self.container_pid = pid

        # Everything the runtime left open from here on is container output.
        if config.tty:
            for fd in launch_outputs:
                os.close(fd)
            self.outputs = {self.master: KIND_STDOUT}
            if config.open_stdin:
                self.stdin_fd = self.master
        else:
            self.outputs = open_outputs
            for fd in launch_outputs:
                if fd not in open_outputs:
                    os.close(fd)
        if config.log_path is not None:
            self.log = JsonLogWriter(
                config.log_path, max_size=config.log_max_size, max_files=config.log_max_files
            )
        now_ns = time.time_ns()
        for kind, data in pre_output:
            self._output(kind, data, now_ns)
        status = self.reaped.pop(pid, None)
        self.reaped.clear()
        if status is not None:
            self._container_exited(status)
        return pid

    def _read_launch_output(
        self,
        fd: int,
        open_outputs: dict[int, int],
        pre_output: list[tuple[int, bytes]],
        error_tail: bytearray,
    ) -> bool:
        """Read once from a launch-time pipe; False when it had nothing (more) to give."""
        data = _read(fd)
        if data is None:
            return False
        if not data:
            del open_outputs[fd]
            return False
        if open_outputs[fd] == KIND_STDERR:
            error_tail += data
            del error_tail[:-ERROR_TAIL]
        if not self.config.tty:
            pre_output.append((open_outputs[fd], data))
        return True

    def _receive_console(self) -> None:
        assert self.console_listener is not None
        try:
            fd, _addr = self.console_listener._accept()  # type: ignore[attr-defined]
        except (BlockingIOError, InterruptedError):
            return
        conn = _socket.socket(fileno=fd)
        try:
            conn.settimeout(CONSOLE_GRACE)
            _msg, ancdata, _flags, _addr = conn.recvmsg(
                4096, _socket.CMSG_SPACE(16), _socket.MSG_CMSG_CLOEXEC
            )
        except OSError:
            return
        finally:
            conn.close()
        for level, kind, data in ancdata:
            if level != _socket.SOL_SOCKET or kind != _socket.SCM_RIGHTS:
                continue
            count = len(data) // 4
            for received in _struct.unpack(f"{count}i", data[: count * 4]):
                if self.master < 0:
                    self.master = received
                    os.set_blocking(received, False)
                else:
                    os.close(received)

    # --- the main loop ---

    def serve(self) -> None:
        """Run until the container has exited and its output has ended (or gone quiet)."""
        exited_at = 0.0
        while True:
            timeout: float | None = None
            if self.exit is not None:
                now = time.monotonic()
                exited_at = exited_at or now
                end = min(exited_at + DRAIN_LIMIT, max(self.last_output, exited_at) + DRAIN_QUIET)
                if not self.outputs or now >= end:
                    return
                timeout = end - now
            self._set_interest(self._wanted())
            for fd, events in self._poll(timeout):
                if fd == self.wake_r:
                    self._drain_wakeups()
                    self._reap()
                    continue
                if fd in self.outputs and events & ~_POLLOUT:
                    self._on_output_ready(fd)
                if fd == self.stdin_fd and (events & _POLLOUT or fd not in self.outputs):
                    self._flush_stdin()  # a pipe's POLLERR too: the write reports EPIPE
                if self.listener is not None and fd == self.listener.fileno():
                    self._accept_clients()
                client = self.clients.get(fd)
                if client is not None:
                    if events & _POLLOUT:
                        self._flush_client(client)
                    if fd in self.clients and events & ~_POLLOUT:
                        self._on_client_readable(client)

    def _wanted(self) -> dict[int, int]:
        wanted = {self.wake_r: _POLLIN}
        if self.listener is not None:
            wanted[self.listener.fileno()] = _POLLIN
        for fd in self.outputs:
            wanted[fd] = _POLLIN
        if self.stdin_fd >= 0 and self.stdin_buf:
            wanted[self.stdin_fd] = wanted.get(self.stdin_fd, 0) | _POLLOUT
        stdin_full = len(self.stdin_buf) >= STDIN_BUFFER_LIMIT
        for fd, client in self.clients.items():
            mask = 0 if stdin_full and client.stdin and not client.stdin_done else _POLLIN
            if client.out:
                mask |= _POLLOUT
            wanted[fd] = mask
        return wanted

    def _set_interest(self, wanted: dict[int, int]) -> None:
        registered = self.registered
        for fd in [fd for fd in registered if fd not in wanted]:
            self.poll.unregister(fd)
            del registered[fd]
        for fd, mask in wanted.items():
            old = registered.get(fd)
            if old is None:
                self.poll.register(fd, mask)
            elif old != mask:
                self.poll.modify(fd, mask)
            registered[fd] = mask

    def _poll(self, timeout: float | None) -> list[tuple[int, int]]:
        return self.poll.poll(None if timeout is None else max(0, int(timeout * 1000) + 1))

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.container_pid and pid == self.container_pid:
                self._container_exited(status)
            elif not self.container_pid:
                self.reaped[pid] = status

    def _container_exited(self, status: int) -> None:
        if self.exit is not None:
            return
        code = os.waitstatus_to_exitcode(status)
        if code < 0:
            self.exit = (128 - code, -code, time.time_ns())
        else:
            self.exit = (code, None, time.time_ns())

    # --- output ---

    def _on_output_ready(self, fd: int) -> None:
        data = _read(fd)
        if data is None:
            return
        if not data:
            self._close_output(fd)
            return
        self._output(self.outputs[fd], data, time.time_ns())

    def _close_output(self, fd: int) -> None:
        del self.outputs[fd]
        if fd == self.master:
            # The slave side is gone: nobody can read stdin any more either.
            self.stdin_fd = -1
            self.stdin_buf.clear()
        os.close(fd)

    def _output(self, kind: int, data: bytes, time_ns: int) -> None:
        self.last_output = time.monotonic()
        if self.log is not None:
            self.log.write("stdout" if kind == KIND_STDOUT else "stderr", data, time_ns)
        if not self.clients:
            return
        frame = pack_frame(kind, data)
        for client in list(self.clients.values()):
            if client.stdout if kind == KIND_STDOUT else client.stderr:
                self._send(client, frame)

    # --- stdin ---

    def _flush_stdin(self) -> None:
        while self.stdin_buf and self.stdin_fd >= 0:
            try:
                written = os.write(self.stdin_fd, self.stdin_buf[:READ_SIZE])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # The container closed its stdin: what is left can never be delivered.
                self.stdin_buf.clear()
                self._close_stdin_now()
                return
            del self.stdin_buf[:written]
        if self.stdin_closing and not self.stdin_buf:
            self._close_stdin_now()

    def _close_stdin(self) -> None:
        self.stdin_closing = True
        self._flush_stdin()

    def _close_stdin_now(self) -> None:
        fd, self.stdin_fd = self.stdin_fd, -1
        # With a tty there is no EOF to give: the master is the output too.
        if fd >= 0 and fd != self.master:
            os.close(fd)

    # --- clients ---

    def _accept_clients(self) -> None:
        assert self.listener is not None
        while True:
            try:
                fd, _addr = self.listener._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of fds: leave it in the backlog for later
            sock = _socket.socket(fileno=fd)
            sock.setblocking(False)
            self.clients[fd] = _Client(sock)

    def _on_client_readable(self, client: _Client) -> None:
        try:
            data = client.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        try:
            for kind, payload in client.decoder.feed(data):
                self._on_frame(client, kind, payload)
        except ProtocolError:
            self._drop(client)

    def _on_frame(self, client: _Client, kind: int, payload: bytes) -> None:
        if not client.hello:
            if kind != KIND_HELLO:
                raise ProtocolError("the first frame must be HELLO")
            stdin, client.stdout, client.stderr = decode_hello(payload)
            client.stdin = stdin and self.config.open_stdin
            client.hello = True
        elif kind == KIND_STDIN:
            if client.stdin and not client.stdin_done and self.stdin_fd >= 0:
                if not self.stdin_closing:
                    self.stdin_buf += payload
                    self._flush_stdin()
        elif kind == KIND_STDIN_CLOSE:
            self._client_stdin_done(client)
        elif kind == KIND_RESIZE:
            height, width = decode_resize(payload)
            if self.master >= 0:
                _set_window_size(self.master, height, width)
        elif kind != KIND_HELLO:
            raise ProtocolError(f"frame kind {kind} is not sent by clients")

    def _client_stdin_done(self, client: _Client) -> None:
        if not client.stdin or client.stdin_done:
            return
        client.stdin_done = True
        if self.config.stdin_once and not self.stdin_once_used:
            self.stdin_once_used = True
            self._close_stdin()

    def _send(self, client: _Client, frame: bytes) -> None:
        if client.out:
            client.out += frame
            if len(client.out) > CLIENT_BUFFER_LIMIT:
                self._drop(client)
            return
        try:
            sent = client.sock.send(frame, _SEND_FLAGS)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(client)
            return
        if sent < len(frame):
            client.out += frame[sent:]

    def _flush_client(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.out[: 4 * READ_SIZE], _SEND_FLAGS)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client)
            return
        del client.out[:sent]

    def _drop(self, client: _Client) -> None:
        if self.clients.pop(client.fd, None) is None:
            return
        client.sock.close()
        self._client_stdin_done(client)

    def _send_exit(self, client: _Client, frame: bytes) -> None:
        if client.hello and not client.exit_sent:
            client.exit_sent = True
            self._send(client, frame)

    # --- the end ---

    def finish(self) -> None:
        assert self.exit is not None
        code, signal, time_ns = self.exit
        record = encode_exit(code, format_timestamp(time_ns), signal)
        _write_atomically(self.config.exit_file, record + b"\n")
        exit_frame = pack_frame(KIND_EXIT, record)
        if self.log is not None:
            self.log.close()
        # Unlink first, so that a late client fails to connect and reads the exit file.
        _unlink(self.config.attach_socket)
        if self.listener is not None:
            self._accept_clients()
            self.listener.close()
            self.listener = None
        for client in list(self.clients.values()):
            self._send_exit(client, exit_frame)
        deadline = time.monotonic() + FINAL_FLUSH
        while True:
            pending = {fd: c for fd, c in self.clients.items() if c.out or not c.hello}
            now = time.monotonic()
            if not pending or now >= deadline:
                break
            self._set_interest({fd: (_POLLOUT if c.out else _POLLIN) for fd, c in pending.items()})
            for fd, events in self._poll(deadline - now):
                client = self.clients.get(fd)
                if client is None:
                    continue
                if events & _POLLOUT:
                    self._flush_client(client)
                elif fd in self.clients:
                    # A client still saying HELLO gets its EXIT once it has.
                    self._on_client_readable(client)
                    if fd in self.clients:
                        self._send_exit(client, exit_frame)
        for client in list(self.clients.values()):
            client.sock.close()
        self.clients.clear()

    def cleanup_failed_launch(self) -> None:
        for path in (self.config.attach_socket, self.config.console_socket, self.config.pid_file):
            if path:
                _unlink(path)
        _unlink(os.path.join(self.state_dir, "monitor.pid"))

    def close_listeners(self) -> None:
        if self.console_listener is not None:
            self.console_listener.close()
            self.console_listener = None
            _unlink(str(self.config.console_socket))


def _on_sigchld(signum: int, frame: object) -> None:
    """Nothing to do here: the wakeup fd tells the poll loop to reap."""


def _set_child_subreaper() -> None:
    # The container's init is the runtime's child: when the runtime exits, it must be
    # re-parented to us (not to PID 1) so that we can wait for it.
    try:
        import _ctypes

        libc = _ctypes.dlopen(None)
        result = _ctypes.call_function(
            _ctypes.dlsym(libc, "prctl"), (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        )
    except (ImportError, AttributeError, OSError):
        import ctypes  # the private API moved: pay for the full module

        result = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if result != 0:
        raise OSError("prctl(PR_SET_CHILD_SUBREAPER) failed")


def _listen(path: str) -> _socket.socket:
    _unlink(path)
    sock = _socket.socket(
        _socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK
    )
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(64)
    return sock


def _read(fd: int) -> bytes | None:
    """Bytes read, ``b""`` at end of file (or EIO from a pty master), None if nothing yet."""
    try:
        return os.read(fd, READ_SIZE)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def _set_window_size(fd: int, height: int, width: int) -> None:
    import fcntl

    try:
        import termios

        request = termios.TIOCSWINSZ
    except (ImportError, AttributeError):
        request = TIOCSWINSZ_FALLBACK
    try:
        fcntl.ioctl(fd, request, _struct.pack("HHHH", height, width, 0, 0))
    except OSError:
        pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _launch_error(
    stderr_tail: bytes, runtime_log: str, offset: int, status: int, program: str
) -> str:
    """The runtime's own one-line error: its --log (JSON) if it wrote one, else its stderr."""
    message = ""
    try:
        with open(runtime_log, "rb") as f:
            f.seek(offset)
            for line in f.read().splitlines():
                try:
                    entry = json_loads(line)
                except ValueError:
                    continue
                if (
                    isinstance(entry, dict)
                    and entry.get("level") in ("error", "fatal", "panic")
                    and isinstance(entry.get("msg"), str)
                ):
                    message = str(entry["msg"])
    except OSError:
        pass
    if not message:
        for raw in reversed(stderr_tail.decode("utf-8", "replace").splitlines()):
            line = raw.strip()
            if line:
                message = _logrus_message(line)
                break
    if not message:
        code = os.waitstatus_to_exitcode(status)
        how = f"signal {-code}" if code < 0 else f"status {code}"
        message = f"{os.path.basename(program)} exited with {how}"
    message = " ".join(message.split())
    return message if len(message) <= 1000 else message[:997] + "..."


def _logrus_message(line: str) -> str:
    """``msg="..."`` out of a logrus text line (runc without --log-format json)."""
    start = line.find(' msg="')
    if not line.startswith("time=") or start < 0:
        return line
    out = []
    i = start + 6
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
            continue
        if char == '"':
            break
        out.append(char)
        i += 1
    return "".join(out)


def _report_crash(state_dir: str, ready_fd: int) -> None:
    import traceback

    text = traceback.format_exc()
    try:
        _write_atomically(os.path.join(state_dir, "monitor.log"), text.encode())
    except OSError:
        pass
    if ready_fd >= 0:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        _send_ready(ready_fd, {"ok": False, "error": f"container monitor failed: {last}"})


def _send_ready(ready_fd: int, message: dict[str, object]) -> None:
    try:
        os.write(ready_fd, json_dumps(message).encode() + b"\n")
    except OSError:
        pass  # the engine went away; the container goes on regardless
    try:
        os.close(ready_fd)
    except OSError:
        pass


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        return 2
    config_path = os.path.abspath(argv[1])
    state_dir = os.path.dirname(config_path)
    ready_fd = -1
    try:
        with open(config_path, "rb") as f:
            config = MonitorConfig(json_loads(f.read()))
        ready_fd = config.ready_fd
        os.set_inheritable(ready_fd, False)
        if os.fork():
            os._exit(0)  # the engine waits for this; the monitor goes on, nobody's child
        _write_atomically(os.path.join(state_dir, "monitor.pid"), b"%d\n" % os.getpid())
        monitor = Monitor(config, state_dir)
    except Exception:
        _report_crash(state_dir, ready_fd)
        return 1
    try:
        monitor.setup()
        pid = monitor.launch()
    except LaunchError as exc:
        monitor.close_listeners()
        monitor.cleanup_failed_launch()
        _send_ready(ready_fd, {"ok": False, "error": str(exc)})
        return 1
    except Exception:
        monitor.close_listeners()
        monitor.cleanup_failed_launch()
        _report_crash(state_dir, ready_fd)
        return 1
    monitor.close_listeners()
    _send_ready(ready_fd, {"ok": True, "pid": pid, "monitor_pid": os.getpid()})
    try:
        monitor.serve()
        monitor.finish()
    except Exception:
        _report_crash(state_dir, -1)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
