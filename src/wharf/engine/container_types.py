"""Values the container service hands out: create results, wait results, attach targets
and tickets, and the capabilities it needs (Protocols the volume and network services
meet)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from wharf.apitypes.containers import CreateRequest
    from wharf.apitypes.networks import NetworkSettings
    from wharf.engine.container_model import ContainerConfig, ContainerState
    from wharf.engine.network_model import Endpoint, NetworkSetup


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


class NetworkProvider(Protocol):
    """What containers need from networks: endpoints checked at create and recorded, a
    namespace and /etc files at start, everything released at stop and dropped at rm."""

    def plan(self, container_id: str, request: CreateRequest) -> list[Endpoint]: ...

    def register(self, endpoints: Sequence[Endpoint]) -> None: ...

    def setup(self, config: ContainerConfig) -> NetworkSetup: ...

    def release(self, container_id: str) -> None: ...

    def forget(self, container_id: str) -> None: ...

    def renamed(self, config: ContainerConfig) -> None: ...

    def container_settings(
        self, config: ContainerConfig, state: ContainerState
    ) -> NetworkSettings: ...

    def container_settings_many(
        self, items: Sequence[tuple[ContainerConfig, ContainerState]]
    ) -> dict[str, NetworkSettings]: ...

    def networks_of(self, container_id: str) -> list[str]: ...


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
