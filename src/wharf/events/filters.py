"""Docker's ``filters`` for ``GET /events``: which keys exist and how each one matches.

Imports: stdlib, ``wharf.errdefs``, ``wharf.apitypes.filters``, ``wharf.oci.reference`` and
``wharf.events.model``.

The rules are dockerd's (``daemon/events/filter.go``); every key must match (AND), the values
of one key are alternatives (OR):

- ``type``, ``scope``: exact; ``event``: the exact action, except that when one of the values
  is ``health_status``, ``exec_create`` or ``exec_start`` (whose actions carry a detail after
  a colon) every value matches as a prefix;
- ``container``, ``network``, ``volume``, ``daemon``, ``plugin`` (and the swarm kinds
  ``node``, ``service``, ``secret``, ``config``): the actor's ID or its ``name`` attribute
  equal to or starting with a value. Whatever the event's type: ``container=x`` therefore
  drops network events, as in Docker;
- ``image``: exact, against the actor ID and the image name (the ``name`` attribute of image
  events, ``image`` of container events), each also with its tag stripped;
- ``label``: every ``key`` or ``key=value`` among the actor's attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wharf.apitypes.filters import Filters
from wharf.errdefs import WharfError
from wharf.events.model import Event, EventType
from wharf.oci.reference import parse_normalized

EVENT_FILTERS = (
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
)
_NAMED_KINDS = (
    "daemon",
    "container",
    "plugin",
    "volume",
    "network",
    "node",
    "service",
    "secret",
    "config",
)
_DETAILED_ACTIONS = frozenset({"health_status", "exec_create", "exec_start"})


def _exact(values: tuple[str, ...], source: str) -> bool:
    return not values or source in values


def _fuzzy(values: tuple[str, ...], source: str) -> bool:
    return not values or any(source.startswith(value) for value in values)


def _strip_tag(image: str) -> str:
    try:
        return parse_normalized(image).familiar_name
    except WharfError:
        return image


def _labels_match(wanted: Iterable[str], attributes: Mapping[str, str]) -> bool:
    for entry in wanted:
        key, has_value, value = entry.partition("=")
        if key not in attributes or (has_value and attributes[key] != value):
            return False
    return True


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A validated set of event filters; the empty filter matches everything."""

    filters: Filters = field(default_factory=Filters)

    @classmethod
    def parse(cls, filters: Filters) -> EventFilter:
        """Refuse unknown keys (``invalid filter 'x'``, a 400) before anything streams."""
        filters.check_keys(EVENT_FILTERS)
        return cls(filters)

    @property
    def empty(self) -> bool:
        return not any(values for _, values in self.filters.entries)

    def matches(self, event: Event) -> bool:
        get = self.filters.get
        actions = get("event")
        if _DETAILED_ACTIONS.intersection(actions):
            if not _fuzzy(actions, event.action):
                return False
        elif not _exact(actions, event.action):
            return False
        if not _exact(get("type"), event.type.value) or not _exact(get("scope"), event.scope):
            return False
        name = event.attributes.get("name", "")
        for kind in _NAMED_KINDS:
            values = get(kind)
            if values and not (_fuzzy(values, event.actor_id) or _fuzzy(values, name)):
                return False
        images = get("image")
        if images:
            image = event.attributes.get("name" if event.type is EventType.IMAGE else "image", "")
            candidates = {event.actor_id, image, _strip_tag(event.actor_id), _strip_tag(image)}
            if candidates.isdisjoint(images):
                return False
        labels = get("label")
        return not labels or _labels_match(labels, event.attributes)
