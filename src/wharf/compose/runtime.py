"""``ComposeRuntime``: every ``wharf compose`` command's work, against one project, through one
``EngineClient``. The CLI parses flags into the options types here and renders the events the
runtime reports; it never reaches the daemon itself except to attach to a stream.

Commands and the calls they make (all Engine API, as docker compose makes them):

    up / create     see ``compose.up``
    down            see ``compose.down``
    ps, top, port,  GET /containers/json?all=1&filters={"label":[project, oneoff=False]}
    images, exec    (then per container: /top, /json, /images/{id}/json, /exec)
    start           POST /containers/{id}/start, dependencies first (conditions waited on)
    stop            POST /containers/{id}/stop, dependants first
    restart         POST /containers/{id}/restart
    kill            POST /containers/{id}/kill?signal=
    pause/unpause   POST /containers/{id}/pause, /unpause
    rm              DELETE /containers/{id}?v=1 for stopped ones (-s: stop first)
    build/pull/push see ``compose.images``
    run             create a one-off container (``com.docker.compose.oneoff=True``, named
                    ``<project>-<service>-run-<12 hex>``) after ``up`` of its dependencies
    logs            see ``compose.logs``

A runtime may have no ``Project`` (``down -p NAME`` with no file): the commands that work from
labels alone (down, ps, stop, start, rm, kill, logs...) still work; those that need the file
raise ``InvalidArgument`` ("no configuration file provided: not found").

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.compose import containers as ops
from wharf.compose import down as down_module
from wharf.compose import images as image_ops
from wharf.compose import naming, resources
from wharf.compose.convergence import Observed
from wharf.compose.events import Event, Kind, NullReporter, Reporter, Status
from wharf.compose.logs import LogOptions, LogStream
from wharf.compose.up import Up, UpOptions, selection
from wharf.compose.waiting import Waiter
from wharf.errdefs import Conflict, InvalidArgument, NotFound

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.client.container_results import ContainerSummary
    from wharf.compose.down import DownOptions
    from wharf.compose.project import Project, Service
    from wharf.compose.specs import CreatePlan

NO_PROJECT_FILE = "no configuration file provided: not found"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """``compose run``: what overrides the service's own settings for the one-off container."""

    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    name: str = ""
    tty: bool = True
    stdin_open: bool = True
    no_deps: bool = False
    service_ports: bool = False
    use_aliases: bool = False
    remove: bool = False
    images: image_ops.ImageOptions = dataclasses.field(default_factory=image_ops.ImageOptions)


