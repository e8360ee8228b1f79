"""HealthMonitor: the engine runs containers' healthchecks (HEALTHCHECK or ``--health-*``).

Layer L2. Imports: stdlib, ``wharf.errdefs``, ``wharf.apitypes.containers``.

Docker's rules (daemon/health.go): a container with a healthcheck starts ``starting``; a
probe runs ``interval`` after the previous one (``start_interval`` during ``start_period``);
exit 0 makes it ``healthy`` and resets the failing streak; any other result adds to the
streak, except during the start period, and ``retries`` failures in a row make it
``unhealthy``. A probe that outlives ``timeout`` is killed and counts as exit -1. The last 5
results (output cut at 4 KiB) are kept for ``inspect``'s ``State.Health.Log``.

One scheduler thread keeps a heap of due probes; probes run on a small pool, so a thousand
containers with healthchecks cost one thread plus the probes actually running. Health lives
in memory: after a daemon restart, running containers start again from ``starting`` (their
next probe settles it), which is what Docker shows for a restarted container too.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wharf.apitypes.containers import HealthConfig

log = logging.getLogger("wharf.engine.health")

DEFAULT_INTERVAL_NS = 30_000_000_000
DEFAULT_TIMEOUT_NS = 30_000_000_000
DEFAULT_START_INTERVAL_NS = 5_000_000_000
DEFAULT_RETRIES = 3
MAX_OUTPUT = 4096
LOG_ENTRIES = 5

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    exit_code: int
    output: str
    start: str
    end: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "Start": self.start,
            "End": self.end,
            "ExitCode": self.exit_code,
            "Output": self.output,
        }


@dataclass
class HealthState:
    status: str = STARTING
    failing_streak: int = 0
    log: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=LOG_ENTRIES))

    def to_wire(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "FailingStreak": self.failing_streak,
            "Log": [result.to_wire() for result in self.log],
        }


# Runs ``argv`` in the container within ``timeout`` seconds: (exit code, output). A probe that
# times out returns None (the runner has killed it).
ProbeRunner = Callable[[str, tuple[str, ...], float], "tuple[int, str] | None"]


@dataclass
class _Watch:
    container_id: str
    argv: tuple[str, ...]
    interval: float
    timeout: float
    start_period: float
    start_interval: float
    retries: int
    started: float
    state: HealthState = field(default_factory=HealthState)
    generation: int = 0


def probe_argv(test: tuple[str, ...], shell: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The command a healthcheck test runs, or None when it disables health checking."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return test[1:] or None
    if test[0] == "CMD-SHELL":
        return (*(shell or ("/bin/sh", "-c")), " ".join(test[1:]))
    return None


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class HealthMonitor:
    def __init__(
        self,
        run_probe: ProbeRunner,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, str], None] = lambda container_id, status: None,
        workers: int = 8,
    ) -> None:
        self._run_probe = run_probe
        self._clock = clock
        self._on_change = on_change
        self._watches: dict[str, _Watch] = {}
        self._due: list[tuple[float, int, str]] = []  # (due time, generation, container id)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health")
        self._closed = False
        self._thread = threading.Thread(target=self._schedule, name="health-scheduler", daemon=True)
        self._thread.start()

    def watch(
        self, container_id: str, health: HealthConfig | None, shell: tuple[str, ...] = ()
    ) -> None:
        """The container just started: begin probing it (no-op without a healthcheck)."""
        argv = probe_argv(health.test, shell) if health is not None else None
        if health is None or argv is None:
            self.forget(container_id)
            return

        def seconds(value_ns: int, default_ns: int) -> float:
            return (value_ns or default_ns) / 1e9

        with self._lock:
            previous = self._watches.get(container_id)
            watch = _Watch(
                container_id=container_id,
                argv=argv,
                interval=seconds(health.interval, DEFAULT_INTERVAL_NS),
                timeout=seconds(health.timeout, DEFAULT_TIMEOUT_NS),
                start_period=health.start_period / 1e9,
                start_interval=seconds(health.start_interval, DEFAULT_START_INTERVAL_NS),
                retries=health.retries or DEFAULT_RETRIES,
                started=self._clock(),
                generation=(previous.generation + 1) if previous else 0,
            )
            self._watches[container_id] = watch
            self._push(watch)

    def forget(self, container_id: str) -> None:
        """The container stopped or went away: no more probes (its last state is dropped)."""
        with self._lock:
            self._watches.pop(container_id, None)

    def state(self, container_id: str) -> HealthState | None:
        with self._lock:
            watch = self._watches.get(container_id)
            if watch is None:
                return None
            return HealthState(
                watch.state.status,
                watch.state.failing_streak,
                deque(watch.state.log, maxlen=LOG_ENTRIES),
            )

    def status(self, container_id: str) -> str | None:
        with self._lock:
            watch = self._watches.get(container_id)
            return watch.state.status if watch is not None else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- scheduling

    def _in_start_period(self, watch: _Watch, now: float) -> bool:
        return now - watch.started < watch.start_period

    def _push(self, watch: _Watch) -> None:
        now = self._clock()
        delay = (
            watch.start_interval
            if self._in_start_period(watch, now) and watch.state.status == STARTING
            else watch.interval
        )
        heapq.heappush(self._due, (now + delay, watch.generation, watch.container_id))
        self._wake.notify()

    def _schedule(self) -> None:
        with self._lock:
            while not self._closed:
                if not self._due:
                    self._wake.wait()
                    continue
                due, generation, container_id = self._due[0]
                now = self._clock()
                if due > now:
                    self._wake.wait(min(due - now, 1.0))
                    continue
                heapq.heappop(self._due)
                watch = self._watches.get(container_id)
                if watch is None or watch.generation != generation:
                    continue  # forgotten, or restarted with a fresh schedule
                self._pool.submit(self._probe, watch)

    def _probe(self, watch: _Watch) -> None:
        start = _now_text()
        try:
            outcome = self._run_probe(watch.container_id, watch.argv, watch.timeout)
        except Exception as exc:  # the probe could not even start (container gone, exec refused)
            outcome = (-1, str(exc))
        end = _now_text()
        if outcome is None:
            result = ProbeResult(
                -1, f"Health check exceeded timeout ({watch.timeout:g}s)", start, end
            )
        else:
            code, output = outcome
            result = ProbeResult(code, output[:MAX_OUTPUT], start, end)
        changed: str | None = None
        with self._lock:
            if self._watches.get(watch.container_id) is not watch:
                return
            state = watch.state
            state.log.append(result)
            before = state.status
            if result.exit_code == 0:
                state.failing_streak = 0
                state.status = HEALTHY
            elif not (self._in_start_period(watch, self._clock()) and state.status == STARTING):
                state.failing_streak += 1
                if state.failing_streak >= watch.retries:
                    state.status = UNHEALTHY
            if state.status != before:
                changed = state.status
            self._push(watch)
        if changed is not None:
            log.info("container %s is %s", watch.container_id[:12], changed)
            self._on_change(watch.container_id, changed)
