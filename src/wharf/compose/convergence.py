"""The plan of ``up``: for each service, which existing containers to keep, start, recreate or
remove, and which replica numbers to create. Pure: it sees containers as ``Observed`` values
(decoded from ``GET /containers/json`` by the caller) and returns ``Action`` values.

Rules (docker compose v2's):
- a container belongs to a service by its labels (project, service, oneoff=False);
- it is *diverged* when its config-hash label differs from the service's hash, or when the
  image it was created from differs from the image the service resolves to now (after a build
  or pull); ``--force-recreate`` treats every container as diverged, ``--no-recreate`` none;
- with N replicas wanted, containers are ordered by number and the first N kept (recreated if
  diverged, started if stopped, left alone if running); the rest, the highest numbers, are
  removed; missing replicas get numbers after the highest one in use;
- containers of services no longer in the project are orphans.

Imports only the standard library and ``wharf.compose.naming``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from wharf.compose import naming


class Recreate(enum.Enum):
    DIVERGED = "diverged"
    FORCE = "force"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Observed:
    """A container of the project as the daemon lists it."""

    id: str
    name: str
    service: str
    number: int
    state: str  # "running", "exited", "created", "paused", "restarting", "dead"
    config_hash: str
    image_id: str
    oneoff: bool = False
    status: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @property
    def display_name(self) -> str:
        return naming.display_name(self.name, self.labels)

    @classmethod
    def from_summary(
        cls,
        *,
        id: str,
        names: Sequence[str],
        state: str,
        status: str,
        image_id: str,
        labels: Iterable[tuple[str, str]],
    ) -> Observed:
        label_map = dict(labels)
        name = next((n.removeprefix("/") for n in names if "/" not in n[1:]), "")
        return cls(
            id=id,
            name=name,
            service=label_map.get(naming.SERVICE, ""),
            number=naming.container_number(label_map, name),
            state=state,
            config_hash=label_map.get(naming.CONFIG_HASH, ""),
            image_id=label_map.get(naming.IMAGE, "") or image_id,
            oneoff=label_map.get(naming.ONEOFF, naming.FALSE) == naming.TRUE,
            status=status,
            labels=label_map,
        )


class ActionKind(enum.Enum):
    KEEP = "keep"  # running and up to date
    START = "start"  # up to date but not running
    RECREATE = "recreate"
    CREATE = "create"
    REMOVE = "remove"  # scaled away


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    service: str
    number: int
    container: Observed | None = None


def diverged(container: Observed, *, config_hash: str, image_id: str, policy: Recreate) -> bool:
    if policy is Recreate.FORCE:
        return True
    if policy is Recreate.NEVER:
        return False
    if container.config_hash != config_hash:
        return True
    return bool(image_id and container.image_id and container.image_id != image_id)


def plan_service(
    service: str,
    *,
    replicas: int,
    config_hash: str,
    image_id: str,
    existing: Iterable[Observed],
    policy: Recreate = Recreate.DIVERGED,
) -> list[Action]:
    """The actions that bring ``existing`` (this service's containers) to ``replicas``.

    Removals come first, so that scaling down frees names and addresses before anything is
    created; then the kept containers in number order, then the new ones.
    """
    ordered = sorted(existing, key=lambda c: (c.number, c.name))
    kept, extra = ordered[:replicas], ordered[replicas:]
    actions = [Action(ActionKind.REMOVE, service, c.number, c) for c in reversed(extra)]
    for container in kept:
        if diverged(container, config_hash=config_hash, image_id=image_id, policy=policy):
            kind = ActionKind.RECREATE
        elif container.running:
            kind = ActionKind.KEEP
        else:
            kind = ActionKind.START
        actions.append(Action(kind, service, container.number, container))
    next_number = max((c.number for c in ordered), default=0) + 1
    for offset in range(replicas - len(kept)):
        actions.append(Action(ActionKind.CREATE, service, next_number + offset))
    return actions


def find_orphans(existing: Iterable[Observed], services: Iterable[str]) -> list[Observed]:
    """Service containers whose service the project no longer has (one-offs never are)."""
    known = set(services)
    return [c for c in existing if not c.oneoff and c.service not in known]


def by_service(existing: Iterable[Observed]) -> dict[str, list[Observed]]:
    grouped: dict[str, list[Observed]] = {}
    for container in existing:
        grouped.setdefault(container.service, []).append(container)
    return grouped
