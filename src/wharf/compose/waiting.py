"""Waiting for containers: the ``depends_on`` conditions and ``up --wait``.

- started: the dependency's containers were started (``up`` starts dependencies first, so
  there is nothing left to wait for; a container that already exited still counts);
- healthy: ``State.Health.Status`` is polled until "healthy"; "unhealthy" fails with
  ``dependency failed to start: container shop-auth-1 is unhealthy``, an exit with
  ``... container shop-auth-1 exited (1)``, a container without a healthcheck with
  ``... container shop-auth-1 has no healthcheck configured`` (docker compose's words);
- completed successfully: ``POST /containers/{id}/wait`` until it exits; a non-zero code fails
  with ``service "x" didn't complete successfully: exit 1``.

``up --wait`` asks every container to be running (healthy when it has a healthcheck) and
fails naming the first that is not, as ``container shop-auth-1 is unhealthy`` /
``container shop-auth-1 exited (1)``.

The clock and the sleep are parameters (``Waiter``), so tests need no real time.

Imports the standard library, ``wharf.errdefs`` and ``wharf.client`` (typing only).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.errdefs import Conflict, Unavailable

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.client.container_models import ContainerInspect

POLL_INTERVAL = 0.25


class Condition(enum.Enum):
    """``depends_on`` conditions, by their compose spelling."""

    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"

    @classmethod
    def of(cls, value: object) -> Condition:
        """The condition of a model value (an enum with a compose value, or its text)."""
        text = str(getattr(value, "value", value))
        for condition in cls:
            if condition.value == text or condition.name == text.upper():
                return condition
        return cls.STARTED


class DependencyFailed(Conflict):
    """A dependency did not reach its condition (compose exits 1 with this message)."""


class WaitTimeout(Unavailable):
    """``--wait-timeout`` ran out."""


@dataclass(frozen=True, slots=True)
class Target:
    """A container to wait for: its name (for messages), ID and service."""

    name: str
    id: str
    service: str


@dataclass(slots=True)
class Waiter:
    client: EngineClient
    interval: float = POLL_INTERVAL
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    deadline: float | None = None
    on_progress: Callable[[Target, str], None] = field(default=lambda _t, _s: None)

    def _check_deadline(self, what: str) -> None:
        if self.deadline is not None and self.clock() >= self.deadline:
            raise WaitTimeout(f"timeout waiting for {what}")

    def _inspect(self, target: Target) -> ContainerInspect:
        return self.client.container_inspect(target.id)

    def healthy(self, target: Target, *, prefix: str = "dependency failed to start: ") -> None:
        """Poll until ``target`` is healthy; raise ``DependencyFailed`` if it cannot be."""
        while True:
            inspected = self._inspect(target)
            state = inspected.state
            if state.health == "healthy":
                return
            if state.health == "unhealthy":
                raise DependencyFailed(f"{prefix}container {target.name} is unhealthy")
            if not state.running and state.status in ("exited", "dead"):
                raise DependencyFailed(
                    f"{prefix}container {target.name} exited ({state.exit_code})"
                )
            if not state.health and state.running:
                raise DependencyFailed(
                    f"{prefix}container {target.name} has no healthcheck configured"
                )
            self._check_deadline(f"container {target.name} to be healthy")
            self.sleep(self.interval)

    def completed(self, target: Target) -> int:
        """Block until ``target`` exits; raise unless it exited 0."""
        from wharf.client.containers import WaitCondition

        if self.deadline is None:
            code = self.client.container_wait(target.id, WaitCondition.NOT_RUNNING).result()
            status = code.status_code
        else:
            status = self._poll_exit(target)
        if status != 0:
            raise DependencyFailed(
                f'service "{target.service}" didn\'t complete successfully: exit {status}'
            )
        return status

    def _poll_exit(self, target: Target) -> int:
        while True:
            state = self._inspect(target).state
            if not state.running and state.status in ("exited", "dead"):
                return state.exit_code
            self._check_deadline(f"container {target.name} to exit")
            self.sleep(self.interval)

    def condition(self, targets: Sequence[Target], condition: Condition) -> None:
        for target in targets:
            if condition is Condition.HEALTHY:
                self.on_progress(target, "waiting")
                self.healthy(target)
                self.on_progress(target, "healthy")
            elif condition is Condition.COMPLETED:
                self.on_progress(target, "waiting")
                self.completed(target)
                self.on_progress(target, "exited")

    def running(self, target: Target, *, allow_exit_zero: bool = False) -> str:
        """``up --wait``: running (and healthy, if it has a healthcheck). Returns the final
        state word: "healthy", "running" or "exited"."""
        while True:
            state = self._inspect(target).state
            if state.health == "unhealthy":
                raise DependencyFailed(f"container {target.name} is unhealthy")
            if not state.running and state.status in ("exited", "dead"):
                if allow_exit_zero and state.exit_code == 0:
                    return "exited"
                raise DependencyFailed(f"container {target.name} exited ({state.exit_code})")
            if state.running and state.health in ("", "healthy"):
                return "healthy" if state.health else "running"
            self._check_deadline(f"container {target.name}")
            self.sleep(self.interval)
