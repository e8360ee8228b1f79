"""The monitor process: one per container or exec process (the role of conmon / containerd-shim).

Started through monitor.py (``python3 -I -S monitor.py <state_dir>/monitor.json``; read that
module for why the entry point is a separate tiny file). It owns the container's stdio
(pipes, or a pty master received from the runtime), runs the runtime's launch command
(``runc create`` / ``runc exec --detach``), writes the json-file log (monitor_logfile.py),
serves attach clients (monitor_protocol.py), reaps the container and records its exit. It
keeps running when wharfd stops: nothing here depends on the engine being alive.

Imports: the standard library only, and only its cheapest modules (``posix``, ``select``,
``time``, ``_socket``, ``_struct``, ``_signal``; ``fcntl``, ``termios`` and ``_ctypes``
lazily): every idle container pays for what this module imports (``os`` costs 250 KB; the
pure Python ``socket`` and ``signal`` pull in ``enum``). Of wharf: the other ``monitor_*``
modules.

The state directory (owned by the engine; the monitor writes only the files marked *)::

    <state_dir>/
      monitor.json     the configuration (monitor_config.py; written by the engine)
      monitor.pid    * the monitor's pid, for finding it again after a wharfd restart
      monitor.log    * a crash report, only if the monitor itself failed
      runtime.log      the runtime's --log file, if the launch argv asks for one

Lifecycle:

1. Detach (fork; the parent exits at once, so the monitor is nobody's child), become a child
   subreaper, ignore SIGTERM/SIGINT/SIGHUP (the engine stops containers through the runtime),
   listen on ``attach_socket`` (and on ``console_socket`` with a tty).
2. Run ``launch_argv`` with the container's stdio as pass-through pipes, or with /dev/null
   and an error pipe when there is a tty (the runtime sends the pty master over
   ``console_socket``).
3. Launch failed: write ``{"ok": false, "error": "<one line>"}`` to the ready fd, remove the
   sockets and pid files, exit 1. Launch succeeded: read the pid from ``pid_file``, write
   ``{"ok": true, "pid": N, "monitor_pid": M}`` and close the ready fd.
4. Loop: output -> log and attached clients; client stdin -> container. With ``stdin_once``
   the first stdin client to send STDIN_CLOSE (or to disconnect) closes the container's
   stdin. A client whose unsent output passes ``CLIENT_BUFFER_LIMIT`` is dropped: a slow
   reader never blocks the container or the log.
5. The container's pid exits (the runtime's process exits first, so the container is
   re-parented to us): drain its output for a short bounded time, write ``exit_file``
   atomically, send EXIT to every client, remove the attach socket, exit 0. A death by
   signal N is exit code 128+N, as Docker reports it.
"""

from __future__ import annotations

import _socket
import _struct
import posix
import select
import time

