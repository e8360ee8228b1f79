"""``commit``: a container's changes become a new top layer over its image.

The diff tar is written once: straight into a gzip compressor whose output goes to a content
writer, while the tar writer computes the DiffID. The new config is the parent's with the
container's settings and the new DiffID and history entry appended; the layer is then
unpacked like any pulled one (so the new image's snapshots exist before it gets a name).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import BinaryIO

from wharf.archive.compression import open_compressor
from wharf.content.store import Store
from wharf.images.resolve import ResolvedImage, resolve_image
from wharf.images.rootfs_import import write_document
from wharf.images.unpack import unpack_image
from wharf.oci import mediatypes
from wharf.oci.config import ContainerConfig, HistoryEntry, ImageConfig
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Manifest
from wharf.oci.platform import Platform
from wharf.snapshots.snapshotter import Snapshotter


class _WriterSink:
    """Adapts a content Writer to the compressor's ``write`` sink."""

    def __init__(self, writer: object) -> None:
        self._writer = writer

    def write(self, data: bytes, /) -> int:
        self._writer.write(data)  # type: ignore[attr-defined]
        return len(data)


def commit_image(
    content: Store,
    snapshotter: Snapshotter,
    *,
    parent: ResolvedImage,
    write_diff: Callable[[BinaryIO], Digest],
    config: ContainerConfig,
    author: str,
    comment: str,
    created_by: str,
    platform: Platform,
) -> Descriptor:
    writer = content.writer(f"commit-{uuid.uuid4().hex}")
    try:
        compressor = open_compressor(_WriterSink(writer), mediatypes.Compression.GZIP)
        diff_id = write_diff(compressor)  # type: ignore[arg-type]
        compressor.close()
        layer_size = writer.offset
        layer_digest = writer.commit()
    except BaseException:
        writer.abort()
        raise
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    base = parent.config
    image_config = ImageConfig(
        architecture=base.architecture or platform.architecture,
        os=base.os or platform.os,
        variant=base.variant,
        created=created,
        author=author,
        config=config,
        rootfs_diff_ids=(*base.rootfs_diff_ids, diff_id),
        history=(
            *base.history,
            HistoryEntry(created=created, created_by=created_by, author=author, comment=comment),
        ),
    )
    config_descriptor = write_document(content, image_config.to_bytes(), mediatypes.OCI_CONFIG)
    manifest = Manifest(
        config=config_descriptor,
        layers=(
            *parent.manifest.layers,
            Descriptor(media_type=mediatypes.OCI_LAYER_GZIP, digest=layer_digest, size=layer_size),
        ),
        media_type=mediatypes.OCI_MANIFEST,
    )
    descriptor = write_document(content, manifest.to_bytes(), mediatypes.OCI_MANIFEST)
    unpack_image(content, snapshotter, resolve_image(content, descriptor, platform))
    return descriptor


def config_with(config: ContainerConfig, **changes: object) -> ContainerConfig:
    return replace(config, **changes)  # type: ignore[arg-type]