class ComposeRuntime:
    def __init__(
        self,
        client: EngineClient,
        project_name: str,
        project: Project | None,
        reporter: Reporter | None = None,
        *,
        waiter: Waiter | None = None,
    ) -> None:
        self.client = client
        self.project_name = project_name
        self._project = project
        self.reporter: Reporter = reporter or NullReporter()
        self.waiter = waiter

    @property
    def project(self) -> Project:
        if self._project is None:
            raise InvalidArgument(NO_PROJECT_FILE)
        return self._project

    @property
    def has_project(self) -> bool:
        return self._project is not None

    def _check_services(self, services: Sequence[str]) -> None:
        if self._project is None:
            return
        for name in services:
            if name not in self._project.services:
                raise NotFound(f"no such service: {name}")

    # --- reading

    def containers(
        self, services: Sequence[str] = (), *, all: bool = True, oneoff: bool | None = False
    ) -> list[Observed]:
        self._check_services(services)
        return ops.list_containers(
            self.client, self.project_name, services=services, oneoff=oneoff, all=all
        )

    def summaries(
        self, services: Sequence[str] = (), *, all: bool = False
    ) -> list[ContainerSummary]:
        """``ps``: the daemon's rows for the project's containers, sorted by name."""
        self._check_services(services)
        wanted = set(services)
        rows = self.client.container_list(
            all=all, filters=naming.project_filter(self.project_name, oneoff=None)
        )
        kept = [r for r in rows if not wanted or dict(r.labels).get(naming.SERVICE) in wanted]
        return sorted(kept, key=lambda r: r.names[0] if r.names else r.id)

    def find(self, service: str, index: int = 1) -> Observed:
        """The container ``exec``/``port`` address: replica ``index`` of ``service``."""
        self._check_services([service])
        for container in self.containers([service], all=True):
            if container.number == index:
                if not container.running:
                    raise Conflict(f'service "{service}" is not running')
                return container
        raise NotFound(f'service "{service}" is not running')

    # --- up / down

    def up(self, options: UpOptions) -> list[Observed]:
        self._check_services(options.services)
        return Up(self.client, self.project, self.reporter, waiter=self._waiter()).run(options)

    def down(self, options: DownOptions) -> None:
        down_module.down(self.client, self.project_name, self._project, options, self.reporter)

    def _waiter(self) -> Waiter:
        return self.waiter if self.waiter is not None else Waiter(self.client)

    # --- lifecycle of existing containers

    def _ordered(self, services: Sequence[str], *, reverse: bool = False) -> list[Observed]:
        found = self.containers(services, all=True)
        if self._project is None:
            return found
        order = self._project.dependency_order()
        if reverse:
            order = list(reversed(order))
        rank = {name: index for index, name in enumerate(order)}
        return sorted(found, key=lambda c: (rank.get(c.service, len(rank)), c.number))

    def start(self, services: Sequence[str] = ()) -> None:
        """Start the services' existing containers, dependencies first."""
        if self._project is None:
            for container in self.containers(services):
                if not container.running:
                    ops.start(self.client, container.id, container.name, self.reporter)
            return
        self._check_services(services)
        names = selection(self.project, services)
        found = self.containers(names, all=True)
        if not found:
            raise NotFound(
                "service has no container to start" if services else "no containers to start"
            )
        up = Up(self.client, self.project, self.reporter, waiter=self._waiter())
        up.start_existing(found, names)

    def stop(self, services: Sequence[str] = (), *, timeout: int | None = None) -> None:
        for container in self._ordered(services, reverse=True):
            ops.stop(self.client, container, self.reporter, timeout=timeout)

    def restart(self, services: Sequence[str] = (), *, timeout: int | None = None) -> None:
        for container in self._ordered(services):
            self.client.container_restart(container.id, timeout=timeout)
            self.reporter.event(Event(Kind.CONTAINER, container.name, Status.STARTED))

    def kill(self, services: Sequence[str] = (), *, signal: str = "") -> None:
        for container in self._ordered(services, reverse=True):
            if not container.running:
                continue
            self.client.container_kill(container.id, signal=signal)
            self.reporter.event(Event(Kind.CONTAINER, container.name, Status.KILLED))

    def pause(self, services: Sequence[str] = ()) -> None:
        for container in self._ordered(services):
            if container.state == "running":
                self.client.container_pause(container.id)
                self.reporter.event(Event(Kind.CONTAINER, container.name, Status.PAUSED))

    def unpause(self, services: Sequence[str] = ()) -> None:
        for container in self._ordered(services):
            if container.state == "paused":
                self.client.container_unpause(container.id)
                self.reporter.event(Event(Kind.CONTAINER, container.name, Status.UNPAUSED))

    def removable(
        self, services: Sequence[str] = (), *, stop_first: bool = False
    ) -> list[Observed]:
        """What ``rm`` would remove: stopped containers (all of them when ``stop_first``)."""
        found = self.containers(services, all=True)
        return [c for c in found if stop_first or not c.running]

    def rm(
        self,
        containers: Sequence[Observed],
        *,
        stop_first: bool = False,
        volumes: bool = False,
        timeout: int | None = None,
    ) -> None:
        for container in containers:
            if stop_first and container.running:
                ops.stop(self.client, container, self.reporter, timeout=timeout)
            ops.remove(self.client, container, self.reporter, volumes=volumes)

    # --- images

    def _services(self, names: Sequence[str]) -> list[Service]:
        self._check_services(names)
        project = self.project
        return [project.services[name] for name in (names or project.dependency_order())]

    def build(
        self, services: Sequence[str] = (), *, no_cache: bool = False, pull: bool = False
    ) -> None:
        for service in self._services(services):
            if service.build is None:
                continue
            image_ops.build(
                self.client,
                self.project,
                service,
                no_cache=no_cache,
                pull=pull,
                reporter=self.reporter,
            )

    def pull(self, services: Sequence[str] = (), *, ignore_failures: bool = False) -> None:
        from wharf.errdefs import WharfError

        for service in self._services(services):
            if service.build is not None and not service.image:
                continue
            name = image_ops.image_name(self.project, service)
            try:
                image_ops.pull(self.client, service, name, self.reporter)
            except WharfError as exc:
                if not ignore_failures and service.build is None:
                    raise
                self.reporter.warning(f"{service.name}: failed to pull {name}: {exc}")

    def push(self, services: Sequence[str] = (), *, ignore_failures: bool = False) -> None:
        image_ops.push(
            self.client, self._services(services), self.reporter, ignore_failures=ignore_failures
        )

    def image_names(self) -> dict[str, str]:
        """service -> the image it runs (``compose images`` shows what containers use)."""
        return {
            name: image_ops.image_name(self.project, service)
            for name, service in self.project.services.items()
        }

    # --- run

    def prepare_run(self, service_name: str, options: RunOptions) -> CreatePlan:
        """Bring up the service's dependencies and what it joins; plan its one-off container."""
        from wharf.compose.specs import container_spec

        self._check_services([service_name])
        project = self.project
        service = project.services[service_name]
        if not options.no_deps:
            dependencies = [n for n in selection(project, [service_name]) if n != service_name]
            if dependencies:
                self.up(UpOptions(services=tuple(dependencies), images=options.images))
        for key in resources.network_keys([service]):
            resources.ensure_network(self.client, project, key, self.reporter)
        for key in resources.volume_keys(project, [service]):
            resources.ensure_volume(self.client, project, key, self.reporter)
        image_ids = image_ops.ensure(self.client, project, [service], options.images, self.reporter)
        name = options.name or naming.oneoff_name(project.name, service_name, secrets.token_hex(6))
        service_containers = {
            c.service: c.id for c in reversed(self.containers(all=False)) if c.number == 1
        }
        return container_spec(
            project,
            service,
            name=name,
            number=1,
            image=image_ops.image_name(project, service),
            image_id=image_ids.get(service_name, ""),
            service_container=service_containers,
            oneoff=True,
            command=options.command,
            entrypoint=options.entrypoint,
            environment=options.environment,
            user=options.user,
            working_dir=options.workdir,
            tty=options.tty,
            stdin_open=options.stdin_open,
            publish_ports=options.service_ports,
            use_aliases=options.use_aliases,
            extra_labels=options.labels,
        )

    def create_planned(self, plan: CreatePlan) -> str:
        return ops.create(self.client, plan)

    def logs(
        self,
        services: Sequence[str] = (),
        options: LogOptions | None = None,
        *,
        containers: Sequence[Observed] | None = None,
        report_exits: bool = False,
        tails: dict[str, str] | None = None,
    ) -> LogStream:
        found = containers if containers is not None else self.containers(services, all=True)
        return LogStream(
            self.client, found, options or LogOptions(), tails=tails, report_exits=report_exits
        )
