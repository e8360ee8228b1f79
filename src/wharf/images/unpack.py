"""Unpacking an image's layers into snapshots keyed by chainID, each layer once.

A layer is extracted into a fresh active snapshot whose parent is the previous chain, its
DiffID checked against the config, then committed under the chainID's hex. Images that share
a base share its snapshots. A crash leaves only an active ``unpack-*`` snapshot, which the
snapshotter's start-up cleanup removes.
"""

from __future__ import annotations

import uuid

from wharf.archive.compression import open_decompressed
from wharf.archive.extract import apply_layer
from wharf.content.store import Provider
from wharf.errdefs import InvalidArgument
from wharf.images.resolve import ResolvedImage
from wharf.oci.digest import Digest
from wharf.oci.mediatypes import layer_compression
from wharf.snapshots.snapshotter import Snapshotter


def unpack_image(
    provider: Provider, snapshotter: Snapshotter, image: ResolvedImage
) -> Digest | None:
    """Make sure every layer of ``image`` is a committed snapshot; return the top chainID."""
    parent: str | None = None
    chains = image.chain_ids()
    for layer, diff_id, chain in zip(
        image.manifest.layers, image.config.rootfs_diff_ids, chains, strict=True
    ):
        if not snapshotter.exists(chain.hex):
            _unpack_layer(
                provider, snapshotter, layer.digest, layer.media_type, diff_id, chain, parent
            )
        parent = chain.hex
    return chains[-1] if chains else None


def _unpack_layer(
    provider: Provider,
    snapshotter: Snapshotter,
    blob: Digest,
    media_type: str,
    diff_id: Digest,
    chain: Digest,
    parent: str | None,
) -> None:
    key = f"unpack-{chain.hex[:16]}-{uuid.uuid4().hex[:8]}"
    target = snapshotter.prepare(key, parent)
    try:
        with provider.open(blob) as raw:
            stream = open_decompressed(raw, layer_compression(media_type))
            applied = apply_layer(stream, target)
        if applied.diff_id != diff_id:
            raise InvalidArgument(
                f"layer {blob} unpacks to {applied.diff_id}, but the config says {diff_id}"
            )
        if snapshotter.exists(chain.hex):
            # Another unpack of the same layer won the race; ours is redundant.
            snapshotter.remove(key)
        else:
            snapshotter.commit(chain.hex, key)
    except BaseException:
        if snapshotter.exists(key):
            snapshotter.remove(key)
        raise
