"""``down``: stop and remove the project's containers, then its networks, and with ``-v`` its
volumes, with ``--rmi`` its images.

What belongs to the project is found by label (``com.docker.compose.project``), so ``down -p
NAME`` works without the compose file, as docker compose's does:

- containers: every service container of the project, and its one-off (``run``) containers;
  those of services the file no longer has (orphans) only with ``--remove-orphans`` (they are
  warned about otherwise, and the networks they use stay);
- containers are stopped dependants first (reverse dependency order when the file is known),
  then removed (with ``v=1``: their anonymous volumes go with them);
- networks: those labelled as the project's; external ones carry no label and stay;
- volumes (``-v``): those labelled as the project's, and the file's declared non-external ones;
- images (``--rmi local``): those built under the default ``<project>-<service>`` name;
  (``--rmi all``) every image a service uses.

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.compose``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.compose import containers as ops
from wharf.compose import naming, resources
from wharf.compose.convergence import Observed, find_orphans
from wharf.compose.events import Event, Kind, Reporter, Status
from wharf.compose.up import ORPHANS_WARNING
from wharf.errdefs import Conflict, NotFound

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.compose.project import Project


class RemoveImages(enum.Enum):
    NONE = ""
    LOCAL = "local"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class DownOptions:
    remove_orphans: bool = False
    volumes: bool = False
    images: RemoveImages = RemoveImages.NONE
    timeout: int | None = None


def stop_order(containers: list[Observed], project: Project | None) -> list[Observed]:
    """Dependants first: the reverse of the project's dependency order; unknown services
    (orphans, or no file) first of all."""
    if project is None:
        return sorted(containers, key=lambda c: (c.service, c.number))
    order = list(reversed(project.dependency_order()))
    rank = {name: index for index, name in enumerate(order)}
    return sorted(containers, key=lambda c: (rank.get(c.service, -1), c.service, c.number))


def down(
    client: EngineClient,
    project_name: str,
    project: Project | None,
    options: DownOptions,
    reporter: Reporter,
) -> None:
    found = ops.list_containers(client, project_name, oneoff=None)
    if project is not None:
        known = [*project.services, *(project.disabled_services or ())]
        orphans = find_orphans(found, known)
        if orphans and not options.remove_orphans:
            names = " ".join(orphan.name for orphan in orphans)
            reporter.warning(ORPHANS_WARNING.format(names=f"[{names}]"))
            orphan_ids = {orphan.id for orphan in orphans}
            found = [c for c in found if c.id not in orphan_ids]
    ordered = stop_order(found, project)
    for container in ordered:
        ops.stop(client, container, reporter, timeout=options.timeout)
    for container in ordered:
        ops.remove(client, container, reporter, volumes=True)
    still_used = _networks_still_used(client, project_name)
    resources.remove_networks(client, project_name, reporter, keep=still_used)
    if options.volumes:
        declared = []
        if project is not None:
            declared = [str(v.name) for v in project.volumes.values() if v.name and not v.external]
        resources.remove_volumes(client, project_name, reporter, names=declared)
    if options.images is not RemoveImages.NONE and project is not None:
        _remove_images(client, project, options.images, reporter)


def _networks_still_used(client: EngineClient, project_name: str) -> set[str]:
    """Networks that containers left behind (kept orphans) still use: they stay."""
    used: set[str] = set()
    left = client.container_list(all=True, filters=naming.project_filter(project_name, oneoff=None))
    for summary in left:
        used.update(summary.networks)
    return used


def _remove_images(
    client: EngineClient, project: Project, which: RemoveImages, reporter: Reporter
) -> None:
    from wharf.compose.images import image_name

    names: dict[str, None] = {}
    for service in project.services.values():
        if which is RemoveImages.LOCAL and (service.build is None or service.image):
            continue
        names[image_name(project, service)] = None
    for name in names:
        try:
            client.image_remove(name)
        except NotFound:
            continue
        except Conflict as exc:
            reporter.warning(f"image {name}: {exc}")
            continue
        reporter.event(Event(Kind.IMAGE, name, Status.REMOVED))
