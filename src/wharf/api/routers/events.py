"""``GET /events``: the engine's events as a stream of JSON lines (dockerd's ``getEvents``).

Query parameters:
- ``since``, ``until``: unix seconds with an optional fraction (``1764274211.123456789``), what
  the docker CLI sends after converting durations and dates itself; RFC 3339 is accepted too.
- ``filters``: Docker's JSON filters (``wharf.events.filters``); an unknown key is a 400.

Without ``until`` the stream runs until the client goes away; with ``until`` in the future it
ends then; with ``until`` in the past it carries the buffered matches and ends at once.
``since`` (or ``until``) replays the buffered events of that window first. Each event is
written as it comes (aiohttp hands every chunk straight to the transport: no buffering), so a
client sees it at once. Bad parameters are refused before the 200 is sent.

The handler holds no thread: it awaits the subscription, which engine threads wake. It looks
for a vanished client once a second, since a quiet stream never writes to find out.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Protocol

from aiohttp import web

from wharf.api.app import Route
from wharf.api.routers.containers import parse_timestamp_ns
from wharf.apitypes.filters import Filters
from wharf.errdefs import InvalidArgument
from wharf.events.filters import EventFilter
from wharf.events.model import Event

_POLL_SECONDS = 1.0


class EventStream(Protocol):
    async def next(self, timeout: float | None = None) -> Event | None: ...

    @property
    def done(self) -> bool: ...

    def close(self) -> None: ...


class EventsBackend(Protocol):
    def subscribe(
        self,
        event_filter: EventFilter | None = None,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> EventStream: ...


def encode_event(event: Event) -> bytes:
    """One line of the stream, as Go's ``json.Encoder`` writes it: compact, UTF-8, newline."""
    return json.dumps(event.to_wire(), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def routes(backend: EventsBackend) -> list[Route]:
    async def events(request: web.Request) -> web.StreamResponse:
        since_text = request.query.get("since", "")
        until_text = request.query.get("until", "")
        since = parse_timestamp_ns(since_text)
        until = parse_timestamp_ns(until_text)
        if since is not None and until is not None and until < since:
            raise InvalidArgument(
                f"`since` time ({since_text}) cannot be after `until` time ({until_text})"
            )
        event_filter = EventFilter.parse(Filters.parse(request.query.get("filters")))
        stream = backend.subscribe(event_filter, since_ns=since, until_ns=until)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            await response.prepare(request)
            while True:
                wait = _POLL_SECONDS
                if until is not None:
                    wait = min(wait, max(0.0, (until - time.time_ns()) / 1e9))
                event = await stream.next(timeout=wait)
                if event is not None:
                    await response.write(encode_event(event))
                    continue
                if stream.done or (until is not None and time.time_ns() >= until):
                    break
                if _client_gone(request):
                    return response
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
            return response
        except ConnectionResetError:
            return response  # the client went away mid-write: nothing to tell it
        finally:
            stream.close()

    return [Route("GET", "/events", events)]
