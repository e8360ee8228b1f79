"""Docker's raw streams: connection hijacking (``Upgrade: tcp`` → 101) and stdcopy framing.

After the 101, the socket is ours: the transport is handed from aiohttp's protocol to ours
(``transport.set_protocol``), container output is written straight to it (stdcopy-framed
without a TTY, raw with one) and client bytes (stdin) arrive in our protocol. A client's
half-close (``shutdown(SHUT_WR)`` after stdin ends) must not close our side: output keeps
flowing until the process ends. This leans on aiohttp internals (the buffered
``_message_tail``) and is kept in this one module, tested through real clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

from aiohttp import web

STDIN = 0
STDOUT = 1
STDERR = 2
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"

_HEADER = struct.Struct(">BxxxL")


def stdcopy_frame(stream: int, data: bytes) -> bytes:
    """One stdcopy frame: [stream, 0, 0, 0, size (uint32 BE)] + data."""
    return _HEADER.pack(stream, len(data)) + data


class _HijackedProtocol(asyncio.Protocol):
    """Takes the transport over from aiohttp after the 101: client bytes go to a queue, a
    half-close is only the end of stdin (returning True keeps our write side open), and
    write flow control is ours."""

    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self._queue = queue
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.lost = False

    def data_received(self, data: bytes) -> None:
        if data:
            self._queue.put_nowait(bytes(data))

    def eof_received(self) -> bool:
        self._queue.put_nowait(b"")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._queue.put_nowait(b"")
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def drain(self) -> None:
        await self._can_write.wait()


class HijackedStream:
    """A client connection after ``101 UPGRADED`` (or a plain 200 stream when the client
    did not ask to upgrade, in which case there is no stdin)."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        *,
        upgraded: bool,
        multiplexed: bool,
    ) -> None:
        self._request = request
        self._response = response
        self.upgraded = upgraded
        self.multiplexed = multiplexed
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._stdin_closed = False
        self._closed = False
        self._protocol: _HijackedProtocol | None = None

    @classmethod
    async def open(
        cls, request: web.Request, *, multiplexed: bool, initial_stdin: bytes = b""
    ) -> HijackedStream:
        upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
        content_type = MULTIPLEXED if multiplexed else RAW
        if upgrade:
            response = web.StreamResponse(
                status=101,
                reason="UPGRADED",
                headers={"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"},
            )
        else:
            response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        await response.prepare(request)
        stream = cls(request, response, upgraded=upgrade, multiplexed=multiplexed)
        if initial_stdin:
            stream._stdin.put_nowait(initial_stdin)
        if upgrade:
            transport = request.transport
            assert transport is not None
            aiohttp_protocol: Any = request.protocol
            # Bytes the client sent right behind its request headers are already buffered.
            tail = bytes(getattr(aiohttp_protocol, "_message_tail", b"") or b"")
            if tail:
                stream._stdin.put_nowait(tail)
                aiohttp_protocol._message_tail = b""
            hijacked = _HijackedProtocol(stream._stdin)
            stream._protocol = hijacked
            transport.set_protocol(hijacked)
        else:
            stream._stdin.put_nowait(b"")
        return stream

    async def read_stdin(self) -> bytes:
        """Next chunk of client input; b"" once the client closed its side."""
        if self._stdin_closed:
            return b""
        data = await self._stdin.get()
        if not data:
            self._stdin_closed = True
        return data

    async def write(self, stream: int, data: bytes) -> None:
        if self._closed or not data:
            return
        payload = stdcopy_frame(stream, data) if self.multiplexed else data
        if self.upgraded:
            transport = self._request.transport
            if transport is None or transport.is_closing():
                self._closed = True
                return
            transport.write(payload)
            if self._protocol is not None:
                await self._protocol.drain()
        else:
            try:
                await self._response.write(payload)
            except (ConnectionResetError, RuntimeError):
                self._closed = True

    @property
    def closed(self) -> bool:
        transport = self._request.transport
        lost = self._protocol is not None and self._protocol.lost
        return self._closed or lost or transport is None or transport.is_closing()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.upgraded:
            transport = self._request.transport
            if transport is not None and not transport.is_closing():
                if transport.can_write_eof():
                    transport.write_eof()
                transport.close()
        else:
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await self._response.write_eof()
