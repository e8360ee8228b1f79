"""When a container's process ends: each running container has one watcher thread blocked on
its monitor's attach socket; when it returns, the exit is recorded (with OOM kills read from
the cgroup before the runtime deletes it), the runtime state, mount and cgroup are released,
waiters are told, and ``--rm`` or the restart policy (Docker's back-off) applies. At daemon
start ``recover`` re-attaches to live monitors and records exits that happened meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime

from wharf.engine import container_views
from wharf.engine.container_base import ContainerStore
from wharf.engine.container_model import (
    ContainerConfig,
    ContainerState,
    Status,
    rfc3339_now,
)
from wharf.engine.container_types import (
    WaitResult,
)
from wharf.errdefs import (
    InvalidArgument,
    NotFound,
    WharfError,
)
from wharf.runtime import cgroups
from wharf.runtime.monitor_client import (
    Attachment,
    ExitStatus,
    monitor_alive,
    read_exit,
)

log = logging.getLogger("wharf.engine.containers")

_MAX_RESTART_DELAY = 60.0


def _exec_duration(started_at: str, finished_at: str) -> str:
    """Whole seconds the process ran, as the ``execDuration`` of Docker's die event."""
    started = container_views.parse_time(started_at)
    finished = container_views.parse_time(finished_at)
    if started is None or finished is None:
        return "0"
    return str(max(0, int((finished - started).total_seconds())))


class ContainerExits(ContainerStore):
    """What happens when a container's process ends, and recovery at daemon start."""

    # Provided by ContainerService (start and remove live there).
    def _start_locked(
        self, config: ContainerConfig, state: ContainerState, *, restart: bool
    ) -> None:
        raise NotImplementedError

    def remove(self, reference: str, *, force: bool = False, volumes: bool = False) -> None:
        raise NotImplementedError

    def start(self, reference: str) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ exit handling

    def _watch(self, container_id: str) -> None:
        """Follow a running container: its exit, and its healthcheck if it has one."""
        if self._health is not None:
            with contextlib.suppress(WharfError):
                config, _ = self._load(container_id)
                self._health.watch(container_id, config.config.healthcheck, config.config.shell)
        thread = threading.Thread(
            target=self._watch_exit,
            args=(container_id,),
            name=f"watch-{container_id[:12]}",
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
            if oom:
                self.emit(config, "oom")
            # Before the teardown, whose network disconnects follow the die in Docker too.
            self.emit(
                config,
                "die",
                {"exitCode": str(code), "execDuration": _exec_duration(state.started_at, finished)},
            )
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
        """Everything a stopped container must not hold: runtime state, rootfs mount, cgroup,
        network namespace, addresses and published ports."""
        container_id = config.id
        if self._health is not None:
            self._health.forget(container_id)
        runtime = self._runtime(config)
        if runtime.exists(container_id):
            with contextlib.suppress(WharfError, OSError):
                runtime.delete(container_id, force=True)
        rootfs = self._rootfs(container_id)
        if os.path.ismount(rootfs):
            with contextlib.suppress(WharfError, OSError):
                self._snapshotter.unmount(rootfs)
        with contextlib.suppress(OSError, WharfError):
            cgroups.cleanup(cgroups.locate(f"/wharf/{container_id}"))
        if self._networks is not None:
            with contextlib.suppress(WharfError):
                self._networks.release(container_id)
        for path in (self._attach_socket(container_id), self._console_socket(container_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _clear_runtime_leftovers(self, config: ContainerConfig) -> None:
        runtime = self._runtime(config)
        # Checking the state dir costs nothing; asking the runtime costs a process.
        if runtime.exists(config.id):
            with contextlib.suppress(WharfError):
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
        delay = (
            0.1
            if ran_for > 10
            else min(_MAX_RESTART_DELAY, 0.1 * 2 ** min(state.restart_count, 10))
        )
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
            raise InvalidArgument(f'invalid condition: "{condition}"')
        condition = condition or "not-running"
        container_id = self.resolve_id(reference)
        future: Future[WaitResult] = Future()
        with self._container_lock(container_id), self._lock:
            _, state = self._load(container_id)
            if condition == "not-running" and state.status not in (
                Status.RUNNING,
                Status.PAUSED,
                Status.RESTARTING,
            ):
                future.set_result(WaitResult(state.exit_code, state.error))
                return future
            self._waiters.setdefault(container_id, []).append((condition, future))
        return future

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
            if (len(key) == 64 and key not in known and info.parent is not None) or (
                len(key) == 64 and key not in known and info.kind.value == "active"
            ):
                with contextlib.suppress(WharfError):
                    self._snapshotter.remove(key)
