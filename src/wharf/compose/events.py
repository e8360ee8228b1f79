"""What the compose runtime tells its caller while it works: typed progress events, warnings and
the text a build or pull streams. The runtime never prints; the CLI renders events as docker
compose v2 does (`` ✔ Container shop-web-1  Started``).

A ``Reporter`` may be called from several threads (services converge concurrently): an
implementation that writes to a terminal serialises its writes itself.

Pure code: imports only the standard library.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Protocol


class Kind(enum.Enum):
    """What an event is about; the value is the word compose prints."""

    NETWORK = "Network"
    VOLUME = "Volume"
    CONTAINER = "Container"
    IMAGE = "Image"
    SERVICE = "Service"


class Status(enum.Enum):
    """Where the object got to; the value is the word compose prints. ``ERROR`` marks a
    failure (rendered with a cross), ``WAITING`` a step still under way."""

    CREATED = "Created"
    STARTED = "Started"
    RUNNING = "Running"
    RECREATED = "Recreated"
    STOPPED = "Stopped"
    REMOVED = "Removed"
    RESTARTED = "Restarted"
    KILLED = "Killed"
    PAUSED = "Paused"
    UNPAUSED = "Unpaused"
    WAITING = "Waiting"
    HEALTHY = "Healthy"
    EXITED = "Exited"
    BUILT = "Built"
    PULLED = "Pulled"
    PUSHED = "Pushed"
    SKIPPED = "Skipped"
    ERROR = "Error"

    @property
    def done(self) -> bool:
        return self not in (Status.WAITING, Status.ERROR)


@dataclass(frozen=True, slots=True)
class Event:
    kind: Kind
    name: str
    status: Status
    detail: str = ""


class Reporter(Protocol):
    def event(self, event: Event) -> None: ...

    def warning(self, message: str) -> None: ...

    def output(self, text: str) -> None:
        """Text streamed by a step (build output, pull progress), as it arrives."""


class NullReporter:
    def event(self, event: Event) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def output(self, text: str) -> None:
        pass


class RecordingReporter:
    """Keeps everything it is told (tests; and ``--quiet-pull``-like callers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []
        self.warnings: list[str] = []
        self.outputs: list[str] = []

    def event(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def warning(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)

    def output(self, text: str) -> None:
        with self._lock:
            self.outputs.append(text)

    def statuses(self, name: str) -> list[Status]:
        with self._lock:
            return [event.status for event in self.events if event.name == name]
