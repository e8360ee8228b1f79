"""Attached sessions (``run`` in the foreground, ``start -a``, ``attach``, ``exec``) and the
``attach`` command.

A session copies the local terminal to a hijacked connection (``client.streams.pump``) with the
docker CLI's terminal handling around it:

- With a TTY and stdin attached from a terminal, the terminal is put in raw mode for the
  session (restored however it ends) and the detach keys (default ctrl-p ctrl-q) are watched
  for in the input; typing them ends the session and leaves the container running.
- With a TTY and stdout a terminal, the container's pty is resized to ours when the session
  starts and on every SIGWINCH.
- Without a TTY and with ``--sig-proxy`` (the default), SIGINT, SIGTERM, SIGHUP, SIGQUIT,
  SIGUSR1 and SIGUSR2 are forwarded to the container (``POST /containers/{id}/kill?signal=INT``)
  instead of stopping the CLI.

Signals are caught with no-op handlers whose numbers reach the pump through
``signal.set_wakeup_fd``, so resizes and forwards run on the main thread between copies.
``Terminal`` is the seam to the real terminal; tests give sessions a fake one.

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

import click

from wharf.cli.command import CliError, docker_command, err
from wharf.cli.state import CliState, state
from wharf.client.containers import WaitCondition, WaitHandle
from wharf.client.errors import DaemonError
from wharf.client.streams import (
    DEFAULT_DETACH_KEYS,
    Connection,
    PumpEnd,
    Sink,
    input_fd,
    parse_detach_keys,
    pump,
)
from wharf.errdefs import InvalidArgument, WharfError

FORWARDED_SIGNALS = ("HUP", "INT", "QUIT", "TERM", "USR1", "USR2")
ESCAPE_MESSAGE = "read escape sequence"

Resize = Callable[[int, int], None]


class Terminal:
    """The process's terminal: stdin for raw mode, stdout for the size."""

    def __init__(self, stdin_fd: int | None = None, stdout_fd: int | None = None) -> None:
        self.stdin_fd = _fd_of(sys.stdin) if stdin_fd is None else stdin_fd
        self.stdout_fd = _fd_of(sys.stdout) if stdout_fd is None else stdout_fd

    def size(self) -> tuple[int, int] | None:
        """(height, width) of the terminal on stdout, or None when it is not one."""
        if self.stdout_fd < 0 or not os.isatty(self.stdout_fd):
            return None
        try:
            columns, lines = os.get_terminal_size(self.stdout_fd)
        except OSError:
            return None
        return lines, columns

    @contextlib.contextmanager
    def raw(self) -> Iterator[None]:
        """Raw mode on stdin while the block runs, when stdin is a terminal."""
        fd = self.stdin_fd
        if fd < 0 or not os.isatty(fd):
            yield
            return
        import termios
        import tty

        saved = termios.tcgetattr(fd)
        tty.setraw(fd, termios.TCSANOW)
        try:
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _fd_of(stream: object) -> int:
    try:
        fileno = getattr(stream, "fileno", None)
        return int(fileno()) if fileno is not None else -1
    except (OSError, ValueError):
        return -1


def console_size(cli_state: CliState, terminal: Terminal) -> tuple[int, int]:
    """What docker sends as ``ConsoleSize``: the terminal's size, (0, 0) when not a terminal."""
    if not cli_state.stdout_isatty():
        return 0, 0
    return terminal.size() or (0, 0)


def check_tty(cli_state: CliState, *, attach_stdin: bool, tty: bool) -> None:
    """Docker refuses ``-it`` when stdin is not a terminal."""
    if tty and attach_stdin and not cli_state.stdin_isatty():
        raise CliError("the input device is not a TTY")


def detach_sequence(spec: str) -> bytes:
    """The detach keys to watch for; an invalid spec falls back to ctrl-p ctrl-q as docker's."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    try:
        return parse_detach_keys(spec)
    except InvalidArgument:
        return DEFAULT_DETACH_KEYS


class SessionIO(NamedTuple):
    """The local ends of a session; ``stdin`` is None when it is not attached."""

    stdin: IO[bytes] | int | None
    stdout: Sink | None
    stderr: Sink | None


def process_io(*, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> SessionIO:
    """The process's own streams; with a TTY the container's stderr arrives on stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    out = sys.stdout.buffer if stdout else None
    err = (sys.stdout.buffer if tty else sys.stderr.buffer) if stderr else None
    return SessionIO(sys.stdin.buffer if stdin else None, out, err)


@contextlib.contextmanager
def _caught_signals(numbers: list[int]) -> Iterator[int | None]:
    """Catch ``numbers`` for the block; yield the fd their numbers are written to."""
    if not numbers or threading.current_thread() is not threading.main_thread():
        yield None
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    previous = {number: signal.getsignal(number) for number in numbers}
    old_wakeup = -1
    try:
        for number in numbers:
            signal.signal(number, lambda _signum, _frame: None)
        old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        yield read_fd
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for number, handler in previous.items():
            signal.signal(number, handler)
        os.close(read_fd)
        os.close(write_fd)


