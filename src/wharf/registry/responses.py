"""Registry HTTP responses: streamed blobs (sendfile, ranges) and error envelopes.

Layer L3. Imports: stdlib, ``aiohttp``, ``wharf.distribution.errors``.

``BlobResponse`` sends ``count`` bytes from ``offset`` of an already-open file with
``loop.sendfile`` (zero-copy on plain TCP; asyncio falls back to reads in pieces over TLS),
so serving a blob costs no memory proportional to its size. It owns the file and closes
it when done, whatever happens; holding the open file also means a blob deleted by garbage
collection mid-download is still sent whole.
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from wharf.distribution.errors import RegistryError


class BlobResponse(web.StreamResponse):
    def __init__(
        self, fobj: BinaryIO, offset: int, count: int, *, status: int, headers: dict[str, str]
    ) -> None:
        super().__init__(status=status, headers=headers)
        self._fobj = fobj
        self._offset = offset
        self._count = count
        self.content_length = count
        self.bytes_sent = 0

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return self._payload_writer
        try:
            writer = await super().prepare(request)
            if request.method != "HEAD" and self._count:
                transport = request.transport
                if transport is None:
                    raise ConnectionResetError("connection lost")
                loop = asyncio.get_running_loop()
                self.bytes_sent = await loop.sendfile(
                    transport, self._fobj, self._offset, self._count
                )
            await super().write_eof()
            return writer
        finally:
            self._fobj.close()

    def close_unsent(self) -> None:
        """Release the file of a response that will never be prepared."""
        self._fobj.close()


def error_response(error: RegistryError, *, head: bool) -> web.Response:
    headers = {"Content-Type": "application/json; charset=utf-8", **error.headers}
    body = error.body()
    if head:
        headers["Content-Length"] = str(len(body))
        return web.Response(status=error.status, headers=headers)
    return web.Response(status=error.status, body=body, headers=headers)
