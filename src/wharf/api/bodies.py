"""Bridges between aiohttp's async request/response bodies and blocking engine code.

Engine services work on plain blocking file objects in worker threads; these adapters let a
thread read an upload or write a download while the event loop moves the bytes.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from aiohttp import StreamReader, web


class RequestBodyReader(io.RawIOBase):
    """A blocking reader over an aiohttp request body, for use from a worker thread."""

    def __init__(self, content: StreamReader, loop: asyncio.AbstractEventLoop) -> None:
        self._content = content
        self._loop = loop
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending:
            future = asyncio.run_coroutine_threadsafe(self._content.readany(), self._loop)
            self._pending = future.result()
            if not self._pending:
                return 0
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class ResponseBodyWriter(io.RawIOBase):
    """A blocking writer into a prepared aiohttp StreamResponse, for use from a worker thread."""

    def __init__(self, response: web.StreamResponse, loop: asyncio.AbstractEventLoop) -> None:
        self._response = response
        self._loop = loop

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if chunk:
            asyncio.run_coroutine_threadsafe(self._response.write(chunk), self._loop).result()
        return len(chunk)


def buffered_reader(request: web.Request) -> io.BufferedReader:
    raw = RequestBodyReader(request.content, asyncio.get_running_loop())
    return io.BufferedReader(raw, buffer_size=1 << 20)


def buffered_writer(response: web.StreamResponse) -> io.BufferedWriter:
    raw = ResponseBodyWriter(response, asyncio.get_running_loop())
    return io.BufferedWriter(raw, buffer_size=1 << 20)
