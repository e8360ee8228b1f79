"""Docker's raw streams: connection hijacking (``Upgrade: tcp`` → 101) and stdcopy framing.

After the 101, the socket is ours: container output is written straight to the transport
(stdcopy-framed without a TTY, raw with one) and client bytes (stdin) arrive through a parser
object that aiohttp feeds. A client's half-close (``shutdown(SHUT_WR)`` after stdin ends) must
not close our side: output keeps flowing until the process ends. This leans on aiohttp
internals (``protocol.set_parser``, ``eof_received``) and is kept in this one module, tested
through real clients.
"""

from __future__ import annotations

import asyncio
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


class _StdinParser:
    """What aiohttp feeds once the connection is upgraded: bytes go to a queue."""

    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self._queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self._queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._queue.put_nowait(b"")


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
            protocol: Any = request.protocol
            protocol.set_parser(_StdinParser(stream._stdin))

            def eof_received() -> bool:
                stream._stdin.put_nowait(b"")
                return True  # keep the write side open after the client's half-close

            protocol.eof_received = eof_received
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
            protocol: Any = self._request.protocol
            writer = getattr(protocol, "writer", None)
            if writer is not None and hasattr(writer, "drain"):
                await writer.drain()
        else:
            try:
                await self._response.write(payload)
            except (ConnectionResetError, RuntimeError):
                self._closed = True

    @property
    def closed(self) -> bool:
        transport = self._request.transport
        return self._closed or transport is None or transport.is_closing()

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
            try:
                await self._response.write_eof()
            except (ConnectionResetError, RuntimeError):
                pass
