"""``import``: a root filesystem tarball becomes a one-layer image, in one pass.

The input (plain, gzip or zstd tar) is read once: as the extractor pulls bytes, the same bytes
are gzip-compressed into a content writer, so the layer is unpacked into its snapshot and
stored as a blob without a second read or a temporary file. The DiffID is the digest of the
uncompressed bytes. Nothing is visible until everything verified: the blob is committed by
rename, the snapshot by rename, and the caller records a name last.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

from isal import isal_zlib

from wharf.archive.compression import ReadableStream, open_auto
from wharf.archive.extract import apply_layer
from wharf.content.store import Ingester, Writer
from wharf.oci import mediatypes
from wharf.oci.config import ContainerConfig, HistoryEntry, ImageConfig
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest, chain_id
from wharf.oci.manifest import Manifest
from wharf.oci.platform import Platform
from wharf.snapshots.snapshotter import Snapshotter

_GZIP_LEVEL = 1  # isal level 1 is ~5x faster than zlib -6 for a few percent of size


class _CompressingTee:
    """Reads from ``source``; every byte read is also gzip-compressed into ``writer``."""

    def __init__(self, source: ReadableStream, writer: Writer) -> None:
        self._source = source
        self._writer = writer
        # wbits 16+15: a gzip container, as registries and `docker load` expect.
        self._compressor = isal_zlib.compressobj(_GZIP_LEVEL, isal_zlib.DEFLATED, 31)

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        if data:
            compressed = self._compressor.compress(data)
            if compressed:
                self._writer.write(compressed)
        return data

    def finish(self) -> None:
        # Whatever the extractor left unread (it drains to EOF, but be exact) goes in too.
        while self.read(1 << 20):
            pass
        self._writer.write(self._compressor.flush())


def _rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_document(content: Ingester, data: bytes, media_type: str) -> Descriptor:
    digest = Digest.of_bytes(data)
    writer = content.writer(f"import-doc-{digest.hex}", expected=digest, expected_size=len(data))
    try:
        writer.write(data)
        writer.commit(digest, len(data))
    except BaseException:
        writer.abort()
        raise
    return Descriptor(media_type=media_type, digest=digest, size=len(data))


def import_rootfs(
    rootfs: BinaryIO,
    *,
    content: Ingester,
    snapshotter: Snapshotter,
    platform: Platform,
    configure: Callable[[ContainerConfig], ContainerConfig],
    comment: str,
) -> Descriptor:
    """Store ``rootfs`` as a one-layer image; returns its manifest descriptor."""
    configured = configure(ContainerConfig())
    _, tar_stream = open_auto(rootfs)

    ref = f"import-{uuid.uuid4().hex}"
    writer = content.writer(ref)
    key = f"import-{uuid.uuid4().hex[:16]}"
    target = snapshotter.prepare(key, None)
    try:
        tee = _CompressingTee(tar_stream, writer)
        applied = apply_layer(tee, target)
        tee.finish()
        layer_size = writer.offset
        layer_digest = writer.commit()
        chain = chain_id([applied.diff_id])
        if snapshotter.exists(chain.hex):
            snapshotter.remove(key)
        else:
            snapshotter.commit(chain.hex, key)
    except BaseException:
        writer.abort()
        if snapshotter.exists(key):
            snapshotter.remove(key)
        raise

    created = _rfc3339_now()
    config = ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        created=created,
        config=configured,
        rootfs_diff_ids=(applied.diff_id,),
        history=(HistoryEntry(created=created, comment=comment),),
    )
    config_descriptor = write_document(content, config.to_bytes(), mediatypes.OCI_CONFIG)
    manifest = Manifest(
        config=config_descriptor,
        layers=(
            Descriptor(media_type=mediatypes.OCI_LAYER_GZIP, digest=layer_digest, size=layer_size),
        ),
        media_type=mediatypes.OCI_MANIFEST,
    )
    return write_document(content, manifest.to_bytes(), mediatypes.OCI_MANIFEST)
