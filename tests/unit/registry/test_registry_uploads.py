"""Upload sessions: resuming after idle close and restarts, order checks, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wharf.content.local import LocalStore
from wharf.distribution.errors import ErrorCode, RegistryError
from wharf.oci.digest import Digest
from wharf.registry.filesystem import FilesystemDriver
from wharf.registry.storage import RegistryStore
from wharf.registry.uploads import Uploads


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def make(tmp_path: Path) -> tuple[RegistryStore, Uploads]:
    blobs = LocalStore(tmp_path / "content")
    store = RegistryStore(FilesystemDriver(tmp_path / "meta"), blobs)
    return store, Uploads(store, blobs, idle_seconds=0)


def test_chunks_resume_across_idle_close_and_restart(tmp_path: Path) -> None:
    data = b"a" * 3000 + b"b" * 3000

    async def scenario() -> Digest:
        _, uploads = make(tmp_path)
        started = await uploads.start("r")
        await uploads.append(
            "r", started.upload_id, body(data[:3000]), content_range="0-2999", content_length=3000
        )
        assert await uploads.close_idle() == 1  # writer closed, bytes kept
        assert (await uploads.status("r", started.upload_id)).offset == 3000
        _, fresh = make(tmp_path)  # as after a restart
        with pytest.raises(RegistryError) as info:
            await fresh.append(
                "r", started.upload_id, body(b"x"), content_range="0-0", content_length=1
            )
        assert info.value.status == 416
        await fresh.append(
            "r",
            started.upload_id,
            body(data[3000:]),
            content_range="3000-5999",
            content_length=None,
        )
        await uploads.close_all()
        return await fresh.finish(
            "r",
            started.upload_id,
            Digest.of_bytes(data),
            body(),
            content_range=None,
            content_length=0,
        )

    digest = asyncio.run(scenario())
    store, _ = make(tmp_path)
    assert store.blob_info("r", digest).size == 6000


def test_mismatch_cancel_and_unknown(tmp_path: Path) -> None:
    async def scenario() -> None:
        store, uploads = make(tmp_path)
        started = await uploads.start("r")
        with pytest.raises(RegistryError) as info:
            await uploads.finish(
                "r",
                started.upload_id,
                Digest.of_bytes(b"x"),
                body(b"y"),
                content_range=None,
                content_length=1,
            )
        assert info.value.code is ErrorCode.DIGEST_INVALID
        with pytest.raises(RegistryError) as info:
            await uploads.status("r", started.upload_id)
        assert info.value.code is ErrorCode.BLOB_UPLOAD_UNKNOWN
        other = await uploads.start("r")
        await uploads.append(
            "r", other.upload_id, body(b"zz"), content_range=None, content_length=2
        )
        await uploads.cancel("r", other.upload_id)
        with pytest.raises(RegistryError):
            await uploads.cancel("r", other.upload_id)
        with pytest.raises(RegistryError) as info:
            await uploads.append("r", "nope", body(b""), content_range=None, content_length=0)
        assert info.value.code is ErrorCode.BLOB_UPLOAD_UNKNOWN
        with pytest.raises(RegistryError) as info:
            await uploads.append(
                "r", other.upload_id, body(b"abc"), content_range="0-9", content_length=None
            )
        assert store.blobs.ingests() == []
        await uploads.close_all()

    asyncio.run(scenario())


def test_declared_length_must_match(tmp_path: Path) -> None:
    async def scenario() -> None:
        _, uploads = make(tmp_path)
        started = await uploads.start("r")
        with pytest.raises(RegistryError) as info:
            await uploads.append(
                "r", started.upload_id, body(b"abc"), content_range="0-9", content_length=None
            )
        assert info.value.code is ErrorCode.SIZE_INVALID
        assert (await uploads.status("r", started.upload_id)).offset == 3
        await uploads.close_all()

    asyncio.run(scenario())
