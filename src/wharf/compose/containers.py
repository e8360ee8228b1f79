"""The container operations compose is made of, each one Engine API call or a short sequence,
reporting what it did: list a project's containers, create one from a ``CreatePlan`` (create,
then connect its other networks and write its injected files, as docker compose does before
start), start, stop, remove.

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from wharf.compose import naming
from wharf.compose.convergence import Observed
from wharf.compose.events import Event, Kind, Reporter, Status
from wharf.errdefs import NotFound

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.compose.specs import CreatePlan


def list_containers(
    client: EngineClient,
    project: str,
    *,
    services: Iterable[str] = (),
    oneoff: bool | None = False,
    all: bool = True,
) -> list[Observed]:
    """The project's containers (services only, unless ``oneoff``), sorted by service and
    number; only those of ``services`` when some are named."""
    wanted = set(services)
    found = []
    for summary in client.container_list(
        all=all, filters=naming.project_filter(project, oneoff=oneoff)
    ):
        observed = Observed.from_summary(
            id=summary.id,
            names=summary.names,
            state=summary.state,
            status=summary.status,
            image_id=summary.image_id,
            labels=summary.labels,
        )
        if wanted and observed.service not in wanted:
            continue
        found.append(observed)
    found.sort(key=lambda c: (c.service, c.number, c.name))
    return found


def create(client: EngineClient, plan: CreatePlan) -> str:
    """Create the container of ``plan`` and make it ready to start; returns its ID."""
    from wharf.compose.specs import injection_tar

    created = client.container_create(plan.spec, name=plan.name)
    for attachment in plan.attachments:
        client.network_connect(
            attachment.network,
            created.id,
            aliases=attachment.aliases,
            ipv4_address=attachment.ipv4_address,
            ipv6_address=attachment.ipv6_address,
        )
    if plan.injections:
        client.container_put_archive(
            created.id, "/", [injection_tar(plan.injections)], no_overwrite_dir_non_dir=False
        )
    return created.id


def start(client: EngineClient, container_id: str, name: str, reporter: Reporter) -> None:
    client.container_start(container_id)
    reporter.event(Event(Kind.CONTAINER, name, Status.STARTED))


def stop(
    client: EngineClient,
    container: Observed,
    reporter: Reporter,
    *,
    timeout: int | None = None,
) -> None:
    if container.running:
        try:
            client.container_stop(container.id, timeout=timeout)
        except NotFound:
            return
    reporter.event(Event(Kind.CONTAINER, container.name, Status.STOPPED))


def remove(
    client: EngineClient,
    container: Observed,
    reporter: Reporter,
    *,
    volumes: bool = False,
    report: bool = True,
) -> None:
    """Remove (forcefully: a container that will not stop must still go)."""
    with contextlib.suppress(NotFound):
        client.container_remove(container.id, force=True, volumes=volumes)
    if report:
        reporter.event(Event(Kind.CONTAINER, container.name, Status.REMOVED))
