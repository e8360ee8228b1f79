"""Checks on the merged, typed project: references resolve and dependencies are acyclic.

Imports: stdlib, ``wharf.compose.errors`` (and the model types, for type checking only:
``project`` calls in here).

Checked for every active service, in this order, first failure raised:

- it has an ``image`` or a ``build``;
- ``network_mode: service:x``, ``links`` and ``volumes_from`` name defined services;
- every required ``depends_on`` target is a defined service, and an active one;
- its networks, named volumes, secrets and configs are declared at the top level;
- then, over all active services, ``depends_on`` has no cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.compose.errors import ComposeError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wharf.compose.project import Project, Service


def service_reference(text: str) -> str | None:
    """The service a ``volumes_from``/``network_mode`` value names, if it names one."""
    if text.startswith("container:"):
        return None
    if text.startswith("service:"):
        return text.removeprefix("service:")
    return text.split(":", 1)[0]


def check_project(project: Project) -> None:
    every: Mapping[str, Service] = {**project.services, **project.disabled_services}
    for name, service in project.services.items():
        where = f"services.{name}"
        if service.image is None and service.build is None:
            raise ComposeError(
                f'service "{name}" has neither an image nor a build context specified'
            )
        if service.network_mode.startswith("service:"):
            target = service.network_mode.removeprefix("service:")
            if target not in every:
                raise ComposeError(
                    f'network_mode refers to undefined service "{target}"', path=where
                )
        for link in service.links:
            target = link.split(":", 1)[0]
            if target not in every:
                raise ComposeError(f'links refers to undefined service "{target}"', path=where)
        for source in service.volumes_from:
            target_or_none = service_reference(source)
            if target_or_none is not None and target_or_none not in every:
                raise ComposeError(
                    f'volumes_from refers to undefined service "{target_or_none}"', path=where
                )
        for dependency, spec in service.depends_on.items():
            if not spec.required:
                continue
            if dependency not in every:
                raise ComposeError(f'depends on undefined service "{dependency}"', path=where)
            if dependency not in project.services:
                profiles = ", ".join(every[dependency].profiles)
                raise ComposeError(
                    f'depends on service "{dependency}", which is not enabled '
                    f"(profiles: {profiles})",
                    path=where,
                )
        _check_resources(project, name, service)
    _check_cycles(project)


def _check_resources(project: Project, name: str, service: Service) -> None:
    where = f"services.{name}"
    for network in service.networks:
        if network not in project.networks:
            raise ComposeError(f'refers to undefined network "{network}"', path=where)
    for volume in service.volumes:
        if volume.type == "volume" and volume.source and volume.source not in project.volumes:
            raise ComposeError(f'refers to undefined volume "{volume.source}"', path=where)
    for secret in service.secrets:
        if secret.source not in project.secrets:
            raise ComposeError(f'refers to undefined secret "{secret.source}"', path=where)
    for config in service.configs:
        if config.source not in project.configs:
            raise ComposeError(f'refers to undefined config "{config.source}"', path=where)


def _check_cycles(project: Project) -> None:
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in done:
            return
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}")
        stack.append(name)
        for dependency in project.services[name].depends_on:
            if dependency in project.services:
                visit(dependency, stack)
        stack.pop()
        done.add(name)

    for name in project.services:
        visit(name, [])
