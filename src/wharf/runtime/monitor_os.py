"""The monitor's contact with the OS: prctl, sockets, ptys, atomic files, the ready pipe,
and reading the runtime's own error messages. Standard library only, imported lazily where
a module is costly (the monitor's memory is measured per container).
"""

from __future__ import annotations

import _socket
import _struct
import posix

from wharf.runtime.monitor_protocol import json_dumps, json_loads

PR_SET_CHILD_SUBREAPER = 36
TIOCSWINSZ_FALLBACK = 0x5414
READ_SIZE = 65536


def set_child_subreaper() -> None:
    # The container's init is the runtime's child: when the runtime exits, it must be
    # re-parented to us (not to PID 1) so that we can wait for it.
    try:
        import _ctypes

        libc = _ctypes.dlopen(None)  # type: ignore[arg-type]
        result = _ctypes.call_function(
            _ctypes.dlsym(libc, "prctl"), (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        )
    except (ImportError, AttributeError, OSError):
        import ctypes  # the private API moved: pay for the full module

        result = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if result != 0:
        raise OSError("prctl(PR_SET_CHILD_SUBREAPER) failed")


def exists(pid: int) -> bool:
    try:
        posix.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def listen(path: str) -> _socket.socket:
    unlink(path)
    sock = _socket.socket(
        _socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK
    )
    sock.bind(path)
    posix.chmod(path, 0o600)
    sock.listen(64)
    return sock


def read(fd: int) -> bytes | None:
    """Bytes read, ``b""`` at end of file (or EIO from a pty master), None if nothing yet."""
    try:
        return posix.read(fd, READ_SIZE)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def set_window_size(fd: int, height: int, width: int) -> None:
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


def unlink(path: str) -> None:
    try:
        posix.unlink(path)
    except OSError:
        pass


def write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.{posix.getpid()}.tmp"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, 0o644)
    try:
        posix.write(fd, data)
    finally:
        posix.close(fd)
    posix.rename(tmp, path)


def launch_error(
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
            if raw.strip():
                message = logrus_message(raw.strip())
                break
    if not message:
        code = posix.waitstatus_to_exitcode(status)
        how = f"signal {-code}" if code < 0 else f"status {code}"
        message = f"{program.rpartition('/')[2]} exited with {how}"
    message = " ".join(message.split())
    return message if len(message) <= 1000 else message[:997] + "..."


def logrus_message(line: str) -> str:
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


def report_crash(state_dir: str, ready_fd: int) -> None:
    import traceback

    text = traceback.format_exc()
    try:
        write_atomically(f"{state_dir}/monitor.log", text.encode())
    except OSError:
        pass
    if ready_fd >= 0:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        send_ready(ready_fd, {"ok": False, "error": f"container monitor failed: {last}"})


def send_ready(ready_fd: int, message: dict[str, object]) -> None:
    """Report to the engine, which reads until the pipe closes.

    A success closes the pipe now; a failure leaves it to our exit, so the engine's
    ``spawn_monitor`` returns only once this process is gone.
    """
    try:
        posix.write(ready_fd, json_dumps(message).encode() + b"\n")
    except OSError:
        pass  # the engine went away; the container goes on regardless
    if message.get("ok") is True:
        try:
            posix.close(ready_fd)
        except OSError:
            pass
