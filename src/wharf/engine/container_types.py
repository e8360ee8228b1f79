"""Values the container service hands out: create results, wait results, attach targets
and tickets, and the volume capability it needs (a Protocol the volume service meets)."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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
