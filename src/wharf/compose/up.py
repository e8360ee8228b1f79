"""``up`` (and ``create``): converge the daemon to the project, docker compose v2's way.

Order of work::

    select services ─ named ones plus what they depend on (unless --no-deps), in dependency
    │                 order; none named: all
    ├─ orphans       containers of services the project no longer has: warned, or removed
    │                with --remove-orphans
    ├─ networks      every network the selected services join, created when missing
    ├─ volumes       every named volume they mount, created when missing
    ├─ images        built or pulled as needed (``images.ensure``); their IDs feed the plan
    ├─ phase 1       per service, dependencies first: remove scaled-away replicas, recreate
    │                diverged ones (stop, remove, create), create missing ones; "Running"
    │                for what is already up to date
    ├─ phase 2       per service, dependencies first: wait for each dependency's condition,
    │                then start its containers that are not running
    └─ --wait        every container running, and healthy where it has a healthcheck

Invariants: nothing is created before the whole selection is known to be valid (unknown
services, a scaled ``container_name``); an engine error stops ``up`` where it is and leaves what
was made in place, as docker compose does. Recreating stops and removes the old container
before the new one is created, so the name and the replica's addresses are reused.

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.compose import containers as ops
from wharf.compose import naming, resources
from wharf.compose.convergence import (
    Action,
    ActionKind,
    Observed,
    Recreate,
    by_service,
    find_orphans,
    plan_service,
)
from wharf.compose.events import Event, Kind, Reporter, Status
from wharf.compose.images import ImageOptions, ensure, image_name
from wharf.compose.specs import container_spec
from wharf.compose.waiting import Condition, DependencyFailed, Target, Waiter
from wharf.errdefs import InvalidArgument, NotFound

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.compose.project import Project, Service

ORPHANS_WARNING = (
    "Found orphan containers ({names}) for this project. If you removed or renamed this "
    "service in your compose file, you can run this command with the --remove-orphans flag to "
    "clean it up."
)


@dataclass(frozen=True, slots=True)
class UpOptions:
    services: tuple[str, ...] = ()
    no_deps: bool = False
    recreate: Recreate = Recreate.DIVERGED
    remove_orphans: bool = False
    scale: Mapping[str, int] = field(default_factory=dict)
    start: bool = True
    wait: bool = False
    wait_timeout: float | None = None
    timeout: int | None = None  # seconds to stop a container being replaced or removed
    images: ImageOptions = field(default_factory=ImageOptions)


def selection(project: Project, names: Sequence[str], *, no_deps: bool = False) -> list[str]:
    """The services ``up NAMES`` acts on, dependencies first."""
    for name in names:
        if name not in project.services:
            raise NotFound(f"no such service: {name}")
    order = list(project.dependency_order())
    if not names:
        return order
    wanted = set(names)
    if not no_deps:
        pending = list(names)
        while pending:
            service = project.services[pending.pop()]
            for dependency in service.depends_on or {}:
                if dependency in project.services and dependency not in wanted:
                    wanted.add(dependency)
                    pending.append(dependency)
    return [name for name in order if name in wanted]


def targets(containers: Sequence[Observed]) -> list[Target]:
    return [Target(c.name, c.id, c.service) for c in containers]


class Up:
    """One ``up``: holds what it learns (containers per service) between its phases."""

    def __init__(
        self,
        client: EngineClient,
        project: Project,
        reporter: Reporter,
        *,
        waiter: Waiter | None = None,
    ) -> None:
        self.client = client
        self.project = project
        self.reporter = reporter
        self.waiter = waiter or Waiter(client)
        # service -> its containers as they stand after phase 1 (ID, name), replica order
        self.current: dict[str, list[Observed]] = {}

    # --- the whole

    def run(self, options: UpOptions) -> list[Observed]:
        """Converge; returns the selected services' containers (for attaching)."""
        project = self.project
        names = selection(project, options.services, no_deps=options.no_deps)
        services = [project.services[name] for name in names]
        for service in services:
            self._check_scale(service, options)
        existing = ops.list_containers(self.client, project.name)
        self._orphans(existing, options)
        for key in resources.network_keys(services):
            resources.ensure_network(self.client, project, key, self.reporter)
        for key in resources.volume_keys(project, services):
            resources.ensure_volume(self.client, project, key, self.reporter)
        image_ids = ensure(self.client, project, services, options.images, self.reporter)
        grouped = by_service(existing)
        for service in services:
            self._converge(service, grouped.get(service.name, []), image_ids, options)
        if options.start:
            for service in services:
                self._start(service, names, options)
        if options.wait:
            self._wait_all(services, options)
        return [c for name in names for c in self.current.get(name, [])]

    def _replicas(self, service: Service, options: UpOptions) -> int:
        return options.scale.get(service.name, service.replicas())

    def _check_scale(self, service: Service, options: UpOptions) -> None:
        replicas = self._replicas(service, options)
        if replicas < 0:
            raise InvalidArgument(f'invalid scale for service "{service.name}": {replicas}')
        if service.container_name and replicas > 1:
            raise InvalidArgument(
                f'service "{service.name}" has container_name "{service.container_name}", '
                f"so it cannot be scaled to {replicas}: container names must be unique"
            )

    def _orphans(self, existing: Sequence[Observed], options: UpOptions) -> None:
        known = [*self.project.services, *(self.project.disabled_services or ())]
        orphans = find_orphans(existing, known)
        if not orphans:
            return
        if options.remove_orphans:
            for orphan in orphans:
                ops.stop(self.client, orphan, self.reporter, timeout=options.timeout)
                ops.remove(self.client, orphan, self.reporter)
            return
        names = " ".join(orphan.name for orphan in orphans)
        self.reporter.warning(ORPHANS_WARNING.format(names=f"[{names}]"))

    # --- phase 1

    def _name(self, service: Service, number: int) -> str:
        if service.container_name:
            return str(service.container_name)
        return naming.container_name(self.project.name, service.name, number)

    def _service_containers(self) -> dict[str, str]:
        """service -> the ID of its first container (``network_mode: service:x``)."""
        return {name: found[0].id for name, found in self.current.items() if found}

    def _create(self, service: Service, number: int, image_id: str) -> Observed:
        name = self._name(service, number)
        plan = container_spec(
            self.project,
            service,
            name=name,
            number=number,
            image=image_name(self.project, service),
            image_id=image_id,
            service_container=self._service_containers(),
        )
        container_id = ops.create(self.client, plan)
        labels = dict(plan.spec.config.labels)
        return Observed(
            id=container_id,
            name=name,
            service=service.name,
            number=number,
            state="created",
            config_hash=labels.get(naming.CONFIG_HASH, ""),
            image_id=image_id,
            labels=labels,
        )

    def _converge(
        self,
        service: Service,
        existing: list[Observed],
        image_ids: Mapping[str, str],
        options: UpOptions,
    ) -> None:
        image_id = image_ids.get(service.name, "")
        actions = plan_service(
            service.name,
            replicas=self._replicas(service, options),
            config_hash=service.config_hash(),
            image_id=image_id,
            existing=existing,
            policy=options.recreate,
        )
        result: list[Observed] = []
        for action in actions:
            made = self._apply(service, action, image_id, options)
            if made is not None:
                result.append(made)
        self.current[service.name] = sorted(result, key=lambda c: c.number)

    def _apply(
        self, service: Service, action: Action, image_id: str, options: UpOptions
    ) -> Observed | None:
        container = action.container
        if action.kind is ActionKind.REMOVE:
            assert container is not None
            ops.stop(self.client, container, self.reporter, timeout=options.timeout)
            ops.remove(self.client, container, self.reporter)
            return None
        if action.kind is ActionKind.RECREATE:
            assert container is not None
            if container.running:
                self.client.container_stop(container.id, timeout=options.timeout)
            ops.remove(self.client, container, self.reporter, report=False)
            made = self._create(service, action.number, image_id)
            self.reporter.event(Event(Kind.CONTAINER, made.name, Status.RECREATED))
            return made
        if action.kind is ActionKind.CREATE:
            made = self._create(service, action.number, image_id)
            self.reporter.event(Event(Kind.CONTAINER, made.name, Status.CREATED))
            return made
        assert container is not None
        if action.kind is ActionKind.KEEP:
            self.reporter.event(Event(Kind.CONTAINER, container.name, Status.RUNNING))
        return container

    # --- phase 2

    def _wait_dependencies(self, service: Service, selected: Sequence[str]) -> None:
        for dependency_name, dependency in (service.depends_on or {}).items():
            if dependency_name not in selected:
                continue
            condition = Condition.of(dependency.condition)
            if condition is Condition.STARTED:
                continue
            found = targets(self.current.get(dependency_name, []))
            try:
                self._wait_condition(found, condition)
            except DependencyFailed as exc:
                if getattr(dependency, "required", True):
                    raise
                self.reporter.warning(str(exc))

    def _wait_condition(self, found: Sequence[Target], condition: Condition) -> None:
        for target in found:
            self.reporter.event(Event(Kind.CONTAINER, target.name, Status.WAITING))
            if condition is Condition.HEALTHY:
                self.waiter.healthy(target)
                self.reporter.event(Event(Kind.CONTAINER, target.name, Status.HEALTHY))
            else:
                self.waiter.completed(target)
                self.reporter.event(Event(Kind.CONTAINER, target.name, Status.EXITED))

    def _start(self, service: Service, selected: Sequence[str], options: UpOptions) -> None:
        containers = self.current.get(service.name, [])
        if all(c.running for c in containers):
            return
        self._wait_dependencies(service, selected)
        started = []
        for container in containers:
            if container.running:
                started.append(container)
                continue
            ops.start(self.client, container.id, container.name, self.reporter)
            started.append(dataclasses.replace(container, state="running"))
        self.current[service.name] = started

    def start_existing(self, containers: Sequence[Observed], names: Sequence[str]) -> None:
        """``compose start``: start these containers, services in ``names`` order, each
        after its dependencies' conditions hold."""
        for container in containers:
            self.current.setdefault(container.service, []).append(container)
        for name in names:
            if name in self.current:
                self._start(self.project.services[name], names, UpOptions())

    # --- --wait

    def _completion_services(self) -> set[str]:
        """Services some other service waits on to complete: they may exit 0."""
        names = set()
        for service in self.project.services.values():
            for name, dependency in (service.depends_on or {}).items():
                if Condition.of(dependency.condition) is Condition.COMPLETED:
                    names.add(name)
        return names

    def _wait_all(self, services: Sequence[Service], options: UpOptions) -> None:
        if options.wait_timeout is not None:
            self.waiter.deadline = self.waiter.clock() + options.wait_timeout
        may_exit = self._completion_services()
        for service in services:
            for target in targets(self.current.get(service.name, [])):
                self.reporter.event(Event(Kind.CONTAINER, target.name, Status.WAITING))
                word = self.waiter.running(target, allow_exit_zero=service.name in may_exit)
                status = {"healthy": Status.HEALTHY, "exited": Status.EXITED}.get(
                    word, Status.RUNNING
                )
                self.reporter.event(Event(Kind.CONTAINER, target.name, status))
