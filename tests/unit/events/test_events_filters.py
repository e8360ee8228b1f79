"""Event filters: key validation and dockerd's matching rules."""

from __future__ import annotations

import json

import pytest

from wharf.apitypes.filters import Filters
from wharf.errdefs import InvalidArgument
from wharf.events.filters import EVENT_FILTERS, EventFilter
from wharf.events.model import Event, EventType

CID = "abc123" + "0" * 58
NID = "net456" + "0" * 58


def _filter(**values: list[str]) -> EventFilter:
    return EventFilter.parse(Filters.parse(json.dumps(values)))


def _container(action: str = "start", **attributes: str) -> Event:
    return Event(
        EventType.CONTAINER, action, CID, {"name": "web", "image": "busybox", **attributes}, 1
    )


def _network(action: str = "connect") -> Event:
    return Event(EventType.NETWORK, action, NID, {"name": "front", "type": "bridge"}, 1)


def _image(action: str = "tag", name: str = "docker.io/library/alpine:3") -> Event:
    return Event(EventType.IMAGE, action, "sha256:" + "e" * 64, {"name": name}, 1)


def test_unknown_key_is_refused_with_dockers_message() -> None:
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        _filter(colour=["red"])


def test_every_docker_key_is_accepted() -> None:
    assert EventFilter.parse(Filters(tuple((key, ("x",)) for key in EVENT_FILTERS)))


def test_empty_filter_matches_everything() -> None:
    empty = EventFilter()
    assert empty.empty
    assert all(empty.matches(e) for e in (_container(), _network(), _image()))
    assert _filter(type=[]).empty


def test_type_is_exact_and_values_are_alternatives() -> None:
    wanted = _filter(type=["container", "image"])
    assert wanted.matches(_container())
    assert wanted.matches(_image())
    assert not wanted.matches(_network())
    assert not _filter(type=["contain"]).matches(_container())


def test_keys_combine_with_and() -> None:
    wanted = _filter(type=["container"], event=["die"])
    assert wanted.matches(_container("die"))
    assert not wanted.matches(_container("start"))


def test_event_is_exact_unless_a_detailed_action_is_asked_for() -> None:
    assert not _filter(event=["exec"]).matches(_container("exec_start: sh -c true"))
    assert _filter(event=["exec_start"]).matches(_container("exec_start: sh -c true"))
    assert _filter(event=["health_status"]).matches(_container("health_status: healthy"))
    # the prefix rule then applies to every value given
    assert _filter(event=["health_status", "st"]).matches(_container("start"))
    assert not _filter(event=["health_status"]).matches(_container("start"))


def test_container_matches_id_prefix_or_name_prefix_and_drops_other_types() -> None:
    assert _filter(container=["abc1"]).matches(_container())
    assert _filter(container=["we"]).matches(_container())
    assert _filter(container=["zzz", "web"]).matches(_container())
    assert not _filter(container=["db"]).matches(_container())
    assert not _filter(container=["web"]).matches(_network())


def test_network_matches_network_events_by_name() -> None:
    assert _filter(network=["front"]).matches(_network())
    assert _filter(network=[NID[:12]]).matches(_network())
    assert not _filter(network=["back"]).matches(_network())


def test_image_matches_names_with_and_without_tag_for_both_kinds() -> None:
    assert _filter(image=["busybox"]).matches(_container())
    assert _filter(image=["alpine"]).matches(_image())
    assert _filter(image=["docker.io/library/alpine:3"]).matches(_image())
    assert _filter(image=["sha256:" + "e" * 64]).matches(_image())
    assert not _filter(image=["alp"]).matches(_image())
    assert _filter(image=["busybox"]).matches(_container(image="busybox:1.36"))
    assert not _filter(image=["alpine"]).matches(_container())


def test_labels_must_all_match_among_attributes() -> None:
    event = _container(tier="db", team="core")
    assert _filter(label=["tier"]).matches(event)
    assert _filter(label=["tier=db", "team=core"]).matches(event)
    assert not _filter(label=["tier=db", "team=web"]).matches(event)
    assert not _filter(label=["owner"]).matches(event)


def test_scope_is_exact() -> None:
    assert _filter(scope=["local"]).matches(_container())
    assert not _filter(scope=["swarm"]).matches(_container())


def test_legacy_map_form_of_filters_is_understood() -> None:
    wanted = EventFilter.parse(Filters.parse('{"type":{"container":true}}'))
    assert wanted.matches(_container())
    assert not wanted.matches(_network())
