"""``EventBus``: engine threads publish events; API streams (and tests) subscribe to them.

Imports: stdlib and ``wharf.events``.

Invariants:
- Time is stamped by the bus under its lock and strictly increases (a clock that stalls or
  steps back is bumped by a nanosecond), so the ring is always in time order and a
  ``since``/``until`` window selects a contiguous run of it.
- The ring keeps the last ``capacity`` events (1024 by default; dockerd keeps 256): what
  ``since``/``until`` can replay.
- ``subscribe`` replays the matching buffered events and registers the subscription under the
  same lock as ``publish``: no event is lost or seen twice between replay and live stream,
  and every subscriber sees events in publication order.
- ``publish`` never blocks on a consumer: each subscription queues at most ``pending_limit``
  events; one that falls that far behind is closed (its stream ends; logged) rather than
  slowing the engine or growing without bound.

A ``Subscription`` is read by one consumer, from a thread (``get``, iteration) or from an
asyncio loop (``await next()``, ``async for``): a publisher wakes an asyncio consumer with
``loop.call_soon_threadsafe``, never by touching the loop's objects from its own thread.

Replay rules are dockerd's: no ``since`` and no ``until``, nothing is replayed; otherwise the
buffered events with ``since <= time <= until`` (either bound optional). Live events later
than ``until`` are not delivered; ending the stream at ``until`` is the consumer's job (the
API waits until then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType

from wharf.events.filters import EventFilter
from wharf.events.model import Event, EventType

log = logging.getLogger("wharf.events")

DEFAULT_CAPACITY = 1024
DEFAULT_PENDING_LIMIT = 8192


class EventBus:
    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        pending_limit: int = DEFAULT_PENDING_LIMIT,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._lock = threading.Lock()
        self._recent: deque[Event] = deque(maxlen=capacity)
        self._subscriptions: list[Subscription] = []
        self._pending_limit = pending_limit
        self._clock = clock
        self._last_ns = 0

    def publish(
        self,
        kind: EventType,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
        /,
    ) -> Event:
        """Record an event now and hand it to every live subscription (never blocks)."""
        with self._lock:
            now = max(self._clock(), self._last_ns + 1)
            self._last_ns = now
            event = Event(kind, action, actor_id, attributes or {}, now)
            self._recent.append(event)
            if self._subscriptions:
                self._subscriptions = [s for s in self._subscriptions if s._offer(event)]
        return event

    def subscribe(
        self,
        event_filter: EventFilter | None = None,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> Subscription:
        """The buffered events in the window (see the module doc), then every new one that
        matches; close the subscription (or use it as a context manager) when done."""
        wanted = event_filter if event_filter is not None else EventFilter()
        with self._lock:
            backlog: list[Event] = []
            if since_ns is not None or until_ns is not None:
                backlog = [
                    event
                    for event in self._recent
                    if (since_ns is None or event.time_ns >= since_ns)
                    and (until_ns is None or event.time_ns <= until_ns)
                    and wanted.matches(event)
                ]
            subscription = Subscription(
                self, wanted, backlog, until_ns=until_ns, pending_limit=self._pending_limit
            )
            self._subscriptions.append(subscription)
        return subscription

    def subscriber_count(self) -> int:
        """Live subscriptions (``/info``'s ``NEventsListener``)."""
        with self._lock:
            return len(self._subscriptions)

    def recent(self) -> list[Event]:
        """The buffered events, oldest first."""
        with self._lock:
            return list(self._recent)

    def close(self) -> None:
        """End every subscription (their streams finish after what they already queued)."""
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()

    def _discard(self, subscription: Subscription) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Subscription:
    """One consumer's view of the bus: replayed events first, then live ones."""

    def __init__(
        self,
        bus: EventBus,
        event_filter: EventFilter,
        backlog: list[Event],
        *,
        until_ns: int | None,
        pending_limit: int,
    ) -> None:
        self._bus = bus
        self._filter = event_filter
        self.until_ns = until_ns
        self.replayed = len(backlog)
        self._pending_limit = pending_limit
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._pending: deque[Event] = deque(backlog)
        self._closed = False
        self._overflowed = False
        self._waker: Callable[[], None] | None = None

    # ---------------------------------------------------------------- publisher side

    def _offer(self, event: Event) -> bool:
        """Queue ``event`` if it matches; False once this subscription is closed."""
        if self._closed:
            return False
        if self.until_ns is not None and event.time_ns > self.until_ns:
            return True
        if not self._filter.matches(event):
            return True
        with self._lock:
            if self._closed:
                return False
            if len(self._pending) >= self._pending_limit:
                self._closed = True
                self._overflowed = True
                log.warning(
                    "an events subscriber fell %d events behind; its stream is closed",
                    self._pending_limit,
                )
            else:
                self._pending.append(event)
            self._ready.notify_all()
            waker, self._waker = self._waker, None
        if waker is not None:
            waker()
        return not self._closed

    # ---------------------------------------------------------------- consumer side

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def overflowed(self) -> bool:
        """Closed because the consumer fell ``pending_limit`` events behind."""
        return self._overflowed

    @property
    def done(self) -> bool:
        """Closed and drained: nothing more will come."""
        with self._lock:
            return self._closed and not self._pending

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None: as long as it takes);
        None on timeout or once closed and drained (see ``done``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._pending:
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._ready.wait(remaining)
            return self._pending.popleft()

    async def next(self, timeout: float | None = None) -> Event | None:
        """``get`` for an asyncio consumer: waits without holding a thread."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            with self._lock:
                if self._pending:
                    return self._pending.popleft()
                if self._closed:
                    return None
                future: asyncio.Future[None] = loop.create_future()

                def wake(future: asyncio.Future[None] = future) -> None:
                    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                        loop.call_soon_threadsafe(_wake, future)

                self._waker = wake
            remaining = None if deadline is None else deadline - loop.time()
            try:
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                with self._lock:
                    self._waker = None
                    return self._pending.popleft() if self._pending else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._ready.notify_all()
            waker, self._waker = self._waker, None
        if waker is not None:
            waker()
        self._bus._discard(self)

    def __iter__(self) -> Iterator[Event]:
        while (event := self.get()) is not None:
            yield event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while (event := await self.next()) is not None:
            yield event

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
