"""The event bus: ring buffer, since/until replay, live delivery to threads and asyncio."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable

import pytest

from wharf.apitypes.filters import Filters
from wharf.events.bus import EventBus
from wharf.events.filters import EventFilter
from wharf.events.model import EventType

C = EventType.CONTAINER


def _clock(start: int = 1_000) -> Callable[[], int]:
    """A clock that advances 100 ns per reading."""
    now = [start]

    def read() -> int:
        now[0] += 100
        return now[0]

    return read


def _only(**values: list[str]) -> EventFilter:
    return EventFilter.parse(Filters.parse(json.dumps(values)))


def test_publish_stamps_strictly_increasing_times_even_on_a_stalled_clock() -> None:
    bus = EventBus(clock=lambda: 42)
    events = [bus.publish(C, "start", f"c{i}") for i in range(3)]
    assert [e.time_ns for e in events] == [42, 43, 44]
    assert bus.recent() == events


def test_ring_keeps_only_the_last_capacity_events() -> None:
    bus = EventBus(capacity=3, clock=_clock())
    for i in range(5):
        bus.publish(C, "start", f"c{i}")
    assert [e.actor_id for e in bus.recent()] == ["c2", "c3", "c4"]


def test_no_since_and_no_until_replays_nothing() -> None:
    bus = EventBus(clock=_clock())
    bus.publish(C, "create", "c1")
    with bus.subscribe() as subscription:
        assert subscription.replayed == 0
        assert subscription.get(timeout=0) is None


def test_since_and_until_select_an_inclusive_window() -> None:
    bus = EventBus(clock=_clock())
    events = [bus.publish(C, action, "c1") for action in ("create", "start", "die", "destroy")]
    with bus.subscribe(since_ns=events[1].time_ns, until_ns=events[2].time_ns) as sub:
        assert sub.replayed == 2
        assert [sub.get(0), sub.get(0)] == events[1:3]
        assert sub.get(timeout=0) is None
    with bus.subscribe(until_ns=events[1].time_ns) as sub:
        assert [sub.get(0), sub.get(0), sub.get(0)] == [*events[:2], None]
    with bus.subscribe(since_ns=events[3].time_ns) as sub:
        assert sub.get(0) == events[3]


def test_replay_and_live_events_are_filtered_alike() -> None:
    bus = EventBus(clock=_clock())
    bus.publish(C, "create", "c1")
    bus.publish(EventType.NETWORK, "create", "n1")
    with bus.subscribe(_only(type=["network"]), since_ns=0) as sub:
        bus.publish(C, "start", "c1")
        bus.publish(EventType.NETWORK, "destroy", "n1")
        got = [sub.get(0), sub.get(0), sub.get(0)]
    assert [(e.action if e else None) for e in got] == ["create", "destroy", None]


def test_live_events_after_until_are_not_delivered() -> None:
    clock = _clock()
    bus = EventBus(clock=clock)
    first = bus.publish(C, "create", "c1")
    with bus.subscribe(since_ns=0, until_ns=first.time_ns + 150) as sub:
        inside = bus.publish(C, "start", "c1")
        bus.publish(C, "die", "c1")
        assert [sub.get(0), sub.get(0), sub.get(0)] == [first, inside, None]


def test_close_ends_iteration_after_what_was_queued() -> None:
    bus = EventBus(clock=_clock())
    sub = bus.subscribe()
    bus.publish(C, "start", "c1")
    sub.close()
    assert [e.action for e in sub] == ["start"]
    assert sub.done
    bus.publish(C, "die", "c1")  # a closed subscription is dropped, not fed
    assert sub.get(0) is None


def test_bus_close_ends_every_subscription() -> None:
    bus = EventBus(clock=_clock())
    subs = [bus.subscribe(), bus.subscribe()]
    bus.close()
    assert all(sub.closed and sub.get(0) is None for sub in subs)


def test_a_subscriber_too_far_behind_is_closed_not_waited_for() -> None:
    bus = EventBus(pending_limit=2, clock=_clock())
    slow = bus.subscribe()
    fast = bus.subscribe()
    for i in range(3):
        bus.publish(C, "start", f"c{i}")
        assert fast.get(0) is not None
    assert slow.overflowed and slow.closed
    assert [e.actor_id for e in slow] == ["c0", "c1"]
    bus.publish(C, "start", "c3")
    assert fast.get(0) is not None and fast.get(0) is None


def test_a_blocked_thread_consumer_is_woken_by_a_publisher() -> None:
    bus = EventBus()
    got: list[str] = []
    with bus.subscribe() as sub:
        reader = threading.Thread(target=lambda: got.extend(e.action for e in [sub.get(5)] if e))
        reader.start()
        bus.publish(C, "start", "c1")
        reader.join(5)
    assert got == ["start"]


def test_concurrent_publishers_reach_every_subscriber_in_one_order() -> None:
    bus = EventBus()
    subs = [bus.subscribe(), bus.subscribe()]

    def burst(n: int) -> None:
        for i in range(200):
            bus.publish(C, "start", f"{n}-{i}")

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = []
    for sub in subs:
        sub.close()
        seen.append([e.time_ns for e in sub])
    assert seen[0] == seen[1] == sorted(seen[0])
    assert len(seen[0]) == 800


def test_asyncio_consumer_is_woken_from_an_engine_thread() -> None:
    bus = EventBus()

    async def consume() -> list[str]:
        with bus.subscribe(_only(event=["die"])) as sub:
            loop = asyncio.get_running_loop()

            def publish() -> None:
                bus.publish(C, "start", "c1")
                bus.publish(C, "die", "c1", {"exitCode": "0"})

            await loop.run_in_executor(None, publish)
            first = await asyncio.wait_for(sub.next(), 5)
            assert await sub.next(timeout=0.01) is None  # timed out: nothing else matched
            sub.close()
            rest = [e async for e in sub]
        assert first is not None
        return [first.action, first.attributes["exitCode"], *[e.action for e in rest]]

    assert asyncio.run(consume()) == ["die", "0"]


def test_asyncio_consumer_waiting_before_the_publish() -> None:
    bus = EventBus()

    async def consume() -> str:
        with bus.subscribe() as sub:
            waiting = asyncio.ensure_future(sub.next(timeout=5))
            await asyncio.sleep(0.01)
            threading.Thread(target=bus.publish, args=(C, "pause", "c1")).start()
            event = await waiting
            assert event is not None
            return event.action

    assert asyncio.run(consume()) == "pause"


@pytest.mark.parametrize("timeout", [0, 0.01])
def test_asyncio_consumer_gets_none_when_closed(timeout: float) -> None:
    bus = EventBus()

    async def consume() -> tuple[object, bool]:
        sub = bus.subscribe()
        sub.close()
        return await sub.next(timeout=timeout), sub.done

    assert asyncio.run(consume()) == (None, True)
