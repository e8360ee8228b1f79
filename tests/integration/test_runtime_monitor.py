"""The container monitor with real runc: stdio, tty, logs, exit codes, exec, launch failures, size.

Each test writes its own bundle (``runc spec`` edited: rootfs, args, terminal) over a busybox
rootfs built by support/rootfs.py, and uses a private ``runc --root`` under tmp. Every
container is ``runc delete -f``'d afterwards and every process the test saw must be gone.
Needs root and runc.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.rootfs import build_busybox_rootfs
from wharf.errdefs import EngineFailure
from wharf.runtime.logs import read_logs
from wharf.runtime.monitor_client import (
    Attachment,
    ExitStatus,
    FrameKind,
    MonitorConfig,
    MonitorHandle,
    monitor_alive,
    open_attachment,
    spawn_monitor,
    wait_for_exit,
)

RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(RUNC is None or os.geteuid() != 0, reason="needs root and runc")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("busybox")
    tar = build_busybox_rootfs(base / "rootfs.tar")
    root = base / "rootfs"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(tar), "-C", str(root)], check=True)
    return root


@pytest.fixture(scope="module")
def spec_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bundle = tmp_path_factory.mktemp("spec")
    subprocess.run([str(RUNC), "spec", "--bundle", str(bundle)], check=True)
    spec: dict[str, Any] = json.loads((bundle / "config.json").read_text())
    return spec


class Runc:
    """Bundles, monitors and clean-up for one test."""

    def __init__(self, tmp: Path, rootfs: Path, spec: dict[str, Any]) -> None:
        self.tmp = tmp
        self.rootfs = rootfs
        self.spec = spec
        self.root = tmp / "runc-root"
        self.ids: list[str] = []
        self.pids: list[int] = []

    def runc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RUNC), "--root", str(self.root), *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=20,
        )

    def bundle(self, cid: str, args: list[str], *, terminal: bool = False) -> Path:
        bundle = self.tmp / cid / "bundle"
        bundle.mkdir(parents=True)
        spec = copy.deepcopy(self.spec)
        spec["root"] = {"path": str(self.rootfs), "readonly": True}
        spec["process"]["args"] = args
        spec["process"]["terminal"] = terminal
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    def config(
        self,
        cid: str,
        launch: list[str],
        *,
        state: Path,
        tty: bool = False,
        open_stdin: bool = False,
    ) -> MonitorConfig:
        return MonitorConfig(
            container_id=cid,
            state_dir=state,
            launch_argv=(
                str(RUNC),
                "--root",
                str(self.root),
                "--log",
                str(state / "runtime.log"),
                "--log-format",
                "json",
                *launch,
            ),
            pid_file=state / "pid",
            tty=tty,
            open_stdin=open_stdin,
            stdin_once=open_stdin,
            log_path=state / "container-json.log",
            log_max_size=0,
            log_max_files=1,
            console_socket=state / "console.sock" if tty else None,
            attach_socket=state / "attach.sock",
            exit_file=state / "exit.json",
        )

    def create(
        self,
        cid: str,
        args: list[str],
        *,
        tty: bool = False,
        open_stdin: bool = False,
        bundle: Path | None = None,
    ) -> tuple[MonitorConfig, MonitorHandle]:
        bundle = bundle or self.bundle(cid, args, terminal=tty)
        state = self.tmp / cid / "state"
        launch = ["create", "--bundle", str(bundle), "--pid-file", str(state / "pid")]
        if tty:
            launch += ["--console-socket", str(state / "console.sock")]
        config = self.config(cid, [*launch, cid], state=state, tty=tty, open_stdin=open_stdin)
        self.ids.append(cid)
        handle = spawn_monitor(config)
        self.pids += [handle.monitor_pid, handle.process_pid]
        return config, handle

    def exec(self, cid: str, name: str, args: list[str]) -> tuple[MonitorConfig, MonitorHandle]:
        state = self.tmp / cid / name
        state.mkdir(parents=True)
        process = copy.deepcopy(self.spec["process"])
        process.update(args=args, terminal=False)
        (state / "process.json").write_text(json.dumps(process))
        launch = ["exec", "--detach", "--process", str(state / "process.json")]
        launch += ["--pid-file", str(state / "pid"), cid]
        config = self.config(f"{cid}-{name}", launch, state=state)
        handle = spawn_monitor(config)
        self.pids += [handle.monitor_pid, handle.process_pid]
        return config, handle

    def cleanup(self) -> None:
        for cid in self.ids:
            self.runc("delete", "-f", cid, check=False)
        left = [pid for pid in self.pids if not gone(pid)]
        assert not left, f"processes left behind: {left}"
        assert self.runc("list", "-q", check=False).stdout.split() == []


@pytest.fixture
def runc(tmp_path: Path, rootfs: Path, spec_template: dict[str, Any]) -> Iterator[Runc]:
    r = Runc(tmp_path, rootfs, spec_template)
    try:
        yield r
    finally:
        r.cleanup()


def gone(pid: int, timeout: float = 5.0) -> bool:
    """Exited (a zombie waiting for PID 1 to reap it counts as exited)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def wait(config: MonitorConfig, timeout: float = 15.0) -> ExitStatus:
    return asyncio.run(
        asyncio.wait_for(wait_for_exit(config.attach_socket, config.exit_file), timeout)
    )


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_non_tty_container_logs_both_streams_and_exits_3(runc: Runc) -> None:
    config, handle = runc.create("plain", ["sh", "-c", "echo hi; echo err >&2; exit 3"])
    runc.runc("start", "plain")
    status = wait(config)
    assert (status.exit_code, status.signal) == (3, None)
    assert config.log_path is not None
    entries = list(read_logs(config.log_path))
    assert sorted((e.stream, e.data) for e in entries) == [
        ("stderr", b"err\n"),
        ("stdout", b"hi\n"),
    ]
    assert gone(handle.monitor_pid)
    assert not config.attach_socket.exists()


