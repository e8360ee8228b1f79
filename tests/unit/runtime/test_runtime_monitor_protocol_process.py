"""The monitor process end to end, driven through monitor_client, with a fake runtime.

The fake runtime is a small Python script that starts the "container" (a shell command,
or a shell on a new pty it sends to the console socket), writes its pid and exits without
waiting for it, as ``runc create`` does, so the
monitor's launch, subreaping, stdio, log, attach, exit and clean-up paths run without root.
The same paths against real runc are in tests/integration/test_runtime_monitor.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from wharf.errdefs import Conflict, EngineFailure
from wharf.runtime.logs import read_logs
from wharf.runtime.monitor_client import (
    Attachment,
    ExitStatus,
    FrameKind,
    MonitorConfig,
    monitor_alive,
    open_attachment,
    read_exit,
    spawn_monitor,
    wait_for_exit,
)

FAKE_RUNTIME = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", sys.argv[2]])
with open(sys.argv[1], "w") as f:
    f.write(str(pid))
"""

FAKE_TTY_RUNTIME = """
import array, fcntl, os, socket, sys, termios
console, pid_file = sys.argv[1], sys.argv[2]
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp("sh", ["sh", "-i"])
with socket.socket(socket.AF_UNIX) as s:
    s.connect(console)
    s.sendmsg([b"/dev/pts/x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
with open(pid_file, "w") as f:
    f.write(str(pid))
"""


