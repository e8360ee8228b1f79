"""``GET /events`` (api/routers/events.py) in an in-process aiohttp server over a real
``EventBus`` standing in for the engine: replay windows, filters, live streaming, the end of
the stream; last, the wharf client's ``events`` over a unix socket."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wharf.api.app import build_app
from wharf.api.routers import events as events_router
from wharf.client.api import EngineClient
from wharf.client.events import EventMessage
from wharf.client.transport import UnixSocketTransport
from wharf.events.bus import EventBus
from wharf.events.model import EventType

CID = "c0ffee" + "0" * 58
C = EventType.CONTAINER

Scenario = Callable[[TestClient[Any, Any]], Awaitable[None]]


def serve(bus: EventBus, scenario: Scenario) -> None:
    async def main() -> None:
        app = build_app(events_router.routes(bus))
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(main())


def get_lines(bus: EventBus, path: str) -> tuple[int, str, list[Any]]:
    result: list[tuple[int, str, list[Any]]] = []

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.get(path)
        text = await response.text()
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        result.append((response.status, response.headers.get("Content-Type", ""), lines))

    serve(bus, scenario)
    return result[0]


def _seconds(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _lifecycle(bus: EventBus) -> list[Any]:
    attributes = {"image": "busybox", "name": "web"}
    return [
        bus.publish(C, "create", CID, attributes),
        bus.publish(EventType.NETWORK, "connect", "n1", {"name": "bridge", "container": CID}),
        bus.publish(C, "start", CID, attributes),
        bus.publish(C, "die", CID, {**attributes, "exitCode": "0"}),
    ]


def test_until_in_the_past_replays_the_window_and_ends() -> None:
    bus = EventBus()
    events = _lifecycle(bus)
    window = f"since={_seconds(events[0].time_ns)}&until={_seconds(events[2].time_ns)}"
    status, content_type, lines = get_lines(bus, f"/v1.45/events?{window}")
    assert (status, content_type) == (200, "application/json")
    assert lines == [event.to_wire() for event in events[:3]]
    assert lines[0]["status"] == "create" and lines[0]["from"] == "busybox"
    assert bus.subscriber_count() == 0


def test_filters_apply_to_the_replay() -> None:
    bus = EventBus()
    _lifecycle(bus)
    filters = json.dumps({"type": ["container"], "event": ["die", "start"]})
    now = _seconds(time.time_ns())
    _, _, lines = get_lines(bus, f"/events?since=0&until={now}&filters={filters}")
    assert [line["Action"] for line in lines] == ["start", "die"]
    legacy = json.dumps({"type": {"network": True}})
    _, _, lines = get_lines(bus, f"/events?until={now}&filters={legacy}")
    assert [line["Type"] for line in lines] == ["network"]


def test_rfc3339_times_are_accepted() -> None:
    bus = EventBus()
    _lifecycle(bus)
    _, _, lines = get_lines(bus, "/events?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
    assert lines == []


def test_bad_parameters_are_400s_before_any_stream() -> None:
    bus = EventBus()
    status, _, lines = get_lines(bus, "/events?filters=" + json.dumps({"colour": ["red"]}))
    assert status == 400
    assert lines == [{"message": "invalid filter 'colour'"}]
    status, _, lines = get_lines(bus, "/events?since=20&until=10")
    assert status == 400
    assert lines == [{"message": "`since` time (20) cannot be after `until` time (10)"}]
    status, _, _ = get_lines(bus, "/events?since=yesterday")
    assert status == 400
    assert bus.subscriber_count() == 0


def test_live_events_are_flushed_one_by_one_and_a_departed_client_is_noticed() -> None:
    bus = EventBus()
    bus.publish(C, "create", CID)  # before the subscription, without since: not replayed

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.get("/events?filters=" + json.dumps({"event": ["start"]}))
        assert response.status == 200
        threading.Thread(target=bus.publish, args=(C, "start", CID, {"name": "web"})).start()
        line = await asyncio.wait_for(response.content.readline(), 5)
        assert json.loads(line)["Actor"] == {"ID": CID, "Attributes": {"name": "web"}}
        assert bus.subscriber_count() == 1
        response.close()  # the client goes away while the stream is quiet
        for _ in range(100):
            if bus.subscriber_count() == 0:
                break
            await asyncio.sleep(0.05)
        assert bus.subscriber_count() == 0

    serve(bus, scenario)


def test_until_in_the_future_streams_until_then() -> None:
    bus = EventBus()

    async def scenario(client: TestClient[Any, Any]) -> None:
        started = time.monotonic()
        until = time.time() + 0.4
        response = await client.get(f"/events?until={until:.9f}")
        threading.Thread(target=bus.publish, args=(C, "pause", CID)).start()
        text = await asyncio.wait_for(response.text(), 5)
        assert [json.loads(line)["Action"] for line in text.splitlines()] == ["pause"]
        assert 0.3 < time.monotonic() - started < 3

    serve(bus, scenario)


def test_the_wharf_client_reads_events_over_a_unix_socket(tmp_path: Path) -> None:
    bus = EventBus()
    events = _lifecycle(bus)
    socket_path = str(tmp_path / "wharf.sock")
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(build_app(events_router.routes(bus)))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.UnixSite(runner, socket_path).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        client = EngineClient(UnixSocketTransport(socket_path), api_version="1.45")
        got = list(
            client.events(
                since=_seconds(events[0].time_ns),
                until=_seconds(events[-1].time_ns),
                filters={"container": ["web"]},
            )
        )
        assert [m.action for m in got] == ["create", "start", "die"]
        assert got[-1] == EventMessage(
            type="container",
            action="die",
            actor_id=CID,
            attributes=(("exitCode", "0"), ("image", "busybox"), ("name", "web")),
            scope="local",
            time=events[-1].time_ns // 1_000_000_000,
            time_nano=events[-1].time_ns,
            status="die",
            id=CID,
            from_image="busybox",
        )
        assert got[-1].to_wire() == events[-1].to_wire()
        assert list(got[-1].to_wire()) == list(events[-1].to_wire())
        live = client.events(filters={"event": ["destroy"]})
        threading.Timer(0.1, bus.publish, args=(C, "destroy", CID)).start()
        assert next(live).action == "destroy"
        live.close()
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