def test_non_tty_stdin_reaches_the_container_and_closes_once(runc: Runc) -> None:
    config, _ = runc.create("stdin", ["sh", "-c", "cat; echo eof >&2"], open_stdin=True)
    with Attachment.connect(config.attach_socket, stdin=True, stdout=True, stderr=True) as att:
        runc.runc("start", "stdin")
        att.send_stdin(b"abc\n")
        att.close_stdin()
        frames = []
        while (frame := att.recv_frame()) is not None:
            frames.append(frame)
    assert [(f.kind, f.payload) for f in frames[:-1]] == [
        (FrameKind.STDOUT, b"abc\n"),
        (FrameKind.STDERR, b"eof\n"),
    ]
    assert frames[-1].exit_status().exit_code == 0


def test_an_acknowledged_attach_gets_output_written_at_once_after_start(runc: Runc) -> None:
    """open_attachment returns only once the monitor registered the client, so a process
    that writes and exits immediately after ``start`` is never missed (run --rm relies on it)."""
    config, _ = runc.create("quick", ["echo", "first-line"])

    async def attach_then_start() -> list[tuple[FrameKind, bytes]]:
        att = await open_attachment(config.attach_socket, stdin=False, stdout=True, stderr=True)
        await asyncio.to_thread(runc.runc, "start", "quick")
        frames = []
        while (frame := await att.read_frame()) is not None:
            frames.append((frame.kind, frame.payload))
        att.close()
        return frames

    frames = asyncio.run(attach_then_start())
    assert frames[0] == (FrameKind.STDOUT, b"first-line\n")
    assert frames[-1][0] is FrameKind.EXIT
    assert all(kind is not FrameKind.HELLO for kind, _ in frames)  # the ack is consumed


