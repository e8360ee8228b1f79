"""One engine event, its wire shape, and the seam engine services publish through.

Imports: stdlib only.

Wire shape (one JSON object per line of ``GET /events``), in the field order dockerd's
``events.Message`` marshals::

    {"status": "start", "id": "<actor id>", "from": "busybox",      <- legacy, API < 1.52:
                                                                       container and image
                                                                       events only; "from"
                                                                       is the container's image
     "Type": "container", "Action": "start",
     "Actor": {"ID": "<actor id>", "Attributes": {"image": "busybox", "name": "web"}},
     "scope": "local", "time": 1764274211, "timeNano": 1764274211123456789}

``Attributes`` keys are sorted (Go marshals maps so); empty legacy fields are left out
(``omitempty``). Container events carry the container's labels plus ``image`` and ``name``
(``container_attributes``); image events ``name``; network events ``name`` and ``type``;
volume events ``driver``. Actions with a detail read ``health_status: healthy`` or
``exec_start: sh -c true``, as Docker writes them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

LOCAL_SCOPE = "local"
_NS = 1_000_000_000


class EventType(enum.Enum):
    """The kind of object an event is about (Docker's ``events.Type``)."""

    BUILDER = "builder"
    CONFIG = "config"
    CONTAINER = "container"
    DAEMON = "daemon"
    IMAGE = "image"
    NETWORK = "network"
    NODE = "node"
    PLUGIN = "plugin"
    SECRET = "secret"
    SERVICE = "service"
    VOLUME = "volume"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to one object, at ``time_ns`` (unix nanoseconds)."""

    type: EventType
    action: str
    actor_id: str
    attributes: Mapping[str, str]
    time_ns: int
    scope: str = LOCAL_SCOPE

    def __post_init__(self) -> None:
        # Callers hand in their own dicts (a container's labels): freeze a copy.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.type in (EventType.CONTAINER, EventType.IMAGE):
            if self.action:
                wire["status"] = self.action
            if self.actor_id:
                wire["id"] = self.actor_id
            image = self.attributes.get("image", "")
            if self.type is EventType.CONTAINER and image:
                wire["from"] = image
        wire["Type"] = self.type.value
        wire["Action"] = self.action
        wire["Actor"] = {
            "ID": self.actor_id,
            "Attributes": dict(sorted(self.attributes.items())),
        }
        if self.scope:
            wire["scope"] = self.scope
        wire["time"] = self.time_ns // _NS
        wire["timeNano"] = self.time_ns
        return wire


class Publish(Protocol):
    """What an engine service is given to report events: ``publish(type, action, actor_id,
    attributes)``. The bus stamps the time, so events are ordered as they were published."""

    def __call__(
        self,
        kind: EventType,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
        /,
    ) -> object: ...


def no_publish(
    kind: EventType,
    action: str,
    actor_id: str,
    attributes: Mapping[str, str] | None = None,
    /,
) -> None:
    """The default seam: events go nowhere (a service under a unit test needs no bus)."""


def container_attributes(
    *,
    name: str,
    image: str,
    labels: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Docker's container event attributes: ``extra`` (``exitCode``, ``signal``...), then
    the container's labels over them, then ``image`` (as the user wrote it) and ``name``."""
    attributes = dict(extra or {})
    attributes.update(labels)
    if image:
        attributes["image"] = image
    attributes["name"] = name.lstrip("/")
    return attributes
