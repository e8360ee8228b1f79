"""Small compose projects for the runtime tests, built from the model's types directly (so the
runtime tests do not depend on the YAML loader), and the runtime wired to a ``FakeEngine``.

Imported by name (``from compose_projects import project, service``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from compose_fake import FakeEngine

from wharf.compose.events import RecordingReporter
from wharf.compose.model import NetworkConfig, Project, Service, VolumeConfig
from wharf.compose.runtime import ComposeRuntime
from wharf.compose.waiting import Waiter


def service(name: str, **fields: Any) -> Service:
    fields.setdefault("image", "busybox")
    return Service(name=name, **fields)


def project(
    *services: Service,
    name: str = "shop",
    networks: Mapping[str, NetworkConfig] | None = None,
    volumes: Mapping[str, VolumeConfig] | None = None,
    **fields: Any,
) -> Project:
    nets = dict(networks or {})
    if "default" not in nets and any(not s.networks and not s.network_mode for s in services):
        nets["default"] = NetworkConfig(name=f"{name}_default")
    return Project(
        name=name,
        working_dir=Path("/srv/shop"),
        files=(Path("/srv/shop/compose.yaml"),),
        services={s.name: s for s in services},
        networks=nets,
        volumes=dict(volumes or {}),
        **fields,
    )


def with_service(base: Project, changed: Service) -> Project:
    return replace(base, services={**base.services, changed.name: changed})


class Harness:
    """A runtime over a fake engine, with a recording reporter and a waiter that never
    sleeps (its clock advances by each sleep)."""

    def __init__(self, engine: FakeEngine | None = None) -> None:
        self.engine = engine or FakeEngine()
        self.reporter = RecordingReporter()
        self.now = 0.0
        self.client = self.engine.client()

    def _sleep(self, seconds: float) -> None:
        self.now += seconds

    def runtime(self, proj: Project | None, name: str = "shop") -> ComposeRuntime:
        waiter = Waiter(self.client, clock=lambda: self.now, sleep=self._sleep)
        return ComposeRuntime(
            self.client, proj.name if proj else name, proj, self.reporter, waiter=waiter
        )

    def lines(self) -> list[str]:
        return [f"{e.kind.value} {e.name} {e.status.value}" for e in self.reporter.events]
