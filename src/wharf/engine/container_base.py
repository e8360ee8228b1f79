"""The container service's shared ground: records, per-container paths and locks, waiters.

Per-container files (the layout the container service owns)::

    <data-root>/containers/<id>/       hostname, hosts, resolv.conf, <id>-json.log[.N]
    <exec-root>/containers/<id>/       bundle/config.json, rootfs/ (overlay mount point),
                                       monitor.json, monitor.pid, init.pid, exit.json
    <exec-root>/sock/<id[:16]>.attach  the monitor's attach socket (short: sun_path <= 108)
    <exec-root>/sock/<id[:16]>.console the console socket while a TTY container is created
    <exec-root>/runtime/<name>/        the OCI runtime's own state (--root)

Locking: one lock per container guards its state transitions; the service lock guards names
and the waiter tables. A state change is persisted, then waiters are told.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from wharf.engine.container_model import (
    ContainerConfig,
    ContainerState,
    Status,
)
from wharf.engine.container_types import (
    AttachTicket,
    NetworkProvider,
    VolumeProvider,
    WaitResult,
)
from wharf.engine.health import HealthMonitor
from wharf.engine.images import ImageService
from wharf.errdefs import (
    EngineFailure,
    InvalidArgument,
    NotFound,
)
from wharf.events.model import EventType, Publish, container_attributes, no_publish
from wharf.metadata.containers import ContainerRecords, ContainerRow
from wharf.runtime.oci import OciRuntime
from wharf.runtime.spec import (
    HostFacts,
)
from wharf.snapshots.snapshotter import Snapshotter

log = logging.getLogger("wharf.engine.containers")


class ContainerStore:
    """Records, paths, locks and waiters shared by the container service's parts."""

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
        networks: NetworkProvider | None = None,
        publish: Publish = no_publish,
    ) -> None:
        self._publish_event = publish
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
        self._networks = networks
        self._health: HealthMonitor | None = None
        self._lock = threading.RLock()
        self._container_locks: dict[str, threading.RLock] = {}
        self._waiters: dict[str, list[tuple[str, Future[WaitResult]]]] = {}
        self._attach_tickets: dict[str, list[AttachTicket]] = {}
        self._watchers: dict[str, threading.Thread] = {}
        self._restart_timers: dict[str, threading.Timer] = {}
        self._closing = False
        self._decoded_configs: dict[str, tuple[str, ContainerConfig]] = {}
        self._decoded_states: dict[str, tuple[str, ContainerState]] = {}
        for directory in (self._data_root, self._exec_root, self._socket_root):
            directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ records & paths

    def set_health(self, monitor: HealthMonitor) -> None:
        """Healthchecks run through exec, which is built on this service: wired after both."""
        self._health = monitor

    def health_status(self, container_id: str) -> str | None:
        return self._health.status(container_id) if self._health is not None else None

    def health_wire(self, container_id: str) -> dict[str, Any] | None:
        if self._health is None:
            return None
        state = self._health.state(container_id)
        return state.to_wire() if state is not None else None

    def emit(
        self, config: ContainerConfig, action: str, extra: Mapping[str, str] | None = None
    ) -> None:
        """Publish a container event with Docker's attributes (labels, image, name)."""
        attributes = container_attributes(
            name=config.name, image=config.image_ref, labels=config.config.labels, extra=extra
        )
        self._publish_event(EventType.CONTAINER, action, config.id, attributes)

    def emit_for(
        self, container_id: str, action: str, extra: Mapping[str, str] | None = None
    ) -> None:
        """``emit`` for a container known by ID (health, exec); nothing if it is gone."""
        try:
            config, _ = self._load(container_id)
        except NotFound:
            return
        self.emit(config, action, extra)

    def _container_lock(self, container_id: str) -> threading.RLock:
        with self._lock:
            return self._container_locks.setdefault(container_id, threading.RLock())

    def _load(self, container_id: str) -> tuple[ContainerConfig, ContainerState]:
        return self._decode(self._records.get(container_id))

    def _decode(self, row: ContainerRow) -> tuple[ContainerConfig, ContainerState]:
        """A row's config and state, each decoded once per version of its JSON text: ``ps``
        reads every row, and decoding configs was most of its time."""
        config_entry = self._decoded_configs.get(row.id)
        if config_entry is None or config_entry[0] != row.config:
            config_entry = (row.config, ContainerConfig.from_json(row.config))
            self._decoded_configs[row.id] = config_entry
        state_entry = self._decoded_states.get(row.id)
        if state_entry is None or state_entry[0] != row.state:
            state_entry = (row.state, ContainerState.from_json(row.state))
            self._decoded_states[row.id] = state_entry
        return config_entry[1], state_entry[1]

    def _forget_decoded(self, container_id: str) -> None:
        self._decoded_configs.pop(container_id, None)
        self._decoded_states.pop(container_id, None)

    def _save_state(self, container_id: str, state: ContainerState) -> None:
        self._records.update_state(container_id, state.to_json())

    def resolve_id(self, reference: str) -> str:
        """A full ID from a name, a full ID or a unique ID prefix, as Docker resolves them."""
        matches = self._records.lookup(reference)
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
        return self._records.ids_with_image(image_id)

    def volumes_in_use(self, volume_name: str) -> list[str]:
        users = []
        for row in self._records.list():
            config, _ = self._decode(row)
            if any(m.type == "volume" and m.name == volume_name for m in config.mounts):
                users.append(row.id)
        return users

    def count_by_status(self) -> dict[Status, int]:
        counts: dict[Status, int] = {}
        for row in self._records.list():
            status = self._decode(row)[1].status
            counts[status] = counts.get(status, 0) + 1
        return counts