def resize_with_retries(resize: Resize, height: int, width: int, *, attempts: int = 10) -> None:
    """The first resize can race the process's start (exec): retry briefly, as docker does."""
    for attempt in range(attempts):
        try:
            resize(height, width)
            return
        except WharfError:
            time.sleep(0.01 * (attempt + 1))


def run_session(
    conn: Connection,
    io: SessionIO,
    *,
    tty: bool,
    detach_keys: str = "",
    terminal: Terminal | None = None,
    resize: Resize | None = None,
    forward: Callable[[str], None] | None = None,
    nudge_size: bool = False,
) -> PumpEnd:
    """Pump ``conn`` until its output ends or the user detaches; see the module docstring.

    ``resize`` is called with our terminal's size at the start (after a one-larger size when
    ``nudge_size``, which makes a shell redraw its prompt on re-attach) and on SIGWINCH.
    ``forward`` receives the names of signals to proxy.
    """
    term = terminal if terminal is not None else Terminal()
    size = term.size() if resize is not None else None
    watch: dict[int, str] = {}
    if resize is not None and size is not None:
        watch[signal.SIGWINCH] = "WINCH"
    if forward is not None:
        for name in FORWARDED_SIGNALS:
            watch[signal.Signals[f"SIG{name}"]] = name

    def on_signals(data: bytes) -> None:
        for number in data:
            name = watch.get(number)
            if name == "WINCH" and resize is not None:
                current = term.size()
                if current is not None:
                    with contextlib.suppress(WharfError):
                        resize(*current)
            elif name is not None and forward is not None:
                with contextlib.suppress(WharfError):
                    forward(name)

    keys = detach_sequence(detach_keys) if tty and io.stdin is not None else b""
    raw = term.raw() if tty and io.stdin is not None else contextlib.nullcontext()
    with _caught_signals(list(watch)) as control_fd, input_fd(io.stdin) as stdin_fd, raw:
        if resize is not None and size is not None:
            if nudge_size:
                resize_with_retries(resize, size[0] + 1, size[1] + 1)
            resize_with_retries(resize, *size)
        return pump(
            conn,
            stdin=stdin_fd,
            stdout=io.stdout,
            stderr=io.stderr,
            tty=tty,
            detach_keys=keys,
            control_fd=control_fd,
            on_control=on_signals,
        )


def exit_status(waiter: WaitHandle) -> int:
    """The container's exit code from a pending wait; 125 when the wait itself failed."""
    try:
        result = waiter.result()
    except WharfError as exc:
        err(f"error waiting for container: {exc.message}")
        return 125
    if result.error:
        err(f"error waiting for container: {result.error}")
        return 125
    return result.status_code


# --- ``attach``


def _check_state(cli_state: CliState, container: str) -> tuple[str, bool, bool]:
    inspected = cli_state.client().container_inspect(container)
    current = inspected.state
    if not current.running:
        raise CliError("cannot attach to a stopped container, start it first")
    if current.paused:
        raise CliError("cannot attach to a paused container, unpause it first")
    if current.restarting:
        raise CliError("cannot attach to a restarting container, wait until it is running")
    return inspected.id, inspected.tty, inspected.open_stdin


@docker_command(
    usage="[OPTIONS] CONTAINER",
    help="Attach local standard input, output, and error streams to a running container",
    aliases=("wharf container attach", "wharf attach"),
    min_args=1,
    max_args=1,
)
@click.option(
    "--detach-keys",
    default="",
    metavar="string",
    help="Override the key sequence for detaching a container",
)
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option(
    "--sig-proxy", is_flag=True, default=True, help="Proxy all received signals to the process"
)
def attach_command(args: tuple[str, ...], detach_keys: str, no_stdin: bool, sig_proxy: bool) -> int:
    cli_state = state()
    client = cli_state.client()
    container = args[0]
    waiter = client.container_wait(container, WaitCondition.NOT_RUNNING)
    try:
        container_id, tty, open_stdin = _check_state(cli_state, container)
        check_tty(cli_state, attach_stdin=not no_stdin, tty=tty)
        with_stdin = not no_stdin and open_stdin
        conn = client.container_attach(
            container_id, stdin=with_stdin, stdout=True, stderr=True, detach_keys=detach_keys
        )
    except BaseException:
        waiter.close()
        raise
    try:
        _check_state(cli_state, container_id)
        terminal = Terminal()
        resize: Resize | None = None
        if tty and cli_state.stdout_isatty():

            def resize(height: int, width: int) -> None:
                client.container_resize(container_id, height=height, width=width)

        forward = None
        if sig_proxy and not tty:

            def forward(name: str) -> None:
                client.container_kill(container_id, signal=name)

        end = run_session(
            conn,
            process_io(stdin=with_stdin, stdout=True, stderr=True, tty=tty),
            tty=tty,
            detach_keys=detach_keys,
            terminal=terminal,
            resize=resize,
            forward=forward,
            nudge_size=True,
        )
    finally:
        conn.close()
    if end is PumpEnd.DETACHED:
        waiter.close()
        raise CliError(ESCAPE_MESSAGE)
    try:
        result = waiter.result()
    except DaemonError as exc:
        raise CliError(f"Error response from daemon: {exc.message}") from exc
    if result.error:
        raise CliError(result.error)
    return result.status_code
