"""Blob uploads: sessions over the content store's resumable ingests.

Layer L3. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.content.store``,
``wharf.distribution``, ``wharf.registry.{layout,storage}``. Bodies come in as async
iterators of bytes; nothing here knows HTTP.

An upload ``<id>`` of repository ``<name>`` is the ingest ref ``upload/<name>/<id>``: the
ingest holds the bytes received so far (its size is the offset), survives restarts, and is
verified (digest) on commit before the blob appears; only then is the blob linked into the
repository. Between requests the ingest's ``Writer`` stays open in memory (so a chunked
upload is hashed once, not re-read on every chunk); it is closed after ``idle_seconds``
without use and reopened (re-hashing what is there) on the next request. Requests on one
upload are serialised by a per-upload asyncio lock.

Memory: bodies are copied to disk in pieces of at most ``BUFFER_BYTES``, in worker threads,
so an upload's memory does not grow with the blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wharf.content.store import Store, Writer
from wharf.distribution.errors import ErrorCode, RegistryError
from wharf.distribution.ranges import check_chunk
from wharf.errdefs import InvalidArgument, NotFound, Unsupported
from wharf.oci.digest import Digest
from wharf.registry import layout
from wharf.registry.storage import RegistryStore

BUFFER_BYTES = 1 << 20

_log = logging.getLogger("wharf.registry.uploads")


@dataclass(frozen=True, slots=True)
class UploadStatus:
    name: str
    upload_id: str
    offset: int


@dataclass(slots=True)
class _Session:
    writer: Writer | None
    lock: asyncio.Lock
    last_used: float


class Uploads:
    """Starts, feeds, finishes and cancels uploads; one instance per server."""

    def __init__(self, store: RegistryStore, ingests: Store, *, idle_seconds: float = 60.0) -> None:
        self._store = store
        self._ingests = ingests
        self._idle = idle_seconds
        self._sessions: dict[str, _Session] = {}

    @property
    def in_flight(self) -> int:
        """Uploads with an open writer (a request in progress or recently used)."""
        return sum(1 for s in self._sessions.values() if s.writer is not None)

    # -- sessions -----------------------------------------------------------------------

    def _session_for(self, ref: str) -> _Session:
        session = self._sessions.get(ref)
        if session is None:
            session = _Session(None, asyncio.Lock(), time.monotonic())
            self._sessions[ref] = session
        return session

    async def _writer(self, session: _Session, ref: str, name: str, upload_id: str) -> Writer:
        """The open writer of ``ref``; the caller holds ``session.lock``."""
        if session.writer is not None:
            return session.writer
        try:
            await asyncio.to_thread(self._ingests.status, ref)
        except NotFound:
            self._forget(ref)
            raise _upload_unknown(name, upload_id) from None
        session.writer = await asyncio.to_thread(self._ingests.writer, ref)
        return session.writer

    def _forget(self, ref: str) -> None:
        self._sessions.pop(ref, None)

    # -- operations ---------------------------------------------------------------------

    async def start(self, name: str) -> UploadStatus:
        upload_id = str(uuid.uuid4())
        ref = layout.upload_ref(name, upload_id)
        session = self._session_for(ref)
        async with session.lock:
            session.writer = await asyncio.to_thread(self._ingests.writer, ref)
            session.last_used = time.monotonic()
        return UploadStatus(name, upload_id, 0)

    async def status(self, name: str, upload_id: str) -> UploadStatus:
        ref = layout.upload_ref(name, upload_id)
        session = self._sessions.get(ref)
        if session is not None and session.writer is not None:
            return UploadStatus(name, upload_id, session.writer.offset)
        try:
            status = await asyncio.to_thread(self._ingests.status, ref)
        except NotFound:
            raise _upload_unknown(name, upload_id) from None
        return UploadStatus(name, upload_id, status.offset)

    async def append(
        self,
        name: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        *,
        content_range: str | None,
        content_length: int | None,
    ) -> UploadStatus:
        """Add one chunk (PATCH); 416 when it does not start at the current offset."""
        ref = layout.upload_ref(name, upload_id)
        session = self._session_for(ref)
        async with session.lock:
            writer = await self._writer(session, ref, name, upload_id)
            await self._write_chunk(session, writer, body, content_range, content_length)
            return UploadStatus(name, upload_id, writer.offset)

    async def finish(
        self,
        name: str,
        upload_id: str,
        digest: Digest,
        body: AsyncIterator[bytes],
        *,
        content_range: str | None,
        content_length: int | None,
    ) -> Digest:
        """Write the last chunk (may be empty), verify the digest, commit and link (PUT)."""
        ref = layout.upload_ref(name, upload_id)
        session = self._session_for(ref)
        async with session.lock:
            writer = await self._writer(session, ref, name, upload_id)
            await self._write_chunk(session, writer, body, content_range, content_length)
            try:
                return await asyncio.to_thread(self._commit, name, writer, digest)
            finally:
                self._forget(ref)

    async def monolithic(
        self, name: str, digest: Digest, body: AsyncIterator[bytes], content_length: int | None
    ) -> Digest:
        """A whole blob in one request (``POST ...?digest=``)."""
        status = await self.start(name)
        try:
            return await self.finish(
                name,
                status.upload_id,
                digest,
                body,
                content_range=None,
                content_length=content_length,
            )
        except BaseException:
            with contextlib.suppress(RegistryError):
                await self.cancel(name, status.upload_id)
            raise

    async def cancel(self, name: str, upload_id: str) -> None:
        ref = layout.upload_ref(name, upload_id)
        session = self._session_for(ref)
        async with session.lock:
            writer = session.writer
            try:
                if writer is not None:
                    await asyncio.to_thread(writer.abort)
                else:
                    await asyncio.to_thread(self._ingests.abort, ref)
            except NotFound:
                raise _upload_unknown(name, upload_id) from None
            finally:
                self._forget(ref)

    async def close_idle(self, now: float | None = None) -> int:
        """Close writers unused for ``idle_seconds`` (their data stays); how many."""
        now = time.monotonic() if now is None else now
        closed = 0
        for ref, session in list(self._sessions.items()):
            if session.lock.locked() or now - session.last_used < self._idle:
                continue
            async with session.lock:
                if session.writer is not None:
                    await asyncio.to_thread(session.writer.close)
                    closed += 1
                self._forget(ref)
        return closed

    async def close_all(self) -> None:
        await self.close_idle(now=float("inf"))

    # -- helpers ------------------------------------------------------------------------

    async def _write_chunk(
        self,
        session: _Session,
        writer: Writer,
        body: AsyncIterator[bytes],
        content_range: str | None,
        content_length: int | None,
    ) -> None:
        expected = check_chunk(content_range, content_length, writer.offset)
        start = writer.offset
        try:
            await _copy(body, writer)
        except BaseException:
            # The client went away or the disk failed: keep what arrived (a later request
            # resumes from the ingest) but drop this writer and its lock.
            session.writer = None
            writer.close()
            raise
        finally:
            session.last_used = time.monotonic()
        written = writer.offset - start
        if expected is not None and written != expected:
            raise RegistryError(
                ErrorCode.SIZE_INVALID,
                f"chunk declared {expected} bytes but {written} arrived",
            )

    def _commit(self, name: str, writer: Writer, digest: Digest) -> Digest:
        # Commit and link under the guard, so a collection cannot sweep the new blob
        # between its publication and its link.
        with self._store.guard.shared():
            try:
                actual = writer.commit(digest)
            except InvalidArgument as exc:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID, exc.message, detail={"digest": str(digest)}
                ) from exc
            except Unsupported as exc:
                raise RegistryError(ErrorCode.DIGEST_INVALID, exc.message) from exc
            self._store.link_blob(name, actual)
        _log.debug("committed %s into %s", actual, name)
        return actual


async def _copy(body: AsyncIterator[bytes], writer: Writer) -> None:
    buffer = bytearray()
    async for chunk in body:
        buffer += chunk
        if len(buffer) >= BUFFER_BYTES:
            data, buffer = buffer, bytearray()
            await asyncio.to_thread(writer.write, data)
    if buffer:
        await asyncio.to_thread(writer.write, buffer)


def _upload_unknown(name: str, upload_id: str) -> RegistryError:
    return RegistryError(
        ErrorCode.BLOB_UPLOAD_UNKNOWN,
        f"upload {upload_id} unknown in repository {name}",
        detail={"name": name, "uuid": upload_id},
    )
