"""``events`` / ``system events`` against a scripted daemon: the request, docker's line format,
templates and errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from cli_harness import NOW, RunWharf

from wharf.cli.events import event_time, pretty_line
from wharf.client.events import EventMessage
from wharf.client.fake import FakeTransport, error_response, json_lines

CID = "3f2a" + "0" * 60
START = {
    "status": "start",
    "id": CID,
    "from": "busybox",
    "Type": "container",
    "Action": "start",
    "Actor": {"ID": CID, "Attributes": {"name": "x", "image": "busybox"}},
    "scope": "local",
    "time": 1_795_810_211,
    "timeNano": 1_795_810_211_123_456_789,
}
CONNECT = {
    "Type": "network",
    "Action": "connect",
    "Actor": {"ID": "n1", "Attributes": {"container": CID, "name": "bridge", "type": "bridge"}},
    "scope": "local",
    "time": 1_795_810_211,
    "timeNano": 1_795_810_211_000_000_001,
}


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """docker prints event times in the local zone: pin it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()


def _daemon(*events: object) -> FakeTransport:
    return FakeTransport().on("GET", "/events", lambda _r: json_lines(*events))


def test_events_print_like_docker(wharf: RunWharf) -> None:
    transport = _daemon(START, CONNECT)
    result = wharf(transport, "events", "--since", "10m", "--until", "0s")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"2026-11-27T20:10:11.123456789Z container start {CID} (image=busybox, name=x)",
        f"2026-11-27T20:10:11.000000001Z network connect n1 (container={CID}, name=bridge,"
        " type=bridge)",
    ]
    (call,) = transport.calls("GET", "/events")
    assert call.param("since") == str(int(NOW - 600))
    assert call.param("until") == str(int(NOW))
    assert call.param("filters") is None


def test_system_events_is_the_same_command_and_sends_filters(wharf: RunWharf) -> None:
    transport = _daemon(START)
    result = wharf(
        transport, "system", "events", "-f", "type=container", "--filter", "event=start",
        "-f", "event=die", "--since", "1700000000.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (call,) = transport.calls("GET", "/events")
    assert json.loads(call.param("filters") or "") == {
        "event": {"die": True, "start": True},
        "type": {"container": True},
    }
    assert call.param("since") == "1700000000.5"
    assert call.param("until") is None


def test_json_format_prints_the_wire_object_in_gos_field_order(wharf: RunWharf) -> None:
    for spelling in ("json", "{{json .}}"):
        result = wharf(_daemon(START, CONNECT), "events", "--format", spelling)
        assert result.exit_code == 0, result.output
        first, second = result.output.splitlines()
        assert list(json.loads(first)) == list(START)
        assert json.loads(first)["Actor"] == {
            "ID": CID,
            "Attributes": {"image": "busybox", "name": "x"},
        }
        assert first.startswith('{"status":"start","id":"3f2a')
        assert list(json.loads(second)) == list(CONNECT)


def test_templates_see_docker_message_fields(wharf: RunWharf) -> None:
    result = wharf(
        _daemon(START, CONNECT),
        "events",
        "--format",
        "{{.Type}}/{{.Action}} {{.Actor.Attributes.name}} {{.Status}} {{.TimeNano}}"
        " {{json .Actor}}",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "container/start x start 1795810211123456789"
        f' {{"ID":"{CID}","Attributes":{{"image":"busybox","name":"x"}}}}',
        "network/connect bridge  1795810211000000001"
        f' {{"ID":"n1","Attributes":{{"container":"{CID}","name":"bridge","type":"bridge"}}}}',
    ]


def test_a_bad_template_is_refused_before_asking_the_daemon(wharf: RunWharf) -> None:
    result = wharf(None, "events", "--format", "{{.Nope}}")
    assert result.exit_code == 64
    assert result.output.startswith("Error parsing format: ")
    assert "Nope" in result.output


def test_a_bad_filter_flag_is_a_flag_error(wharf: RunWharf) -> None:
    result = wharf(None, "events", "-f", "container")
    assert result.exit_code == 125
    assert "bad format of filter (expected name=value)" in result.output


def test_the_daemons_refusal_is_reported(wharf: RunWharf) -> None:
    transport = FakeTransport().on("GET", "/events", error_response(400, "invalid filter 'colour'"))
    result = wharf(transport, "events", "-f", "colour=red")
    assert result.exit_code == 1
    assert result.output.strip() == "Error response from daemon: invalid filter 'colour'"


def test_event_time_uses_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert event_time(1_000_000_000_000_000_005) == "2001-09-09T01:46:40.000000005Z"
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    assert event_time(1_000_000_000_000_000_005) == "2001-09-09T07:16:40.000000005+05:30"


def test_pretty_line_without_attributes_and_with_seconds_only() -> None:
    event = EventMessage(type="daemon", action="reload", actor_id="d1", time=1_000_000_000)
    assert pretty_line(event) == "2001-09-09T01:46:40.000000000Z daemon reload d1"
    assert pretty_line(EventMessage(type="image", action="pull", actor_id="x")) == "image pull x"
