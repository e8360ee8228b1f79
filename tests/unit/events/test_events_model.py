"""The event value and its wire shape (dockerd's ``events.Message``)."""

from __future__ import annotations

import json

import pytest

from wharf.events.model import Event, EventType, container_attributes, no_publish

CONTAINER_ID = "3f2a" + "0" * 60


def test_container_event_carries_the_legacy_fields_in_go_field_order() -> None:
    event = Event(
        EventType.CONTAINER,
        "start",
        CONTAINER_ID,
        {"name": "web", "image": "busybox", "com.example": "x"},
        1_764_274_211_123_456_789,
    )
    wire = event.to_wire()
    assert list(wire) == [
        "status",
        "id",
        "from",
        "Type",
        "Action",
        "Actor",
        "scope",
        "time",
        "timeNano",
    ]
    assert wire["status"] == "start"
    assert wire["id"] == CONTAINER_ID
    assert wire["from"] == "busybox"
    assert wire["Type"] == "container"
    assert wire["Actor"] == {
        "ID": CONTAINER_ID,
        "Attributes": {"com.example": "x", "image": "busybox", "name": "web"},
    }
    assert list(wire["Actor"]["Attributes"]) == ["com.example", "image", "name"]
    assert (wire["scope"], wire["time"], wire["timeNano"]) == (
        "local",
        1_764_274_211,
        1_764_274_211_123_456_789,
    )


def test_image_event_has_status_and_id_but_no_from() -> None:
    wire = Event(EventType.IMAGE, "tag", "sha256:ab", {"name": "x:1"}, 5).to_wire()
    assert (wire["status"], wire["id"]) == ("tag", "sha256:ab")
    assert "from" not in wire


@pytest.mark.parametrize("kind", [EventType.NETWORK, EventType.VOLUME, EventType.DAEMON])
def test_other_events_have_no_legacy_fields(kind: EventType) -> None:
    wire = Event(kind, "create", "n1", {"name": "n"}, 5).to_wire()
    assert not {"status", "id", "from"} & set(wire)
    assert json.loads(json.dumps(wire))["Actor"]["ID"] == "n1"


def test_empty_attributes_are_an_empty_object_and_an_empty_actor_id_drops_id() -> None:
    wire = Event(EventType.CONTAINER, "prune", "", {}, 5).to_wire()
    assert wire["Actor"] == {"ID": "", "Attributes": {}}
    assert "id" not in wire and "from" not in wire


def test_attributes_are_a_frozen_copy() -> None:
    labels = {"a": "1"}
    event = Event(EventType.CONTAINER, "create", "c", labels, 1)
    labels["a"] = "2"
    assert event.attributes["a"] == "1"
    with pytest.raises(TypeError):
        event.attributes["b"] = "x"  # type: ignore[index]


def test_container_attributes_follow_dockers_precedence() -> None:
    attributes = container_attributes(
        name="/web",
        image="busybox",
        labels={"exitCode": "label wins", "name": "label loses", "tier": "db"},
        extra={"exitCode": "0", "signal": "15"},
    )
    assert attributes == {
        "exitCode": "label wins",
        "signal": "15",
        "tier": "db",
        "image": "busybox",
        "name": "web",
    }
    assert "image" not in container_attributes(name="x", image="", labels={})


def test_no_publish_accepts_the_seam_signature() -> None:
    assert no_publish(EventType.CONTAINER, "start", "c", {"a": "b"}) is None
