"""Event calls of ``EngineClient`` (a mixin): ``GET /events`` of the Docker Engine API, and
``EventMessage``, one event decoded from its JSON line.

``events()`` sends the request and checks its status before it returns (a bad filter fails at
the call); the events are then read lazily, each as soon as its line arrives. Without ``until``
the daemon keeps the stream open: the iterator blocks until the next event, and closing it
(or leaving the loop) closes the connection.

Imports only the standard library and ``wharf.client`` (the shared plumbing from
``client.mixin``; never ``client.api``, which imports this module).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wharf.client.mixin import ClientMixin, filters_query
from wharf.client.wire import Fields
from wharf.errdefs import EngineFailure

if TYPE_CHECKING:
    from wharf.client.transport import Response

Filters = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One event (dockerd's ``events.Message``); ``attributes`` sorted by key."""

    type: str
    action: str
    actor_id: str
    attributes: tuple[tuple[str, str], ...] = ()
    scope: str = ""
    time: int = 0
    time_nano: int = 0
    status: str = ""
    id: str = ""
    from_image: str = ""

    @classmethod
    def from_wire(cls, raw: object) -> EventMessage:
        fields = Fields(raw, "event")
        actor = fields.obj("Actor")
        return cls(
            type=fields.text("Type"),
            action=fields.text("Action") or fields.text("status"),
            actor_id=actor.text("ID") or fields.text("id"),
            attributes=tuple(sorted(actor.str_map("Attributes"))),
            scope=fields.text("scope"),
            time=fields.num("time"),
            time_nano=fields.num("timeNano"),
            status=fields.text("status"),
            id=fields.text("id"),
            from_image=fields.text("from"),
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON dockerd sends (and ``docker events --format '{{json .}}'`` prints): Go's
        field order, empty legacy fields and zero times left out."""
        wire: dict[str, Any] = {}
        for key, value in (("status", self.status), ("id", self.id), ("from", self.from_image)):
            if value:
                wire[key] = value
        wire["Type"] = self.type
        wire["Action"] = self.action
        wire["Actor"] = {"ID": self.actor_id, "Attributes": dict(self.attributes)}
        if self.scope:
            wire["scope"] = self.scope
        if self.time:
            wire["time"] = self.time
        if self.time_nano:
            wire["timeNano"] = self.time_nano
        return wire


class EventsMixin(ClientMixin):
    """The events part of ``EngineClient``; relies on its ``request`` plumbing."""

    def events(
        self, *, since: str = "", until: str = "", filters: Filters | None = None
    ) -> Generator[EventMessage, None, None]:
        """``GET /events``: ``since``/``until`` are sent as given (the API wants unix seconds,
        ``<s>[.<ns>]``; the CLI converts durations and dates first)."""
        query: list[tuple[str, str]] = []
        if since:
            query.append(("since", since))
        if until:
            query.append(("until", until))
        query += filters_query(filters)
        response = self.request("GET", "/events", query=query)
        return _decode(response)


def _decode(response: Response) -> Generator[EventMessage, None, None]:
    with response:
        for line in response.iter_lines():
            text = line.strip()
            if not text:
                continue
            try:
                raw = json.loads(text)
            except ValueError as exc:
                raise EngineFailure(
                    f"malformed event from the daemon: {text[:200].decode(errors='replace')!r}"
                ) from exc
            yield EventMessage.from_wire(raw)
