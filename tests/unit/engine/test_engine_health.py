"""HealthMonitor: Docker's healthcheck state machine, with a fake probe runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from wharf.apitypes.containers import HealthConfig
from wharf.engine.health import HEALTHY, STARTING, UNHEALTHY, HealthMonitor, probe_argv

MS = 1_000_000


class Script:
    """Probe results in order; the last one repeats. Records every call."""

    def __init__(self, *results: tuple[int, str] | None) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, tuple[str, ...], float]] = []
        self.lock = threading.Lock()

    def __call__(
        self, container_id: str, argv: tuple[str, ...], timeout: float
    ) -> tuple[int, str] | None:
        with self.lock:
            self.calls.append((container_id, argv, timeout))
            return self.results.pop(0) if len(self.results) > 1 else self.results[0]


@pytest.fixture
def monitors() -> Iterator[list[HealthMonitor]]:
    made: list[HealthMonitor] = []
    yield made
    for monitor in made:
        monitor.close()


def _monitor(
    made: list[HealthMonitor], script: Script, changes: list[str] | None = None
) -> HealthMonitor:
    monitor = HealthMonitor(
        script,
        on_change=lambda cid, status: changes.append(status) if changes is not None else None,
    )
    made.append(monitor)
    return monitor


def _until(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_probe_argv_follows_docker_test_forms() -> None:
    assert probe_argv(("CMD", "true")) == ("true",)
    assert probe_argv(("CMD-SHELL", "exit 1")) == ("/bin/sh", "-c", "exit 1")
    assert probe_argv(("CMD-SHELL", "x"), ("/bin/bash", "-ec")) == ("/bin/bash", "-ec", "x")
    assert probe_argv(("NONE",)) is None
    assert probe_argv(()) is None


def test_success_makes_healthy_and_resets_the_streak(monitors) -> None:
    script = Script((1, "bad"), (0, "ok"))
    changes: list[str] = []
    monitor = _monitor(monitors, script, changes)
    monitor.watch("c1", HealthConfig(test=("CMD", "check"), interval=10 * MS, retries=3))
    assert monitor.status("c1") == STARTING
    _until(lambda: monitor.status("c1") == HEALTHY)
    state = monitor.state("c1")
    assert state is not None and state.failing_streak == 0
    wire = state.to_wire()
    assert wire["Status"] == "healthy" and wire["Log"][0]["ExitCode"] == 1
    assert wire["Log"][0]["Output"] == "bad" and wire["Log"][1]["ExitCode"] == 0
    assert changes == [HEALTHY]
    assert script.calls[0][1] == ("check",)


def test_retries_failures_in_a_row_make_unhealthy(monitors) -> None:
    script = Script((1, "no"))
    monitor = _monitor(monitors, script)
    monitor.watch("c1", HealthConfig(test=("CMD", "x"), interval=5 * MS, retries=2))
    _until(lambda: monitor.status("c1") == UNHEALTHY)
    state = monitor.state("c1")
    assert state is not None and state.failing_streak >= 2
    assert len(state.log) <= 5


def test_failures_in_the_start_period_do_not_count(monitors) -> None:
    script = Script((1, "warming up"))
    monitor = _monitor(monitors, script)
    monitor.watch(
        "c1",
        HealthConfig(
            test=("CMD", "x"),
            interval=5 * MS,
            retries=1,
            start_period=400 * MS,
            start_interval=5 * MS,
        ),
    )
    _until(lambda: len(script.calls) >= 3)
    assert monitor.status("c1") == STARTING  # three failures, all inside the start period
    _until(lambda: monitor.status("c1") == UNHEALTHY, timeout=5)


def test_a_timed_out_probe_counts_as_exit_minus_one(monitors) -> None:
    script = Script(None)
    monitor = _monitor(monitors, script)
    monitor.watch(
        "c1", HealthConfig(test=("CMD", "x"), interval=5 * MS, timeout=250 * MS, retries=1)
    )
    _until(lambda: monitor.status("c1") == UNHEALTHY)
    state = monitor.state("c1")
    assert state is not None
    assert state.log[0].exit_code == -1
    assert state.log[0].output == "Health check exceeded timeout (0.25s)"
    assert script.calls[0][2] == 0.25


def test_forget_stops_probing_and_none_disables(monitors) -> None:
    script = Script((0, ""))
    monitor = _monitor(monitors, script)
    monitor.watch("c1", HealthConfig(test=("CMD", "x"), interval=5 * MS))
    _until(lambda: len(script.calls) >= 1)
    monitor.forget("c1")
    seen = len(script.calls)
    time.sleep(0.1)
    assert len(script.calls) <= seen + 1  # at most one probe already in flight
    assert monitor.state("c1") is None
    monitor.watch("c2", HealthConfig(test=("NONE",)))
    assert monitor.status("c2") is None
    monitor.watch("c3", None)
    assert monitor.status("c3") is None