def test_tty_shell_takes_stdin_and_resizes(runc: Runc) -> None:
    config, handle = runc.create("tty", ["sh"], tty=True, open_stdin=True)
    assert config.console_socket is not None and not config.console_socket.exists()

    async def session() -> tuple[bytes, ExitStatus]:
        att = await open_attachment(config.attach_socket, stdin=True, stdout=True, stderr=True)
        runc.runc("start", "tty")
        await att.resize(30, 100)
        await att.write_stdin(b"stty size; echo hel''lo\n")
        await att.write_stdin(b"exit 5\n")
        out = b""
        while (frame := await att.read_frame()) is not None:
            if frame.kind is FrameKind.EXIT:
                att.close()
                return out, frame.exit_status()
            assert frame.kind is FrameKind.STDOUT  # a tty merges the streams
            out += frame.payload
        raise AssertionError(f"no EXIT frame after {out!r}")

    out, status = asyncio.run(asyncio.wait_for(session(), 15))
    assert b"30 100" in out
    assert b"hello" in out
    assert status.exit_code == 5
    assert config.log_path is not None
    assert b"hello" in b"".join(e.data for e in read_logs(config.log_path))
    assert gone(handle.monitor_pid)


def test_kill_gives_137_and_the_monitor_survives_sigterm_and_stays_small(
    runc: Runc, capsys: pytest.CaptureFixture[str]
) -> None:
    config, handle = runc.create("idle", ["sleep", "1000"])
    runc.runc("start", "idle")
    time.sleep(0.3)  # idle
    rollup = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{handle.monitor_pid}/smaps_rollup").read_text().splitlines()
        if ":" in line and not line[0].isdigit() and line[0].isupper()
    )
    rss_kb, pss_kb = int(rollup["Rss"].split()[0]), int(rollup["Pss"].split()[0])
    with capsys.disabled():
        print(f"\nidle monitor: RSS {rss_kb / 1024:.1f} MB, PSS {pss_kb / 1024:.1f} MB")
    assert rss_kb < 12 * 1024

    os.kill(handle.monitor_pid, signal.SIGTERM)
    time.sleep(0.2)
    assert monitor_alive(config.state_dir)
    assert json.loads(runc.runc("state", "idle").stdout)["status"] == "running"

    runc.runc("kill", "idle", "KILL")
    status = wait(config)
    assert (status.exit_code, status.signal) == (137, 9)
    assert gone(handle.process_pid) and gone(handle.monitor_pid)
    assert not monitor_alive(config.state_dir)


def test_exec_process_is_monitored_like_a_container(runc: Runc) -> None:
    config, _ = runc.create("host", ["sleep", "1000"])
    runc.runc("start", "host")
    exec_config, exec_handle = runc.exec("host", "exec1", ["sh", "-c", "echo from exec; exit 7"])
    status = wait(exec_config)
    assert status.exit_code == 7
    assert exec_config.log_path is not None
    assert [e.data for e in read_logs(exec_config.log_path)] == [b"from exec\n"]
    assert gone(exec_handle.monitor_pid)
    assert json.loads(runc.runc("state", "host").stdout)["status"] == "running"
    runc.runc("kill", "host", "KILL")
    assert wait(config).exit_code == 137


def test_a_bad_bundle_fails_with_runcs_one_line_error_and_leaves_nothing(runc: Runc) -> None:
    missing = runc.tmp / "no-such-bundle"
    with pytest.raises(EngineFailure) as info:
        runc.create("badbundle", [], bundle=missing)
    message = str(info.value)
    assert "\n" not in message
    assert str(missing) in message and "no such file or directory" in message
    state = runc.tmp / "badbundle" / "state"
    assert sorted(p.name for p in state.iterdir()) == ["monitor.json", "runtime.log"]
    assert processes_mentioning(str(state)) == []


def test_an_unknown_command_fails_at_create(runc: Runc) -> None:
    with pytest.raises(EngineFailure, match="executable file not found"):
        runc.create("nocmd", ["no-such-command"])
    assert processes_mentioning(str(runc.tmp / "nocmd")) == []
