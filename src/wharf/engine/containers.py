"""The container service: create, start, stop, kill, wait, remove, restart, pause, rename,
list and inspect, logs and attach targets. Its shared ground is ``container_base``; what
happens when a process ends, and recovery, is ``container_exits``; ``update`` (new limits and
restart policy) is ``container_update``.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import shutil
import signal as signals
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from wharf.apitypes.containers import ContainerInspect, ContainerSummary, CreateRequest
from wharf.apitypes.filters import Filters, until_unix
from wharf.engine import container_setup, container_views
from wharf.engine.container_exits import ContainerExits
from wharf.engine.container_model import (
    ContainerConfig,
    ContainerState,
    MountPoint,
    Status,
    rfc3339_now,
)
from wharf.engine.container_setup import parse_signal, parse_size, start_error_exit_code
from wharf.engine.container_spec import build_container_spec
from wharf.engine.container_types import (
    AttachTarget,
    AttachTicket,
    CreateResult,
    WaitResult,
)
from wharf.engine.container_update import ContainerUpdates
from wharf.engine.disk_usage import log_usage
from wharf.errdefs import (
    Conflict,
    EngineFailure,
    InvalidArgument,
    NotFound,
    NotModified,
    WharfError,
)
from wharf.events.model import EventType
from wharf.images.resolve import ResolvedImage
from wharf.metadata.containers import ContainerRow
from wharf.runtime.logs import LogEntry, follow_logs, read_logs
from wharf.runtime.monitor_client import (
    Attachment,
    MonitorConfig,
    monitor_alive,
    read_monitor_pid,
    spawn_monitor,
)
from wharf.runtime.oci import OciRuntime
from wharf.runtime.spec import (
    ContainerSpec,
    render_config,
)

log = logging.getLogger("wharf.engine.containers")

_DEFAULT_LOG_MAX_SIZE = 10 << 20
_DEFAULT_LOG_MAX_FILES = 5
_ATTACH_CONNECT_TIMEOUT = 5.0


class ContainerService(ContainerExits, ContainerUpdates):
    # ------------------------------------------------------------------ create

    def create(self, request: CreateRequest, *, image: ResolvedImage | None = None) -> CreateResult:
        """A new container; ``image`` when the caller (a build step) already resolved it."""
        container_setup.validate_host_config(request.host_config, set(self._runtimes))
        name = container_setup.validate_name(request.name)
        if image is None:
            image = self._images.resolve(request.config.image)
        command, merged = container_setup.resolve_command(request.config, image.config)
        mounts = container_setup.collect_mounts(request.host_config, merged.volumes)
        container_id = container_setup.new_container_id()
        endpoints = (
            self._networks.plan(container_id, request)
            if self._networks is not None
            else container_setup.check_network_mode(request.host_config.network_mode)
        )
        with self._lock:
            taken = self._records.names()
            if not name:
                name = container_setup.generate_name(taken)
            elif name in taken:
                holder = self._records.lookup(name)[0]
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{holder}". You have to remove (or rename) that container to be able '
                    "to reuse that name."
                )
            log_options = request.host_config.log_config
            try:
                log_max_size = (
                    parse_size(log_options.get("max-size", ""))
                    if log_options.get("max-size")
                    else _DEFAULT_LOG_MAX_SIZE
                )
                log_max_files = int(log_options.get("max-file", _DEFAULT_LOG_MAX_FILES))
            except ValueError as exc:
                raise InvalidArgument(f"invalid log option: {exc}") from exc
            if log_max_files < 1:
                raise InvalidArgument("max-file cannot be less than 1")
            # Host networking shares the host's UTS name unless one is given, as in Docker.
            default_hostname = (
                socket.gethostname()
                if request.host_config.network_mode == "host"
                else container_id[:12]
            )
            hostname = merged.hostname or default_hostname
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
                stop_timeout=(merged.stop_timeout if merged.stop_timeout is not None else 10),
                log_max_size=log_max_size,
                log_max_files=log_max_files,
            )
            parse_signal(config.stop_signal)
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
                    if self._networks is not None:
                        try:
                            self._networks.register(endpoints)
                        except BaseException:
                            with contextlib.suppress(NotFound):
                                self._records.delete(container_id)
                            raise
            except BaseException:
                self._discard_files(container_id)
                raise
        self.emit(config, "create")
        log.info("created container %s (%s)", container_id[:12], name)
        return CreateResult(
            id=container_id, warnings=tuple(container_setup.create_warnings(request))
        )

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

    def _end_exec_monitors(self, container_id: str, timeout: float = 2.0) -> None:
        """Exec monitors (a healthcheck probe caught mid-run) outlive their dead process by a
        flush interval; a removed container must leave no process behind, so they go now."""
        pids = []
        for directory in (self._state_dir(container_id) / "exec").glob("*"):
            pid = read_monitor_pid(directory)
            if pid is not None and monitor_alive(directory):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signals.SIGKILL)
                pids.append(pid)
        for pid in pids:
            self._wait_monitor_gone(pid, timeout)

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
                raise Conflict("cannot start a paused container, try unpause instead")
            if state.status is Status.RUNNING:
                raise NotModified("container already started")
            timer = self._restart_timers.pop(container_id, None)
            if timer is not None:
                timer.cancel()
            self._start_locked(config, state, restart=False)

    def _start_locked(
        self, config: ContainerConfig, state: ContainerState, *, restart: bool
    ) -> None:
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
            network = self._networks.setup(config) if self._networks is not None else None
            spec = build_container_spec(
                config, rootfs, data_dir=self._data_dir(container_id), network=network
            )
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
            code = start_error_exit_code(exc.message)
            self._fail_start(config, state, exc.message, code)
            if code in (126, 127):
                # The user's command is at fault, not the engine: a 400, as dockerd answers.
                raise InvalidArgument(exc.message) from exc
            raise
        self._hand_over_to_attachers(container_id)
        try:
            runtime.start(container_id)
        except WharfError as exc:
            with contextlib.suppress(WharfError):
                runtime.kill(container_id, signals.SIGKILL)
            self._wait_monitor_gone(handle.monitor_pid)
            self._teardown(config)
            self._fail_start(config, state, exc.message, start_error_exit_code(exc.message))
            raise
        new_state = state.started(
            pid=handle.process_pid,
            monitor_pid=handle.monitor_pid,
            now=rfc3339_now(),
            restart=restart,
        )
        self._save_state(container_id, new_state)
        self.emit(config, "start")
        self._watch(container_id)
        log.info("started container %s pid %d", container_id[:12], handle.process_pid)

    def _populate_volumes(self, config: ContainerConfig, rootfs: Path) -> None:
        """A new, empty volume gets the image's files at its mount point, as in Docker."""
        if self._volumes is None:
            return
        for mount in config.mounts:
            if mount.type == "volume":
                self._volumes.populate(mount.name, rootfs, mount.destination)
                self._publish_event(
                    EventType.VOLUME,
                    "mount",
                    mount.name,
                    {
                        "container": config.id,
                        "destination": mount.destination,
                        "driver": "local",
                        "propagation": "",
                        "read/write": "true" if mount.rw else "false",
                    },
                )

    def _fail_start(
        self, config: ContainerConfig, state: ContainerState, message: str, code: int
    ) -> None:
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
        return build_container_spec(
            config, self._rootfs(config.id), data_dir=self._data_dir(config.id), write_files=False
        )

    # ------------------------------------------------------------------ attach hand-over

    def register_attach(self, reference: str) -> AttachTicket:
        """For an attach that must see output from the very start: resolved when the
        container's monitor is ready; ``start`` waits (briefly) until it has connected."""
        container_id = self.resolve_id(reference)
        config, state = self._load(container_id)
        ticket = AttachTicket(self._attach_socket(container_id), config.config.tty)
        self.emit(config, "attach")
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

    # ------------------------------------------------------------------ stop / kill

    def kill(self, reference: str, signal_text: str = "SIGKILL") -> None:
        container_id = self.resolve_id(reference)
        signum = parse_signal(signal_text or "SIGKILL")
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if not state.running:
                raise Conflict(
                    f"Cannot kill container: {reference}: container {container_id} is not running"
                )
            if signum in (signals.SIGKILL, signals.SIGTERM, signals.SIGINT):
                self._save_state(container_id, state.stopping_by_user())
            self._runtime(config).kill(
                container_id, signum, all_processes=signum == signals.SIGKILL
            )
            self.emit(config, "kill", {"signal": str(int(signum))})

    def stop(self, reference: str, *, timeout: int | None = None, signal_text: str = "") -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            timer = self._restart_timers.pop(container_id, None)
            if timer is not None:
                timer.cancel()
            if state.status is Status.RESTARTING:
                self._save_state(
                    container_id, replace(state.stopping_by_user(), status=Status.EXITED)
                )
                return
            if not state.running:
                raise NotModified("container already stopped")
            self._save_state(container_id, state.stopping_by_user())
            runtime = self._runtime(config)
            if state.status is Status.PAUSED:
                with contextlib.suppress(WharfError):
                    runtime.resume(container_id)
            exited = self.wait(container_id, "next-exit")
            signum = parse_signal(signal_text or config.stop_signal)
            grace = config.stop_timeout if timeout is None else timeout
        # Docker's order is kill, die, stop: the kill is told before the exit can be.
        self.emit(config, "kill", {"signal": str(int(signum))})
        with contextlib.suppress(WharfError):
            runtime.kill(container_id, signum)
        if grace < 0:
            exited.result()
        else:
            try:
                exited.result(timeout=grace)
            except TimeoutError:
                self.emit(config, "kill", {"signal": str(int(signals.SIGKILL))})
                with contextlib.suppress(WharfError):
                    runtime.kill(container_id, signals.SIGKILL, all_processes=True)
                exited.result(timeout=30)
        self.emit(config, "stop")

    def restart(self, reference: str, *, timeout: int | None = None) -> None:
        container_id = self.resolve_id(reference)
        with contextlib.suppress(NotModified):
            self.stop(container_id, timeout=timeout)
        self.start(container_id)
        self.emit_for(container_id, "restart")

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
            self.emit(config, "pause")

    def unpause(self, reference: str) -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.status is not Status.PAUSED:
                raise Conflict(f"Container {container_id} is not paused")
            self._runtime(config).resume(container_id)
            self._save_state(container_id, state.unpaused())
            self.emit(config, "unpause")

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
            if self._networks is not None:
                self._networks.renamed(replace(config, name=name))
            self.emit(replace(config, name=name), "rename", {"oldName": f"/{config.name}"})

    # ------------------------------------------------------------------ remove

    def remove(self, reference: str, *, force: bool = False, volumes: bool = False) -> None:
        container_id = self.resolve_id(reference)
        with self._container_lock(container_id):
            config, state = self._load(container_id)
            if state.running and not force:
                raise Conflict(
                    f'cannot remove container "/{config.name}": container is running: '
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
                self.emit(config, "kill", {"signal": str(int(signals.SIGKILL))})
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
            if self._networks is not None:
                with contextlib.suppress(WharfError):
                    self._networks.forget(container_id)
            with contextlib.suppress(WharfError):
                if self._snapshotter.exists(container_id):
                    self._snapshotter.remove(container_id)
            self._end_exec_monitors(container_id)
            shutil.rmtree(self._state_dir(container_id), ignore_errors=True)
            shutil.rmtree(self._data_dir(container_id), ignore_errors=True)
            self._records.delete(container_id)
            self._forget_decoded(container_id)
            self.emit(config, "destroy")
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
        """Remove stopped containers; returns their IDs and the bytes their upper dirs and
        logs held."""
        filters.check_keys(("until", "label", "label!"))
        now = time.time()
        until = [until_unix(value, now) for value in filters.get("until")]
        deleted = []
        reclaimed = 0
        for row in self._records.list():
            config, state = self._decode(row)
            if state.running or state.status is Status.RESTARTING:
                continue
            labels = config.config.labels
            if not all(_label_matches(labels, w) for w in filters.get("label")):
                continue
            if any(_label_matches(labels, w) for w in filters.get("label!")):
                continue
            if any(row.created_at >= limit for limit in until):
                continue
            size = 0
            with contextlib.suppress(WharfError, OSError):
                size = self._snapshotter.usage(row.id)
            size += log_usage(self._data_dir(row.id), row.id)  # its logs go with it
            try:
                self.remove(row.id)
            except WharfError:
                continue
            deleted.append(row.id)
            reclaimed += size
        return deleted, reclaimed

    # ------------------------------------------------------------------ views

    def list(
        self, *, all: bool, filters: Filters, limit: int = -1, size: bool = False
    ) -> list[ContainerSummary]:
        """``ps``; with ``size``, each row's ``SizeRw`` (its upper dir's disk usage) and
        ``SizeRootFs`` (that plus its image's unpacked layers), as ``ps --size``."""
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
        chosen = []
        for row in rows:
            config, state = self._decode(row)
            if not all and not filters.get("status") and not state.running:
                continue
            networks = (
                self._networks.networks_of(config.id)
                if self._networks is not None and filters.get("network")
                else None
            )
            if not container_views.matches(
                config,
                state,
                filters,
                image_ids_for=image_ids,
                created_of=created_of,
                networks=networks,
                health=self.health_status(config.id),
            ):
                continue
            chosen.append((config, state))
        if limit > 0:
            chosen = chosen[:limit]
        settings = (
            self._networks.container_settings_many(chosen) if self._networks is not None else {}
        )
        summaries = [
            container_views.summary(
                config,
                state,
                network_settings=settings.get(config.id),
                health=self.health_status(config.id),
            )
            for config, state in chosen
        ]
        return self._with_sizes(summaries, logs=False) if size else summaries

    def disk_usage(self) -> builtins.list[ContainerSummary]:
        """``system df``: every container with its sizes and (wharf's) ``SizeLogs``, the
        bytes of its json-file logs."""
        return self._with_sizes(self.list(all=True, filters=Filters()), logs=True)

    def _with_sizes(
        self, summaries: builtins.list[ContainerSummary], *, logs: bool
    ) -> builtins.list[ContainerSummary]:
        image_sizes = self._images.sizes_by_id()
        sized = []
        for summary in summaries:
            try:
                rw = self._snapshotter.usage(summary.id)
            except (WharfError, OSError):
                rw = 0  # removed meanwhile
            sized.append(
                replace(
                    summary,
                    size_rw=rw,
                    size_root_fs=rw + image_sizes.get(summary.image_id, 0),
                    size_logs=log_usage(self._data_dir(summary.id), summary.id) if logs else None,
                )
            )
        return sized

    def inspect(self, reference: str) -> ContainerInspect:
        container_id = self.resolve_id(reference)
        config, state = self._load(container_id)
        return container_views.inspect(
            config,
            state,
            data_dir=str(self._data_dir(container_id)),
            graph_driver_data={"MergedDir": str(self._rootfs(container_id))},
            network_settings=(
                self._networks.container_settings(config, state)
                if self._networks is not None
                else None
            ),
            health=self.health_wire(container_id),
        )

    def config_and_state(self, reference: str) -> tuple[ContainerConfig, ContainerState]:
        return self._load(self.resolve_id(reference))

    def runtime_for(self, config: ContainerConfig) -> OciRuntime:
        return self._runtime(config)

    def container_lock(self, container_id: str) -> threading.RLock:
        """The lock that guards one container's state changes (network connect takes it)."""
        return self._container_lock(container_id)

    def all_containers(self) -> builtins.list[tuple[ContainerConfig, ContainerState]]:
        return [self._decode(row) for row in self._records.list()]

    def release_rootfs(self, container_id: str) -> None:
        """Unmount a stopped container's rootfs now (a build step commits its upper dir)."""
        rootfs = self._rootfs(container_id)
        if os.path.ismount(rootfs):
            self._snapshotter.unmount(rootfs)

    def state_dir(self, container_id: str) -> Path:
        return self._state_dir(container_id)

    def data_dir(self, container_id: str) -> Path:
        return self._data_dir(container_id)

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
            raise InvalidArgument("configured logging driver does not support reading")
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
                path,
                stdout=stdout,
                stderr=stderr,
                since_ns=since_ns,
                until_ns=until_ns,
                tail=tail,
                still_running=still_running,
            )
        else:
            entries = read_logs(
                path,
                stdout=stdout,
                stderr=stderr,
                since_ns=since_ns,
                until_ns=until_ns,
                tail=tail,
            )
        return config.config.tty, entries

    def close(self) -> None:
        """Daemon shutdown: stop watching; containers and their monitors keep running."""
        self._closing = True
        with self._lock:
            timers = list(self._restart_timers.values())
            self._restart_timers.clear()
        for timer in timers:
            timer.cancel()
        if self._health is not None:
            self._health.close()


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, has_value, value = wanted.partition("=")
    return key in labels and (not has_value or labels[key] == value)
