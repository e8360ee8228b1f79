"""The exec service: extra processes in a running container (``docker exec``).

An exec is a record in memory (as in dockerd: execs do not outlive the daemon) plus, once
started, a monitor process of its own running the runtime's detached ``exec``; its stdio and
exit code flow through that monitor exactly as a container's do.

Layout: ``<exec-root>/containers/<cid>/exec/<eid>/`` (process.json, monitor files, exit.json)
and the sockets ``<exec-root>/sock/<eid[:16]>.attach|.console``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wharf.engine.container_setup import merge_env, start_error_exit_code
from wharf.engine.container_types import AttachTarget
from wharf.engine.containers import ContainerService
from wharf.errdefs import Conflict, InvalidArgument, NotFound, WharfError
from wharf.runtime.monitor_client import (
    Attachment,
    ExitStatus,
    FrameKind,
    MonitorConfig,
    read_exit,
    spawn_monitor,
)
from wharf.runtime.spec import ExecSpec, HostFacts, render_process
from wharf.runtime.users import resolve_user


@dataclass(frozen=True, slots=True)
class ExecConfig:
    cmd: tuple[str, ...]
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    privileged: bool = False
    detach_keys: str = ""

    @classmethod
    def from_wire(cls, raw: object) -> ExecConfig:
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid exec config: expected a JSON object")
        cmd = raw.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd or not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
            raise InvalidArgument("No exec command specified")
        env = raw.get("Env") or []
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            raise InvalidArgument("invalid exec config: Env must be a list of strings")
        return cls(
            cmd=tuple(cmd),
            tty=bool(raw.get("Tty")),
            attach_stdin=bool(raw.get("AttachStdin")),
            attach_stdout=bool(raw.get("AttachStdout", True)),
            attach_stderr=bool(raw.get("AttachStderr", True)),
            env=tuple(env),
            user=str(raw.get("User") or ""),
            working_dir=str(raw.get("WorkingDir") or ""),
            privileged=bool(raw.get("Privileged")),
            detach_keys=str(raw.get("DetachKeys") or ""),
        )


_CAPTURE_LIMIT = 64 << 10  # a healthcheck keeps 4 KiB; more is never useful


def _command_text(cmd: tuple[str, ...]) -> str:
    """The command as Docker's exec events write it: entrypoint, a space, the arguments
    (so a command without arguments keeps its trailing space)."""
    return f"{cmd[0]} {' '.join(cmd[1:])}"


@dataclass(slots=True)
class _Exec:
    id: str
    container_id: str
    config: ExecConfig
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    done: threading.Event = field(default_factory=threading.Event)


class ExecService:
    def __init__(self, *, containers: ContainerService, host: HostFacts) -> None:
        self._containers = containers
        self._host = host
        self._execs: dict[str, _Exec] = {}
        self._lock = threading.Lock()

    def create(self, reference: str, config: ExecConfig) -> str:
        container_id = self._containers.resolve_id(reference)
        _, state = self._containers.config_and_state(container_id)
        if not state.running:
            raise Conflict(f"container {container_id} is not running")
        if state.status.value == "paused":
            raise Conflict(f"Container {container_id} is paused, unpause the container before exec")
        exec_id = secrets.token_hex(32)
        with self._lock:
            self._execs[exec_id] = _Exec(exec_id, container_id, config)
        self._containers.emit_for(
            container_id, f"exec_create: {_command_text(config.cmd)}", {"execID": exec_id}
        )
        return exec_id

    def _get(self, exec_id: str) -> _Exec:
        with self._lock:
            record = self._execs.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    def _dir(self, record: _Exec) -> Path:
        return self._containers.state_dir(record.container_id) / "exec" / record.id

    def _socket(self, record: _Exec, kind: str) -> Path:
        return self._containers.socket_dir() / f"{record.id[:16]}.{kind}"

    def start(self, exec_id: str, *, detach: bool, tty: bool | None = None) -> AttachTarget:
        record = self._get(exec_id)
        with self._lock:
            if record.started:
                raise Conflict(f"Error: Exec command {exec_id} is already running")
            record.started = True
        config, state = self._containers.config_and_state(record.container_id)
        if not state.running:
            raise Conflict(f"container {record.container_id} is not running")
        exec_config = record.config if tty is None else replace(record.config, tty=tty)
        directory = self._dir(record)
        directory.mkdir(parents=True, exist_ok=True)
        rootfs = self._containers.state_dir(record.container_id) / "rootfs"
        uid, gid, groups = resolve_user(
            rootfs, exec_config.user or config.config.user, group_add=config.host_config.group_add
        )
        container_spec = self._containers.container_spec(config)
        process = render_process(
            ExecSpec(
                args=exec_config.cmd,
                env=merge_env(container_spec.env, exec_config.env),
                cwd=exec_config.working_dir or container_spec.cwd,
                uid=uid,
                gid=gid,
                additional_gids=groups,
                terminal=exec_config.tty,
                privileged=exec_config.privileged,
            ),
            container_spec,
            self._host,
        )
        process_json = directory / "process.json"
        process_json.write_bytes(process)
        runtime = self._containers.runtime_for(config)
        console = self._socket(record, "console") if exec_config.tty else None
        monitor = MonitorConfig(
            container_id=record.container_id,
            state_dir=directory,
            launch_argv=tuple(
                runtime.exec_argv(
                    record.container_id,
                    process_json,
                    directory / "exec.pid",
                    console,
                    log_file=directory / "runtime.log",
                )
            ),
            pid_file=directory / "exec.pid",
            tty=exec_config.tty,
            open_stdin=exec_config.attach_stdin,
            stdin_once=True,
            log_path=None,
            log_max_size=0,
            log_max_files=1,
            console_socket=console,
            attach_socket=self._socket(record, "attach"),
            exit_file=directory / "exit.json",
            hold_output=not detach,
        )
        try:
            handle = spawn_monitor(monitor)
        except WharfError as exc:
            record.exit_code = start_error_exit_code(exc.message)
            record.done.set()
            raise
        record.pid = handle.process_pid
        record.running = True
        self._containers.emit(
            config, f"exec_start: {_command_text(exec_config.cmd)}", {"execID": record.id}
        )
        threading.Thread(target=self._watch, args=(record,), daemon=True).start()
        return AttachTarget(self._socket(record, "attach"), exec_config.tty)

    def _watch(self, record: _Exec) -> None:
        directory = self._dir(record)
        status: ExitStatus | None = None
        with contextlib.suppress(OSError, WharfError):
            attachment = Attachment.connect(
                self._socket(record, "attach"), stdin=False, stdout=False, stderr=False
            )
            try:
                while attachment.recv_frame() is not None:
                    pass
            finally:
                attachment.close()
        for _ in range(200):
            status = read_exit(directory / "exit.json")
            if status is not None:
                break
            threading.Event().wait(0.01)
        record.exit_code = status.exit_code if status is not None else 126
        record.running = False
        self._containers.emit_for(
            record.container_id,
            "exec_die",
            {"execID": record.id, "exitCode": str(record.exit_code)},
        )
        record.done.set()

    def run_captured(
        self, reference: str, argv: tuple[str, ...], timeout: float
    ) -> tuple[int, str] | None:
        """Run ``argv`` in the container, as ``docker exec`` would, and return its exit code
        and output; None when it outlived ``timeout`` (it is killed). For healthchecks."""
        exec_id = self.create(reference, ExecConfig(cmd=argv))
        record = self._get(exec_id)
        output = bytearray()
        deadline = time.monotonic() + timeout
        try:
            target = self.start(exec_id, detach=False)
            attachment = Attachment.connect(target.socket, stdin=False, stdout=True, stderr=True)
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    attachment.set_deadline(remaining)
                    frame = attachment.recv_frame()
                    if frame is None:
                        break
                    if frame.kind is FrameKind.EXIT:
                        return frame.exit_status().exit_code, output.decode("utf-8", "replace")
                    if len(output) < _CAPTURE_LIMIT:
                        output += frame.payload
            finally:
                attachment.close()
            record.done.wait(2.0)
            code = record.exit_code if record.exit_code is not None else -1
            return code, output.decode("utf-8", "replace")
        except TimeoutError:
            if record.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGKILL)
            return None
        finally:
            with self._lock:
                self._execs.pop(exec_id, None)

    def wait_exit(self, exec_id: str, timeout: float) -> None:
        """Block until the exec's exit code is recorded (clients inspect it right after)."""
        self._get(exec_id).done.wait(timeout)

    def resize(self, exec_id: str, height: int, width: int) -> None:
        record = self._get(exec_id)
        if not record.running or not record.config.tty:
            return
        attachment = Attachment.connect(
            self._socket(record, "attach"), stdin=False, stdout=False, stderr=False
        )
        try:
            attachment.resize(height, width)
        finally:
            attachment.close()

    def inspect(self, exec_id: str) -> dict[str, Any]:
        record = self._get(exec_id)
        config = record.config
        return {
            "ID": record.id,
            "Running": record.running,
            "ExitCode": record.exit_code,
            "ProcessConfig": {
                "tty": config.tty,
                "entrypoint": config.cmd[0],
                "arguments": list(config.cmd[1:]),
                "privileged": config.privileged,
                "user": config.user,
            },
            "OpenStdin": config.attach_stdin,
            "OpenStderr": config.attach_stderr,
            "OpenStdout": config.attach_stdout,
            "CanRemove": False,
            "ContainerID": record.container_id,
            "DetachKeys": config.detach_keys,
            "Pid": record.pid,
        }

    def exec_config(self, exec_id: str) -> ExecConfig:
        return self._get(exec_id).config