from wharf.runtime.monitor_config import MonitorSettings
from wharf.runtime.monitor_logfile import JsonLogWriter, format_timestamp
from wharf.runtime.monitor_os import (
    exists,
    launch_error,
    listen,
    read,
    report_crash,
    send_ready,
    set_child_subreaper,
    set_window_size,
    unlink,
    write_atomically,
)
from wharf.runtime.monitor_protocol import (
    KIND_EXIT,
    KIND_HELLO,
    KIND_RESIZE,
    KIND_STDERR,
    KIND_STDIN,
    KIND_STDIN_CLOSE,
    KIND_STDOUT,
    FrameDecoder,
    ProtocolError,
    decode_hello,
    decode_resize,
    encode_exit,
    json_loads,
    pack_frame,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Sequence
else:
    import _signal

LAUNCH_TIMEOUT = 25.0  # below the engine's 30 s, so the engine hears our error, not a timeout
CONSOLE_GRACE = 5.0  # after the runtime exits, how long its console connection may lag
DRAIN_LIMIT = 2.0  # after the container exits, the longest we wait for its output to end
DRAIN_QUIET = 0.2  # ...and how long the output may stay silent before we stop waiting
HOLD_LIMIT = 10.0  # with hold_output, how long output waits for its first client
CLIENT_BUFFER_LIMIT = 4 << 20  # unsent output per client before we drop it
STDIN_BUFFER_LIMIT = 1 << 20  # unwritten stdin before we stop reading from stdin clients
FINAL_FLUSH = 1.0  # how long clients get to read their EXIT frame
READ_SIZE = 65536
LOST_EXIT_CODE = 255  # the process's status could not be known (Docker's answer too)
ERROR_TAIL = 8192
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
    """One container's supervisor: ``setup()``, ``launch()``, ``serve()``, ``finish()``."""

    def __init__(self, config: MonitorSettings, state_dir: str) -> None:
        self.config = config
        self.state_dir = state_dir
        self.poll = select.poll()
        self.registered: dict[int, int] = {}
        self.wake_r, self.wake_w = posix.pipe2(posix.O_NONBLOCK | posix.O_CLOEXEC)
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
        self.hold_until = 0.0  # with hold_output: output stays in the pipe until then
        self.held: list[tuple[int, bytes]] = []  # read while launching, kept for the client

    # --- set-up and launch ---

    def setup(self) -> None:
        for signum in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
            _signal.signal(signum, _signal.SIG_IGN)
        _signal.signal(_signal.SIGCHLD, _on_sigchld)
        _signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        set_child_subreaper()
        self.listener = listen(self.config.attach_socket)
        if self.config.tty:
            self.console_listener = listen(str(self.config.console_socket))

    def launch(self) -> int:
        """Run the launch argv; returns the container pid or raises LaunchError."""
        config = self.config
        runtime_log = f"{self.state_dir}/runtime.log"
        try:
            runtime_log_offset = posix.stat(runtime_log).st_size
        except OSError:
            runtime_log_offset = 0
        devnull = posix.open("/dev/null", posix.O_RDWR | posix.O_CLOEXEC)
        child_fds = [devnull]
        pre_output: list[tuple[int, bytes]] = []
        error_tail = bytearray()
        if config.tty:
            err_r, err_w = posix.pipe()
            child_fds.append(err_w)
            stdio = (devnull, err_w, err_w)
            launch_outputs = {err_r: KIND_STDERR}
        else:
            out_r, out_w = posix.pipe()
            err_r, err_w = posix.pipe()
            child_fds += [out_w, err_w]
            stdin_child = devnull
            if config.open_stdin:
                stdin_child, self.stdin_fd = posix.pipe()
                child_fds.append(stdin_child)
                posix.set_blocking(self.stdin_fd, False)
            stdio = (stdin_child, out_w, err_w)
            launch_outputs = {out_r: KIND_STDOUT, err_r: KIND_STDERR}
        for fd in launch_outputs:
            posix.set_blocking(fd, False)
        try:
            launch_pid = posix.posix_spawnp(
                config.launch_argv[0],
                config.launch_argv,
                posix.environ,
                file_actions=[(posix.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(stdio)],
                setsigdef=_DEFAULT_SIGNALS,
            )
        except OSError as exc:
            for fd in [*child_fds, *launch_outputs]:
                posix.close(fd)
            raise LaunchError(f"cannot run {config.launch_argv[0]}: {exc.strerror}") from None
        for fd in child_fds:
            posix.close(fd)

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
                posix.kill(launch_pid, _signal.SIGKILL)
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
                launch_error(
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
                posix.close(fd)
            self.outputs = {self.master: KIND_STDOUT}
            if config.open_stdin:
                self.stdin_fd = self.master
        else:
            self.outputs = open_outputs
            for fd in launch_outputs:
                if fd not in open_outputs:
                    posix.close(fd)
        if config.log_path is not None:
            self.log = JsonLogWriter(
                config.log_path, max_size=config.log_max_size, max_files=config.log_max_files
            )
        now_ns = time.time_ns()
        if config.hold_output:
            # A fast exec may have written everything already: keep it for its client.
            self.held = pre_output
        else:
            for kind, data in pre_output:
                self._output(kind, data, now_ns)
        status = self.reaped.pop(pid, None)
        self.reaped.clear()
        if status is not None:
            self._container_exited(status)
        elif not exists(pid):
            # Reaped by someone else (a runtime that waits for it): its status is lost.
            self.exit = (LOST_EXIT_CODE, None, time.time_ns())
        return pid

    def _read_launch_output(
        self,
        fd: int,
        open_outputs: dict[int, int],
        pre_output: list[tuple[int, bytes]],
        error_tail: bytearray,
    ) -> bool:
        """Read once from a launch-time pipe; False when it had nothing (more) to give."""
        data = read(fd)
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
                    posix.set_blocking(received, False)
                else:
                    posix.close(received)

    # --- the main loop ---

    def _holding(self) -> bool:
        """True while output waits for the first stdout/stderr client (exec)."""
        if not self.hold_until:
            return False
        if time.monotonic() >= self.hold_until or any(
            c.hello and (c.stdout or c.stderr) for c in self.clients.values()
        ):
            self.hold_until = 0.0
            held, self.held = self.held, []
            now_ns = time.time_ns()
            for kind, data in held:
                self._output(kind, data, now_ns)
            return False
        return True

    def serve(self) -> None:
        """Run until the container has exited and its output has ended (or gone quiet)."""
        exited_at = 0.0
        if self.config.hold_output:
            self.hold_until = time.monotonic() + HOLD_LIMIT
        while True:
            timeout: float | None = None
            if self._holding():
                timeout = max(0.0, self.hold_until - time.monotonic())
            elif self.exit is not None:
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
        if not self._holding():
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
            while posix.read(self.wake_r, 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = posix.waitpid(-1, posix.WNOHANG)
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
        code = posix.waitstatus_to_exitcode(status)
        if code < 0:
            self.exit = (128 - code, -code, time.time_ns())
        else:
            self.exit = (code, None, time.time_ns())

    # --- output ---

    def _on_output_ready(self, fd: int) -> None:
        data = read(fd)
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
        posix.close(fd)

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
                written = posix.write(self.stdin_fd, self.stdin_buf[:READ_SIZE])
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
            posix.close(fd)

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
            # The acknowledgement: from here on the client gets every byte of output, so a
            # start that waits for it cannot lose the first lines to this poll loop's order.
            self._send(client, pack_frame(KIND_HELLO))
        elif kind == KIND_STDIN:
            open_for_client = client.stdin and not client.stdin_done and not self.stdin_closing
            if open_for_client and self.stdin_fd >= 0:
                self.stdin_buf += payload
                self._flush_stdin()
        elif kind == KIND_STDIN_CLOSE:
            self._client_stdin_done(client)
        elif kind == KIND_RESIZE:
            height, width = decode_resize(payload)
            if self.master >= 0:
                set_window_size(self.master, height, width)
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
        write_atomically(self.config.exit_file, record + b"\n")
        exit_frame = pack_frame(KIND_EXIT, record)
        if self.log is not None:
            self.log.close()
        # Unlink first, so that a late client fails to connect and reads the exit file.
        unlink(self.config.attach_socket)
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
                late = self.clients.get(fd)
                if late is None:
                    continue
                if events & _POLLOUT:
                    self._flush_client(late)
                else:
                    # A client still saying HELLO gets its EXIT once it has.
                    self._on_client_readable(late)
                    self._send_exit(late, exit_frame)
        for client in list(self.clients.values()):
            client.sock.close()
        self.clients.clear()

    def cleanup_failed_launch(self) -> None:
        for path in (self.config.attach_socket, self.config.console_socket, self.config.pid_file):
            if path:
                unlink(path)
        unlink(f"{self.state_dir}/monitor.pid")

    def close_listeners(self) -> None:
        if self.console_listener is not None:
            self.console_listener.close()
            self.console_listener = None
            unlink(str(self.config.console_socket))


def _on_sigchld(signum: int, frame: object) -> None:
    """Nothing to do here: the wakeup fd tells the poll loop to reap."""


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        return 2
    config_path = argv[1] if argv[1].startswith("/") else f"{posix.getcwd()}/{argv[1]}"
    state_dir = config_path.rpartition("/")[0] or "/"
    ready_fd = -1
    try:
        with open(config_path, "rb") as f:
            config = MonitorSettings(json_loads(f.read()))
        ready_fd = config.ready_fd
        posix.set_inheritable(ready_fd, False)
        if posix.fork():
            posix._exit(0)  # the engine waits for this; the monitor goes on, nobody's child
        write_atomically(f"{state_dir}/monitor.pid", b"%d\n" % posix.getpid())
        monitor = Monitor(config, state_dir)
    except Exception:
        report_crash(state_dir, ready_fd)
        return 1
    try:
        monitor.setup()
        pid = monitor.launch()
    except LaunchError as exc:
        monitor.close_listeners()
        monitor.cleanup_failed_launch()
        send_ready(ready_fd, {"ok": False, "error": str(exc)})
        return 1
    except Exception:
        monitor.close_listeners()
        monitor.cleanup_failed_launch()
        report_crash(state_dir, ready_fd)
        return 1
    monitor.close_listeners()
    send_ready(ready_fd, {"ok": True, "pid": pid, "monitor_pid": posix.getpid()})
    try:
        monitor.serve()
        monitor.finish()
    except Exception:
        report_crash(state_dir, -1)
        return 1
    return 0
