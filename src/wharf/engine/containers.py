"""The container service: create, start, stop, kill, wait, remove, restart, pause, rename,
list and inspect, logs and attach targets, and recovery when the daemon starts.

Layout it owns (draw of the per-container files)::

    <data-root>/containers/<id>/       hostname, hosts, resolv.conf, <id>-json.log[.N]
    <exec-root>/containers/<id>/       bundle/config.json, rootfs/ (overlay mount point),
                                       monitor.json, monitor.pid, init.pid, exit.json
    <exec-root>/sock/<id[:16]>.attach  the monitor's attach socket (short: sun_path ≤ 108)
    <exec-root>/sock/<id[:16]>.console the console socket while a TTY container is created
    <exec-root>/runtime/<name>/        the OCI runtime's own state (--root)

Locking: one lock per container guards its state transitions (``_locked`` helpers are
called with it held); the service lock guards names and the waiter tables. A state change
is persisted, then waiters are told. Each running container has one watcher thread blocked
on its monitor's attach socket; when it returns, ``_on_exit`` records the exit, tears down
the runtime and the mount, and applies ``--rm`` and the restart policy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal as signals
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from wharf.apitypes.containers import ContainerInspect, ContainerSummary, CreateRequest
from wharf.apitypes.filters import Filters
from wharf.engine import container_setup, container_views
from wharf.engine.container_model import (
    ContainerConfig,
    ContainerState,
    MountPoint,
    Status,
    rfc3339_now,
)
from wharf.engine.images import ImageService
from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound, NotModified, WharfError
from wharf.metadata.containers import ContainerRecords, ContainerRow
from wharf.runtime import cgroups
from wharf.runtime.logs import LogEntry, follow_logs, read_logs
from wharf.runtime.monitor_client import (
    Attachment,
    ExitStatus,
    MonitorConfig,
    monitor_alive,
    read_exit,
    spawn_monitor,
)
from wharf.runtime.oci import OciRuntime
from wharf.runtime.spec import (
    BindMount,
    ContainerSpec,
    HostFacts,
    NetworkMode,
    Resources,
    TmpfsMount,
    Ulimit,
    render_config,
)
from wharf.runtime.users import resolve_user
from wharf.snapshots.snapshotter import Snapshotter

log = logging.getLogger("wharf.engine.containers")

_DEFAULT_LOG_MAX_SIZE = 10 << 20
_DEFAULT_LOG_MAX_FILES = 5
_ATTACH_CONNECT_TIMEOUT = 5.0
_MAX_RESTART_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class CreateResult:
    id: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WaitResult:
    status_code: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class AttachTarget:
    socket: Path
    tty: bool


class VolumeProvider(Protocol):
    """What containers need from volumes: a host directory for a (possibly new) volume."""

    def ensure(self, name: str | None, *, anonymous: bool = False) -> tuple[str, Path]: ...

    def populate(self, name: str, rootfs: Path, path: str) -> bool: ...

    def remove_anonymous(self, names: list[str]) -> list[str]: ...

    def locked(self) -> contextlib.AbstractContextManager[object]: ...


def _parse_signal(text: str) -> int:
    if not text:
        return signals.SIGTERM
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = f"SIG{name}"
    try:
        return int(signals.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {text}") from None


def _start_error_exit_code(message: str) -> int:
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return 128


def _parse_size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class ContainerService:
    def __init__(
        self,
        *,
        records: ContainerRecords,
        images: ImageService,
        snapshotter: Snapshotter,
        runtimes: dict[str, OciRuntime],
        default_runtime: str,
        data_root: Path,
        exec_root: Path,
        host: HostFacts,
        volumes: VolumeProvider | None = None,
    ) -> None:
        self._records = records
        self._images = images
        self._snapshotter = snapshotter
        self._runtimes = runtimes
        self._default_runtime = default_runtime
        self._data_root = data_root / "containers"
        self._exec_root = exec_root / "containers"
        self._socket_root = exec_root / "sock"
        self._host = host
        self._volumes = volumes
        self._lock = threading.RLock()
        self._container_locks: dict[str, threading.RLock] = {}
        self._waiters: dict[str, list[tuple[str, Future[WaitResult]]]] = {}
        self._attach_tickets: dict[str, list[AttachTicket]] = {}
        self._watchers: dict[str, threading.Thread] = {}
        self._restart_timers: dict[str, threading.Timer] = {}
        self._closing = False
        for directory in (self._data_root, self._exec_root, self._socket_root):
            directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ records & paths

    def _container_lock(self, container_id: str) -> threading.RLock:
        with self._lock:
            return self._container_locks.setdefault(container_id, threading.RLock())

    def _load(self, container_id: str) -> tuple[ContainerConfig, ContainerState]:
        row = self._records.get(container_id)
        return ContainerConfig.from_json(row.config), ContainerState.from_json(row.state)

    def _save_state(self, container_id: str, state: ContainerState) -> None:
        self._records.update_state(container_id, state.to_json())

    def resolve_id(self, reference: str) -> str:
        """A full ID from a name, a full ID or a unique ID prefix, as Docker resolves them."""
        rows = self._records.list()
        name = reference.lstrip("/")
        for row in rows:
            if row.id == reference or row.name == name:
                return row.id
        matches = [row.id for row in rows if reference and row.id.startswith(reference)]
        if len(matches) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {reference}")
        if not matches:
            raise NotFound(f"No such container: {reference}")
        return matches[0]

    def _state_dir(self, container_id: str) -> Path:
        return self._exec_root / container_id

    def _data_dir(self, container_id: str) -> Path:
        return self._data_root / container_id

    def _attach_socket(self, container_id: str) -> Path:
        return self._socket_root / f"{container_id[:16]}.attach"

    def _console_socket(self, container_id: str) -> Path:
        return self._socket_root / f"{container_id[:16]}.console"

    def _rootfs(self, container_id: str) -> Path:
        return self._state_dir(container_id) / "rootfs"

    def _runtime(self, config: ContainerConfig) -> OciRuntime:
        try:
            return self._runtimes[config.runtime]
        except KeyError:
            raise EngineFailure(f"unknown or invalid runtime name: {config.runtime}") from None

    def images_in_use(self, image_id: str) -> list[str]:
        return [row.id for row in self._records.list() if row.image_id == image_id]

    def volumes_in_use(self, volume_name: str) -> list[str]:
        users = []
        for row in self._records.list():
            config = ContainerConfig.from_json(row.config)
            if any(m.type == "volume" and m.name == volume_name for m in config.mounts):
                users.append(row.id)
        return users

    def count_by_status(self) -> dict[Status, int]:
        counts: dict[Status, int] = {}
        for row in self._records.list():
            status = ContainerState.from_json(row.state).status
            counts[status] = counts.get(status, 0) + 1
        return counts

    # ------------------------------------------------------------------ create

    def create(self, request: CreateRequest) -> CreateResult:
        container_setup.validate_host_config(request.host_config, set(self._runtimes))
        name = container_setup.validate_name(request.name)
        image = self._images.resolve(request.config.image)
        command, merged = container_setup.resolve_command(request.config, image.config)
        mounts = container_setup.collect_mounts(request.host_config, merged.volumes)
        container_id = container_setup.new_container_id()
        with self._lock:
            taken = {row.name for row in self._records.list()}
            if not name:
                name = container_setup.generate_name(taken)
            elif name in taken:
                holder = next(r.id for r in self._records.list() if r.name == name)
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{holder}". You have to remove (or rename) that container to be able '
                    "to reuse that name."
                )
            log_options = request.host_config.log_config
            try:
                log_max_size = _parse_size(log_options.get("max-size", "")) if log_options.get(
                    "max-size"
                ) else _DEFAULT_LOG_MAX_SIZE
                log_max_files = int(log_options.get("max-file", _DEFAULT_LOG_MAX_FILES))
            except ValueError as exc:
                raise InvalidArgument(f"invalid log option: {exc}") from exc
            if log_max_files < 1:
                raise InvalidArgument("max-file cannot be less than 1")
            hostname = merged.hostname or container_id[:12]
            config = ContainerConfig(
                id=container_id,
                name=name,
                created=rfc3339_now(),
                image_ref=request.config.image,
                image_id=image.image_id,
                path=command.path,
                args=command.args,
                config=replace(merged, hostname=hostname),
                host_config=request.host_config,
                mounts=(),
                runtime=request.host_config.runtime or self._default_runtime,
                stop_signal=merged.stop_signal or "SIGTERM",
                stop_timeout=(
                    merged.stop_timeout if merged.stop_timeout is not None else 10
                ),
                log_max_size=log_max_size,
                log_max_files=log_max_files,
            )
            _parse_signal(config.stop_signal)
            top = image.top_chain_id()
            self._snapshotter.prepare(container_id, top.hex if top else None)
            volume_lock = (
                self._volumes.locked() if self._volumes is not None else contextlib.nullcontext()
            )
            try:
                with volume_lock:
                    config = replace(config, mounts=tuple(self._prepare_volumes(mounts)))
                    self._data_dir(container_id).mkdir(parents=True, exist_ok=True)
                    self._records.insert(
                        ContainerRow(
                            id=container_id,
                            name=name,
                            image_id=image.image_id,
                            created_at=time.time(),
                            config=config.to_json(),
                            state=ContainerState().to_json(),
                        )
                    )
            except BaseException:
                self._discard_files(container_id)
                raise
        log.info("created container %s (%s)", container_id[:12], name)
        return CreateResult(id=container_id, warnings=tuple(container_setup.create_warnings(request)))

    def _prepare_volumes(self, mounts: list[MountPoint]) -> list[MountPoint]:
        prepared = []
        for mount in mounts:
            if mount.type == "volume":
                if self._volumes is None:
                    raise InvalidArgument("volumes are not available in this engine")
                name, path = self._volumes.ensure(mount.name or None, anonymous=mount.anonymous)
                mount = replace(mount, name=name, source=str(path))
            elif mount.type == "bind" and not os.path.exists(mount.source):
                # -v creates a missing host directory, as Docker does (--mount refuses).
                os.makedirs(mount.source, exist_ok=True)
            prepared.append(mount)
        return prepared

    def _discard_files(self, container_id: str) -> None:
        with contextlib.suppress(WharfError):
            if self._snapshotter.exists(container_id):
                self._snapshotter.remove(container_id)
        shutil.rmtree(self._data_dir(container_id), ignore_errors=True)
        shutil.rmtree(self._state_dir(container_id), ignore_errors=True)

    # ------------------------------------------------------------------ start

    def start(self, reference: str) -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.status is Status.PAUSED:
                raise Conflict(
                    f"cannot start a paused container, try unpause instead"
                )
            if state.status is Status.RUNNING:
                raise NotModified("container already started")
            timer = self._restart_timers.pop(container_id, None)
            if timer is not None:
                timer.cancel()
            self._start_locked(config, state, restart=False)

    def _start_locked(self, config: ContainerConfig, state: ContainerState, *, restart: bool) -> None:
        container_id = config.id
        runtime = self._runtime(config)
        state_dir = self._state_dir(container_id)
        rootfs = self._rootfs(container_id)
        try:
            self._clear_runtime_leftovers(config)
            state_dir.mkdir(parents=True, exist_ok=True)
            (state_dir / "bundle").mkdir(exist_ok=True)
            rootfs.mkdir(exist_ok=True)
            self._snapshotter.mount(container_id, rootfs)
        except WharfError as exc:
            self._fail_start(config, state, str(exc), 128)
            raise
        try:
            self._populate_volumes(config, rootfs)
            spec = self._build_spec(config, rootfs)
            (state_dir / "bundle" / "config.json").write_bytes(render_config(spec, self._host))
            for stale in ("exit.json", "init.pid"):
                with contextlib.suppress(FileNotFoundError):
                    (state_dir / stale).unlink()
            tty = config.config.tty
            monitor = MonitorConfig(
                container_id=container_id,
                state_dir=state_dir,
                launch_argv=tuple(
                    runtime.create_argv(
                        container_id,
                        state_dir / "bundle",
                        state_dir / "init.pid",
                        self._console_socket(container_id) if tty else None,
                        log_file=state_dir / "runtime.log",
                    )
                ),
                pid_file=state_dir / "init.pid",
                tty=tty,
                open_stdin=config.config.open_stdin,
                # Docker closes stdin after the first client only without a TTY, so -it
                # containers can be detached from and attached to again.
                stdin_once=config.config.stdin_once and not tty,
                log_path=(
                    None
                    if config.host_config.log_type == "none"
                    else self._data_dir(container_id) / f"{container_id}-json.log"
                ),
                log_max_size=config.log_max_size,
                log_max_files=config.log_max_files,
                console_socket=self._console_socket(container_id) if tty else None,
                attach_socket=self._attach_socket(container_id),
                exit_file=state_dir / "exit.json",
            )
            handle = spawn_monitor(monitor)
        except WharfError as exc:
            self._teardown(config)
            self._fail_start(config, state, exc.message, _start_error_exit_code(exc.message))
            raise
        self._hand_over_to_attachers(container_id)
        try:
            runtime.start(container_id)
        except WharfError as exc:
            with contextlib.suppress(WharfError):
                runtime.kill(container_id, signals.SIGKILL)
            self._wait_monitor_gone(handle.monitor_pid)
            self._teardown(config)
            self._fail_start(config, state, exc.message, _start_error_exit_code(exc.message))
            raise
        new_state = state.started(
            pid=handle.process_pid, monitor_pid=handle.monitor_pid, now=rfc3339_now(), restart=restart
        )
        self._save_state(container_id, new_state)
        self._watch(container_id)
        log.info("started container %s pid %d", container_id[:12], handle.process_pid)

    def _populate_volumes(self, config: ContainerConfig, rootfs: Path) -> None:
        """A new, empty volume gets the image's files at its mount point, as in Docker."""
        if self._volumes is None:
            return
        for mount in config.mounts:
            if mount.type == "volume":
                self._volumes.populate(mount.name, rootfs, mount.destination)

    def _fail_start(self, config: ContainerConfig, state: ContainerState, message: str, code: int) -> None:
        failed = state.start_failed(exit_code=code, error=message, now=rfc3339_now())
        with contextlib.suppress(NotFound):
            self._save_state(config.id, failed)
        self._notify(config.id, "next-exit", WaitResult(code, message))
        self._notify(config.id, "not-running", WaitResult(code, message))
        if config.host_config.auto_remove:
            threading.Thread(target=self._auto_remove, args=(config.id,), daemon=True).start()

    def _wait_monitor_gone(self, pid: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)

    def container_spec(self, config: ContainerConfig) -> ContainerSpec:
        """The runtime spec of a running container (for exec), without side effects."""
        return self._build_spec(config, self._rootfs(config.id), write_files=False)

    def _build_spec(
        self, config: ContainerConfig, rootfs: Path, *, write_files: bool = True
    ) -> ContainerSpec:
        data_dir = self._data_dir(config.id)
        wire = config.config
        hc = config.host_config
        if write_files:
            self._write_etc_files(config, data_dir)
        uid, gid, groups = resolve_user(rootfs, wire.user, group_add=hc.group_add)
        binds = []
        tmpfs = []
        for mount in config.mounts:
            if mount.type == "tmpfs":
                tmpfs.append(TmpfsMount(destination=mount.destination, options=mount.tmpfs_options))
            else:
                if mount.type == "volume" and self._volumes is not None and mount.anonymous is False:
                    pass
                binds.append(
                    BindMount(
                        source=Path(mount.source),
                        destination=mount.destination,
                        read_only=not mount.rw,
                    )
                )
        network = NetworkMode.HOST if hc.network_mode == "host" else NetworkMode.NONE
        security = set(hc.security_opt)
        no_new_privileges = not (
            "no-new-privileges=false" in security or "no-new-privileges:false" in security
        )
        nano_cpus = hc.nano_cpus
        if not nano_cpus and hc.cpu_quota and hc.cpu_period:
            nano_cpus = hc.cpu_quota * 1_000_000_000 // hc.cpu_period
        return ContainerSpec(
            id=config.id,
            rootfs=rootfs,
            args=(config.path, *config.args),
            env=wire.env if any(e.startswith("PATH=") for e in wire.env) else (
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *wire.env
            ),
            cwd=wire.working_dir or "/",
            uid=uid,
            gid=gid,
            additional_gids=groups,
            terminal=wire.tty,
            hostname=wire.hostname,
            domainname=wire.domainname,
            readonly_rootfs=hc.read_only_rootfs,
            binds=tuple(binds),
            tmpfs=tuple(tmpfs),
            network=network,
            privileged=hc.privileged,
            cap_add=hc.cap_add,
            cap_drop=hc.cap_drop,
            seccomp=not any(o in security for o in ("seccomp=unconfined", "seccomp:unconfined")),
            no_new_privileges=no_new_privileges and not hc.privileged,
            resources=Resources(
                memory=hc.memory or None,
                memory_swap=hc.memory_swap or None,
                nano_cpus=nano_cpus or None,
                cpu_shares=hc.cpu_shares or None,
                pids_limit=hc.pids_limit if hc.pids_limit and hc.pids_limit > 0 else None,
                cpuset_cpus=hc.cpuset_cpus or None,
            ),
            ulimits=tuple(Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in hc.ulimits),
            cgroups_path=f"/wharf/{config.id}",
            shm_size=hc.shm_size or 64 << 20,
            sysctls=dict(hc.sysctls),
            oom_score_adj=hc.oom_score_adj or None,
            init=bool(hc.init),
            console_size=hc.console_size if wire.tty and all(hc.console_size) else None,
            etc_files={
                "/etc/hostname": data_dir / "hostname",
                "/etc/hosts": data_dir / "hosts",
                "/etc/resolv.conf": data_dir / "resolv.conf",
            },
        )

    def _write_etc_files(self, config: ContainerConfig, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        hostname = config.config.hostname
        (data_dir / "hostname").write_text(f"{hostname}\n")
        hosts = [
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::\tip6-localnet",
            "ff00::\tip6-mcastprefix",
            "ff02::1\tip6-allnodes",
            "ff02::2\tip6-allrouters",
        ]
        for entry in config.host_config.extra_hosts:
            host, _, address = entry.partition(":")
            if address == "host-gateway":
                address = "127.0.0.1"
            hosts.append(f"{address}\t{host}")
        (data_dir / "hosts").write_text("\n".join(hosts) + "\n")
        try:
            resolv = Path("/etc/resolv.conf").read_text()
        except OSError:
            resolv = ""
        if config.host_config.dns:
            resolv = "".join(f"nameserver {server}\n" for server in config.host_config.dns)
        (data_dir / "resolv.conf").write_text(resolv)

    # ------------------------------------------------------------------ attach hand-over

    def register_attach(self, reference: str) -> AttachTicket:
        """For an attach that must see output from the very start: resolved when the
        container's monitor is ready; ``start`` waits (briefly) until it has connected."""
        container_id = self.resolve_id(reference)
        config, state = self._load(container_id)
        ticket = AttachTicket(self._attach_socket(container_id), config.config.tty)
        if state.running:
            ticket.ready.set_result(ticket.target)
            ticket.connected()
            return ticket
        with self._lock:
            self._attach_tickets.setdefault(container_id, []).append(ticket)
        return ticket

    def _hand_over_to_attachers(self, container_id: str) -> None:
        with self._lock:
            tickets = self._attach_tickets.pop(container_id, [])
        for ticket in tickets:
            if not ticket.ready.done():
                ticket.ready.set_result(ticket.target)
        deadline = time.monotonic() + _ATTACH_CONNECT_TIMEOUT
        for ticket in tickets:
            ticket.wait_connected(max(0.0, deadline - time.monotonic()))

    def attach_target(self, reference: str) -> AttachTarget:
        container_id = self.resolve_id(reference)
        config, state = self._load(container_id)
        if not state.running:
            raise Conflict(f"container {container_id} is not running")
        return AttachTarget(self._attach_socket(container_id), config.config.tty)

    def resize(self, reference: str, height: int, width: int) -> None:
        target = self.attach_target(reference)
        if not target.tty:
            return
        attachment = Attachment.connect(target.socket, stdin=False, stdout=False, stderr=False)
        try:
            attachment.resize(height, width)
        finally:
            attachment.close()

    # ------------------------------------------------------------------ exit handling

    def _watch(self, container_id: str) -> None:
        thread = threading.Thread(
            target=self._watch_exit, args=(container_id,), name=f"watch-{container_id[:12]}",
            daemon=True,
        )
        with self._lock:
            self._watchers[container_id] = thread
        thread.start()

    def _watch_exit(self, container_id: str) -> None:
        state_dir = self._state_dir(container_id)
        status: ExitStatus | None = None
        try:
            attachment = Attachment.connect(
                self._attach_socket(container_id), stdin=False, stdout=False, stderr=False
            )
        except (OSError, WharfError):
            attachment = None
        if attachment is not None:
            try:
                while attachment.recv_frame() is not None:
                    pass
            except (OSError, WharfError):
                pass
            finally:
                attachment.close()
        for _ in range(100):
            status = read_exit(state_dir / "exit.json")
            if status is not None or not monitor_alive(state_dir):
                break
            time.sleep(0.02)
        if status is None:
            status = read_exit(state_dir / "exit.json")
        if self._closing:
            return  # the daemon is stopping; the container keeps running
        self._on_exit(container_id, status)

    def _on_exit(self, container_id: str, status: ExitStatus | None) -> None:
        with self._container_lock(container_id):
            try:
                config, state = self._load(container_id)
            except NotFound:
                return
            if not state.running:
                return
            oom = False
            with contextlib.suppress(OSError, WharfError):
                oom = cgroups.oom_killed(cgroups.locate(f"/wharf/{container_id}"))
            code = status.exit_code if status is not None else 255
            finished = status.finished_at if status is not None else rfc3339_now()
            self._teardown(config)
            new_state = state.exited(exit_code=code, finished_at=finished, oom_killed=oom)
            self._save_state(container_id, new_state)
            with self._lock:
                self._watchers.pop(container_id, None)
        log.info("container %s exited with %d", container_id[:12], code)
        self._notify(container_id, "next-exit", WaitResult(code))
        self._notify(container_id, "not-running", WaitResult(code))
        if config.host_config.auto_remove:
            self._auto_remove(container_id)
        elif self._should_restart(config, new_state):
            self._schedule_restart(config, new_state)

    def _teardown(self, config: ContainerConfig) -> None:
        """Everything a stopped container must not hold: runtime state, rootfs mount, cgroup."""
        container_id = config.id
        with contextlib.suppress(WharfError, OSError):
            self._runtime(config).delete(container_id, force=True)
        rootfs = self._rootfs(container_id)
        if os.path.ismount(rootfs):
            with contextlib.suppress(WharfError, OSError):
                self._snapshotter.unmount(rootfs)
        with contextlib.suppress(OSError, WharfError):
            cgroups.cleanup(cgroups.locate(f"/wharf/{container_id}"))
        for path in (self._attach_socket(container_id), self._console_socket(container_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _clear_runtime_leftovers(self, config: ContainerConfig) -> None:
        runtime = self._runtime(config)
        with contextlib.suppress(WharfError):
            runtime.state(config.id)
            runtime.delete(config.id, force=True)

    def _auto_remove(self, container_id: str) -> None:
        try:
            self.remove(container_id, force=True, volumes=True)
        except NotFound:
            pass
        except WharfError as exc:
            log.warning("auto-remove of %s failed: %s", container_id[:12], exc.message)

    def _should_restart(self, config: ContainerConfig, state: ContainerState) -> bool:
        policy = config.host_config.restart_policy
        if state.stopped_by_user or self._closing:
            return False
        if policy in ("always", "unless-stopped"):
            return True
        if policy == "on-failure" and state.exit_code != 0:
            limit = config.host_config.restart_max_retries
            return limit == 0 or state.restart_count < limit
        return False

    def _schedule_restart(self, config: ContainerConfig, state: ContainerState) -> None:
        started = container_views.parse_time(state.started_at)
        ran_for = (datetime.now(UTC) - started).total_seconds() if started else 0
        # Docker's back-off: 100 ms doubling per quick failure, reset after 10 s of running.
        delay = 0.1 if ran_for > 10 else min(_MAX_RESTART_DELAY, 0.1 * 2 ** min(state.restart_count, 10))
        with self._container_lock(config.id):
            self._save_state(config.id, state.restarting())
        timer = threading.Timer(delay, self._restart_by_policy, args=(config.id,))
        timer.daemon = True
        with self._lock:
            self._restart_timers[config.id] = timer
        timer.start()

    def _restart_by_policy(self, container_id: str) -> None:
        with self._container_lock(container_id):
            self._restart_timers.pop(container_id, None)
            try:
                config, state = self._load(container_id)
            except NotFound:
                return
            if state.status is not Status.RESTARTING or self._closing:
                return
            try:
                self._start_locked(config, state, restart=True)
            except WharfError as exc:
                log.warning("restart of %s failed: %s", container_id[:12], exc.message)

    # ------------------------------------------------------------------ waiting

    def _notify(self, container_id: str, condition: str, result: WaitResult) -> None:
        with self._lock:
            waiters = self._waiters.get(container_id, [])
            remaining = []
            for wanted, future in waiters:
                if wanted == condition:
                    if not future.done():
                        future.set_result(result)
                else:
                    remaining.append((wanted, future))
            if remaining:
                self._waiters[container_id] = remaining
            else:
                self._waiters.pop(container_id, None)

    def wait(self, reference: str, condition: str = "not-running") -> Future[WaitResult]:
        """A future resolved by the container's next exit, or its removal, per ``condition``."""
        if condition not in ("not-running", "next-exit", "removed", ""):
            raise InvalidArgument(f"invalid condition: \"{condition}\"")
        condition = condition or "not-running"
        container_id = self.resolve_id(reference)
        future: Future[WaitResult] = Future()
        with self._container_lock(container_id), self._lock:
            _, state = self._load(container_id)
            if condition == "not-running" and state.status not in (
                Status.RUNNING, Status.PAUSED, Status.RESTARTING
            ):
                future.set_result(WaitResult(state.exit_code, state.error))
                return future
            self._waiters.setdefault(container_id, []).append((condition, future))
        return future

    # ------------------------------------------------------------------ stop / kill

    def kill(self, reference: str, signal_text: str = "SIGKILL") -> None:
        container_id = self.resolve_id(reference)
        signum = _parse_signal(signal_text or "SIGKILL")
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if not state.running:
                raise Conflict(
                    f"Cannot kill container: {reference}: container {container_id} is not running"
                )
            if signum in (signals.SIGKILL, signals.SIGTERM, signals.SIGINT):
                self._save_state(container_id, state.stopping_by_user())
            self._runtime(config).kill(container_id, signum, all_processes=signum == signals.SIGKILL)

    def stop(self, reference: str, *, timeout: int | None = None, signal_text: str = "") -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            timer = self._restart_timers.pop(container_id, None)
            if timer is not None:
                timer.cancel()
            if state.status is Status.RESTARTING:
                self._save_state(container_id, replace(state.stopping_by_user(), status=Status.EXITED))
                return
            if not state.running:
                raise NotModified("container already stopped")
            self._save_state(container_id, state.stopping_by_user())
            runtime = self._runtime(config)
            if state.status is Status.PAUSED:
                with contextlib.suppress(WharfError):
                    runtime.resume(container_id)
            exited = self.wait(container_id, "next-exit")
            signum = _parse_signal(signal_text or config.stop_signal)
            grace = config.stop_timeout if timeout is None else timeout
        with contextlib.suppress(WharfError):
            runtime.kill(container_id, signum)
        if grace < 0:
            exited.result()
            return
        try:
            exited.result(timeout=grace)
            return
        except TimeoutError:
            pass
        with contextlib.suppress(WharfError):
            runtime.kill(container_id, signals.SIGKILL, all_processes=True)
        exited.result(timeout=30)

    def restart(self, reference: str, *, timeout: int | None = None) -> None:
        container_id = self.resolve_id(reference)
        with contextlib.suppress(NotModified):
            self.stop(container_id, timeout=timeout)
        self.start(container_id)

    def pause(self, reference: str) -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.status is Status.PAUSED:
                raise Conflict(f"Container {container_id} is already paused")
            if state.status is not Status.RUNNING:
                raise Conflict(f"Container {container_id} is not running")
            self._runtime(config).pause(container_id)
            self._save_state(container_id, state.paused())

    def unpause(self, reference: str) -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.status is not Status.PAUSED:
                raise Conflict(f"Container {container_id} is not paused")
            self._runtime(config).resume(container_id)
            self._save_state(container_id, state.unpaused())

    def rename(self, reference: str, new_name: str) -> None:
        container_id = self.resolve_id(reference)
        name = container_setup.validate_name(new_name)
        if not name:
            raise InvalidArgument("Neither old nor new names may be empty")
        with self._lock, self._container_lock(container_id):
            config, _ = self._load(container_id)
            if config.name == name:
                raise InvalidArgument("Renaming a container with the same name as its current name")
            self._records.rename(container_id, name)
            self._records.update_config(container_id, replace(config, name=name).to_json())

    # ------------------------------------------------------------------ remove

    def remove(self, reference: str, *, force: bool = False, volumes: bool = False) -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.running and not force:
                raise Conflict(
                    f"cannot remove container \"/{config.name}\": container is running: "
                    "stop the container before removing or force remove"
                )
            timer = self._restart_timers.pop(container_id, None)
            if timer is not None:
                timer.cancel()
            if state.running:
                self._save_state(container_id, state.stopping_by_user())
                exited = self.wait(container_id, "next-exit")
                runtime = self._runtime(config)
                with contextlib.suppress(WharfError):
                    if state.status is Status.PAUSED:
                        runtime.resume(container_id)
                with contextlib.suppress(WharfError):
                    runtime.kill(container_id, signals.SIGKILL, all_processes=True)
        if state.running:
            try:
                exited.result(timeout=30)
            except TimeoutError as exc:
                raise EngineFailure(f"container {container_id[:12]} did not stop") from exc
        with self._container_lock(container_id):
            try:
                config, state = self._load(container_id)
            except NotFound:
                return  # removed meanwhile (auto-remove)
            self._teardown(config)
            with contextlib.suppress(WharfError):
                if self._snapshotter.exists(container_id):
                    self._snapshotter.remove(container_id)
            shutil.rmtree(self._state_dir(container_id), ignore_errors=True)
            shutil.rmtree(self._data_dir(container_id), ignore_errors=True)
            self._records.delete(container_id)
            if volumes and self._volumes is not None:
                anonymous = [m.name for m in config.mounts if m.type == "volume" and m.anonymous]
                if anonymous:
                    with contextlib.suppress(WharfError):
                        self._volumes.remove_anonymous(anonymous)
        with self._lock:
            self._container_locks.pop(container_id, None)
        self._notify(container_id, "removed", WaitResult(state.exit_code))
        self._notify(container_id, "not-running", WaitResult(state.exit_code))
        self._notify(container_id, "next-exit", WaitResult(state.exit_code))
        log.info("removed container %s", container_id[:12])

    def prune(self, filters: Filters) -> tuple[list[str], int]:
        filters.check_keys(("until", "label", "label!"))
        deleted = []
        for row in self._records.list():
            config = ContainerConfig.from_json(row.config)
            state = ContainerState.from_json(row.state)
            if state.running or state.status is Status.RESTARTING:
                continue
            labels = config.config.labels
            if any(
                (k := w.partition("=")[0]) not in labels
                or ("=" in w and labels[k] != w.partition("=")[2])
                for w in filters.get("label")
            ):
                continue
            try:
                self.remove(row.id)
            except WharfError:
                continue
            deleted.append(row.id)
        return deleted, 0

    # ------------------------------------------------------------------ views

    def list(self, *, all: bool, filters: Filters, limit: int = -1) -> list[ContainerSummary]:
        filters.check_keys(container_views.PS_FILTERS)
        rows = self._records.list()
        created_of: dict[str, float] = {}
        for row in rows:
            created_of[row.id] = row.created_at
            created_of[row.name] = row.created_at
        image_ids: dict[str, set[str]] = {}
        for value in filters.get("ancestor"):
            try:
                image_ids[value] = {self._images.resolve(value).image_id}
            except WharfError:
                image_ids[value] = set()
        summaries = []
        for row in rows:
            config = ContainerConfig.from_json(row.config)
            state = ContainerState.from_json(row.state)
            if not all and not filters.get("status") and not state.running:
                continue
            if not container_views.matches(
                config, state, filters, image_ids_for=image_ids, created_of=created_of
            ):
                continue
            summaries.append(container_views.summary(config, state))
        return summaries[:limit] if limit > 0 else summaries

    def inspect(self, reference: str) -> ContainerInspect:
        container_id = self.resolve_id(reference)
        config, state = self._load(container_id)
        return container_views.inspect(
            config,
            state,
            data_dir=str(self._data_dir(container_id)),
            graph_driver_data={"MergedDir": str(self._rootfs(container_id))},
        )

    def config_and_state(self, reference: str) -> tuple[ContainerConfig, ContainerState]:
        return self._load(self.resolve_id(reference))

    def runtime_for(self, config: ContainerConfig) -> OciRuntime:
        return self._runtime(config)

    def state_dir(self, container_id: str) -> Path:
        return self._state_dir(container_id)

    def socket_dir(self) -> Path:
        return self._socket_root

    # ------------------------------------------------------------------ logs

    def logs(
        self,
        reference: str,
        *,
        stdout: bool,
        stderr: bool,
        follow: bool,
        since_ns: int | None,
        until_ns: int | None,
        tail: int | None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> tuple[bool, Iterator[LogEntry]]:
        container_id = self.resolve_id(reference)
        config, _ = self._load(container_id)
        if config.host_config.log_type == "none":
            raise InvalidArgument(
                'configured logging driver does not support reading'
            )
        path = self._data_dir(container_id) / f"{container_id}-json.log"

        def still_running() -> bool:
            if cancelled():
                return False
            try:
                return self._load(container_id)[1].running
            except NotFound:
                return False

        if follow:
            entries = follow_logs(
                path, stdout=stdout, stderr=stderr, since_ns=since_ns, until_ns=until_ns,
                tail=tail, still_running=still_running,
            )
        else:
            entries = read_logs(
                path, stdout=stdout, stderr=stderr, since_ns=since_ns, until_ns=until_ns,
                tail=tail,
            )
        return config.config.tty, entries

    # ------------------------------------------------------------------ recovery & shutdown

    def recover(self) -> None:
        """At daemon start: re-attach to live monitors, record exits that happened while we
        were away, clean what dead containers held, then restart ``always`` ones."""
        known = set()
        to_restart = []
        for row in self._records.list():
            known.add(row.id)
            config = ContainerConfig.from_json(row.config)
            state = ContainerState.from_json(row.state)
            if state.status in (Status.RUNNING, Status.PAUSED):
                if monitor_alive(self._state_dir(row.id)):
                    self._watch(row.id)
                    continue
                status = read_exit(self._state_dir(row.id) / "exit.json")
                self._teardown(config)
                state = state.exited(
                    exit_code=status.exit_code if status else 255,
                    finished_at=status.finished_at if status else rfc3339_now(),
                    oom_killed=False,
                )
                self._save_state(row.id, state)
            elif state.status is Status.RESTARTING:
                state = replace(state, status=Status.EXITED)
                self._save_state(row.id, state)
                self._teardown(config)
            else:
                self._teardown(config)
            if config.host_config.restart_policy == "always" or (
                config.host_config.restart_policy == "unless-stopped" and not state.stopped_by_user
            ):
                to_restart.append(row.id)
        self._remove_orphans(known)
        for container_id in to_restart:
            try:
                self.start(container_id)
            except WharfError as exc:
                log.warning("could not restart %s: %s", container_id[:12], exc.message)

    def _remove_orphans(self, known: set[str]) -> None:
        """State left by a create that crashed before its record was written."""
        for directory in (self._exec_root, self._data_root):
            for entry in directory.iterdir():
                if entry.name not in known:
                    rootfs = entry / "rootfs"
                    if os.path.ismount(rootfs):
                        with contextlib.suppress(WharfError, OSError):
                            self._snapshotter.unmount(rootfs)
                    shutil.rmtree(entry, ignore_errors=True)
        for info in self._snapshotter.walk():
            key = info.key
            if len(key) == 64 and key not in known and info.parent is not None or (
                len(key) == 64 and key not in known and info.kind.value == "active"
            ):
                with contextlib.suppress(WharfError):
                    self._snapshotter.remove(key)

    def close(self) -> None:
        """Daemon shutdown: stop watching; containers and their monitors keep running."""
        self._closing = True
        with self._lock:
            timers = list(self._restart_timers.values())
            self._restart_timers.clear()
        for timer in timers:
            timer.cancel()


class AttachTicket:
    """An attach waiting for a container's start (see ``ContainerService.register_attach``)."""

    def __init__(self, socket: Path, tty: bool) -> None:
        self.target = AttachTarget(socket, tty)
        self.ready: Future[AttachTarget] = Future()
        self._connected = threading.Event()

    def connected(self) -> None:
        self._connected.set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)


ExitCallback = Callable[[str, int], None]