@dataclass
class Box:
    """One fake container's paths."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def log(self) -> Path:
        return self.root / "c-json.log"

    def config(self, launch: list[str], **changes: object) -> MonitorConfig:
        base = MonitorConfig(
            container_id="c1",
            state_dir=self.state,
            launch_argv=tuple(launch),
            pid_file=self.state / "pid",
            tty=False,
            open_stdin=False,
            stdin_once=False,
            log_path=self.log,
            log_max_size=0,
            log_max_files=1,
            console_socket=None,
            attach_socket=self.state / "attach.sock",
            exit_file=self.state / "exit.json",
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def shell(self, command: str) -> list[str]:
        """A fake ``runc create``: start ``command`` with our stdio, write its pid, exit.

        Like runc, it never waits for the process (a shell might reap it first).
        """
        script = self.root / "fake_runtime.py"
        script.write_text(FAKE_RUNTIME)
        return [sys.executable, "-I", "-S", str(script), str(self.state / "pid"), command]

    def tty_runtime(self) -> list[str]:
        script = self.root / "fake_tty_runtime.py"
        script.write_text(FAKE_TTY_RUNTIME)
        return [
            sys.executable,
            str(script),
            str(self.state / "console.sock"),
            str(self.state / "pid"),
        ]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    b = Box(tmp_path)
    b.state.mkdir()
    yield b
    # Every monitor names its state dir on its command line: none may outlive its test.
    deadline = time.monotonic() + 5
    while (left := monitors_in(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"monitors left running: {left}"


def monitors_in(directory: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if b"monitor.py" in cmdline and str(directory).encode() in cmdline:
            found.append(int(entry.name))
    return found


def wait(config: MonitorConfig, timeout: float = 10.0) -> ExitStatus:
    return asyncio.run(
        asyncio.wait_for(wait_for_exit(config.attach_socket, config.exit_file), timeout)
    )


def gone(pid: int, timeout: float = 5.0) -> bool:
    """The process has exited (a zombie waiting for PID 1 to reap it counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def logged(box: Box) -> list[tuple[str, bytes]]:
    return [(e.stream, e.data) for e in read_logs(box.log)]


def test_non_tty_container_logs_both_streams_and_exit_code(box: Box) -> None:
    config = box.config(box.shell("echo out; echo err >&2; exit 3"))
    handle = spawn_monitor(config)
    status = wait(config)
    assert status.exit_code == 3 and status.signal is None
    assert read_exit(config.exit_file) == status
    assert sorted(logged(box)) == [("stderr", b"err\n"), ("stdout", b"out\n")]
    assert gone(handle.monitor_pid)
    assert not config.attach_socket.exists()
    assert json.loads(config.exit_file.read_text())["exit_code"] == 3


def test_stdin_once_closes_stdin_when_the_client_is_done(box: Box) -> None:
    config = box.config(box.shell("cat; echo done"), open_stdin=True, stdin_once=True)
    spawn_monitor(config)
    with Attachment.connect(config.attach_socket, stdin=True, stdout=True, stderr=True) as att:
        att.send_stdin(b"hello\n")
        att.close_stdin()
        frames = []
        while (frame := att.recv_frame()) is not None:
            frames.append(frame)
    out = b"".join(f.payload for f in frames if f.kind is FrameKind.STDOUT)
    assert out == b"hello\ndone\n"
    assert frames[-1].kind is FrameKind.EXIT
    assert frames[-1].exit_status().exit_code == 0


def test_clients_get_only_the_streams_they_asked_for(box: Box) -> None:
    config = box.config(box.shell("read x; echo out; echo err >&2"), open_stdin=True)
    spawn_monitor(config)
    errs = Attachment.connect(config.attach_socket, stdin=False, stdout=False, stderr=True)
    writer = Attachment.connect(config.attach_socket, stdin=True, stdout=True, stderr=False)
    writer.send_stdin(b"go\n")
    kinds: dict[str, list[tuple[FrameKind, bytes]]] = {}
    for name, att in (("errs", errs), ("writer", writer)):
        kinds[name] = []
        while (frame := att.recv_frame()) is not None:
            kinds[name].append(
                (frame.kind, frame.payload if frame.kind is not FrameKind.EXIT else b"")
            )
        att.close()
    assert kinds["errs"] == [(FrameKind.STDERR, b"err\n"), (FrameKind.EXIT, b"")]
    assert kinds["writer"] == [(FrameKind.STDOUT, b"out\n"), (FrameKind.EXIT, b"")]


def test_stdin_without_open_stdin_is_ignored(box: Box) -> None:
    config = box.config(box.shell("sleep 0.3; cat; echo eof"))
    spawn_monitor(config)
    with Attachment.connect(config.attach_socket, stdin=True, stdout=True, stderr=False) as att:
        att.send_stdin(b"ignored\n")
        out = b""
        while (frame := att.recv_frame()) is not None:
            out += frame.payload if frame.kind is FrameKind.STDOUT else b""
    assert out == b"eof\n"  # cat read /dev/null, not our stdin
    assert logged(box) == [("stdout", b"eof\n")]


def test_monitor_ignores_sigterm_and_reports_a_kill_as_137(box: Box) -> None:
    config = box.config(box.shell("exec sleep 30"))
    handle = spawn_monitor(config)
    assert monitor_alive(config.state_dir)
    os.kill(handle.monitor_pid, signal.SIGTERM)
    time.sleep(0.2)
    assert monitor_alive(config.state_dir)
    assert not gone(handle.process_pid, timeout=0)
    os.kill(handle.process_pid, signal.SIGKILL)
    status = wait(config)
    assert (status.exit_code, status.signal) == (137, 9)
    assert gone(handle.monitor_pid)
    assert not monitor_alive(config.state_dir)


def test_a_process_that_exits_before_the_runtime_does_is_still_reaped(box: Box) -> None:
    # The "container" exits at once; the runtime lingers, so the monitor reaps the container
    # before it has read its pid.
    pid_file = shlex.quote(str(box.state / "pid"))
    launch = ["sh", "-c", f"sh -c 'sleep 0.1; exit 7' & echo $! > {pid_file}; exec sleep 0.4"]
    config = box.config(launch)
    spawn_monitor(config)
    assert wait(config).exit_code == 7


def test_a_slow_client_is_dropped_and_never_blocks_the_container(box: Box) -> None:
    config = box.config(box.shell("sleep 0.5; head -c 8000000 /dev/zero | tr '\\0' x"))
    started = time.monotonic()
    spawn_monitor(config)
    # Attached before the output starts, and never reads a byte of it.
    with Attachment.connect(config.attach_socket, stdin=False, stdout=True, stderr=False):
        status = wait(config)
    assert status.exit_code == 0
    assert time.monotonic() - started < 8
    assert sum(len(data) for _, data in logged(box)) == 8_000_000


def test_launch_failure_reports_the_runtimes_last_stderr_line(box: Box) -> None:
    config = box.config(
        ["sh", "-c", "echo warming up >&2; echo 'fake: bundle not found' >&2; exit 1"]
    )
    with pytest.raises(EngineFailure) as info:
        spawn_monitor(config)
    assert str(info.value) == "fake: bundle not found"
    assert sorted(p.name for p in box.state.iterdir()) == ["monitor.json"]
    assert not box.log.exists()


def test_launch_failure_prefers_the_runtime_json_log(box: Box) -> None:
    log = shlex.quote(str(box.state / "runtime.log"))
    config = box.config(
        [
            "sh",
            "-c",
            f"""echo '{{"level":"error","msg":"from the log"}}' >> {log}; echo noise >&2; exit 1""",
        ]
    )
    (box.state / "runtime.log").write_text('{"level":"error","msg":"an older failure"}\n')
    with pytest.raises(EngineFailure, match=r"^from the log$"):
        spawn_monitor(config)


def test_launch_failure_unwraps_logrus_text(box: Box) -> None:
    line = (
        'time="2026-11-27T17:55:29Z" level=error '
        'msg="runc create failed: exec: \\"nope\\": not found"'
    )
    config = box.config(["sh", "-c", f"echo {shlex.quote(line)} >&2; exit 1"])
    with pytest.raises(EngineFailure, match=r'^runc create failed: exec: "nope": not found$'):
        spawn_monitor(config)


def test_launch_failure_without_a_message_names_the_status(box: Box) -> None:
    with pytest.raises(EngineFailure, match=r"^sh exited with signal 9$"):
        spawn_monitor(box.config(["sh", "-c", "kill -9 $$"]))
    with pytest.raises(EngineFailure, match=r"^cannot run /no/such/runtime: No such file"):
        spawn_monitor(box.config(["/no/such/runtime", "create"]))


def test_a_runtime_that_writes_no_pid_is_a_failure(box: Box) -> None:
    with pytest.raises(EngineFailure, match="pid file"):
        spawn_monitor(box.config(["true"]))
    assert not (box.state / "attach.sock").exists()


def test_wait_for_exit_falls_back_to_the_exit_file_and_to_255(box: Box) -> None:
    config = box.config(box.shell("exec sleep 30"))
    handle = spawn_monitor(config)
    os.kill(handle.monitor_pid, signal.SIGKILL)  # the monitor dies; its container lives on
    assert gone(handle.monitor_pid)
    status = wait(config)
    assert status.exit_code == 255
    os.kill(handle.process_pid, signal.SIGKILL)
    config.attach_socket.unlink()
    config.exit_file.write_text(
        '{"exit_code": 4, "finished_at": "2026-11-27T17:49:00Z", "signal": null}'
    )
    assert wait(config) == ExitStatus(4, "2026-11-27T17:49:00Z", None)


def test_attaching_to_a_stopped_container_is_a_conflict(box: Box) -> None:
    with pytest.raises(Conflict):
        Attachment.connect(box.state / "attach.sock", stdin=False, stdout=True, stderr=True)
    with pytest.raises(Conflict):
        asyncio.run(
            open_attachment(box.state / "attach.sock", stdin=False, stdout=True, stderr=False)
        )


def test_tty_console_stdin_resize_and_exit(box: Box) -> None:
    config = box.config(
        box.tty_runtime(), tty=True, open_stdin=True, console_socket=box.state / "console.sock"
    )
    handle = spawn_monitor(config)
    assert not config.console_socket or not config.console_socket.exists()

    async def session() -> tuple[bytes, ExitStatus]:
        att = await open_attachment(config.attach_socket, stdin=True, stdout=True, stderr=True)
        await att.resize(33, 111)
        await att.write_stdin(b"stty size; echo hel''lo\n")
        await att.write_stdin(b"exit 5\n")
        out = b""
        while (frame := await att.read_frame()) is not None:
            if frame.kind is FrameKind.EXIT:
                att.close()
                return out, frame.exit_status()
            assert frame.kind is FrameKind.STDOUT
            out += frame.payload
        raise AssertionError(f"no EXIT frame; output {out!r}")

    out, status = asyncio.run(asyncio.wait_for(session(), 10))
    assert b"33 111" in out and b"hello" in out
    assert status.exit_code == 5
    assert gone(handle.monitor_pid)
    assert all(e.stream == "stdout" for e in read_logs(box.log))
    assert b"hello" in b"".join(e.data for e in read_logs(box.log))
