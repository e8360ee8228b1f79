"""Unpacking an image's layers into snapshots keyed by chainID, each layer once.

A layer is extracted into a fresh active snapshot whose parent is the previous chain, its
DiffID checked against the config, then committed under the chainID's hex. Images that share
a base share its snapshots. A crash leaves only an active ``unpack-*`` snapshot, which the
snapshotter's start-up cleanup removes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

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


class OverlappedUnpacker:
    """Unpacks an image's layers in order while later ones are still downloading.

    The pull tells it when each blob is in the store (``blob_ready``); a worker thread
    waits for the manifest's config, then extracts layer 1 as soon as it is there, layer 2
    after it, and so on, so download, decompression and extraction overlap. ``on_extracted``
    reports each finished layer. ``finish()`` waits for the worker and re-raises its error.
    """

    def __init__(
        self,
        provider: Provider,
        snapshotter: Snapshotter,
        resolve: Callable[[], ResolvedImage | None],
        *,
        on_extracting: Callable[[Digest], None] = lambda _digest: None,
        on_extracted: Callable[[Digest], None] = lambda _digest: None,
    ) -> None:
        self._provider = provider
        self._snapshotter = snapshotter
        self._resolve = resolve
        self._on_extracting = on_extracting
        self._on_extracted = on_extracted
        self._ready: set[Digest] = set()
        self._condition = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="unpack", daemon=True)
        self._thread.start()

    def blob_ready(self, digest: Digest) -> None:
        with self._condition:
            self._ready.add(digest)
            self._condition.notify_all()

    def _wait_for(self, predicate: Callable[[], bool]) -> bool:
        with self._condition:
            while not predicate():
                if self._done:
                    return predicate()
                self._condition.wait(0.2)
            return True

    def _run(self) -> None:
        try:
            image: ResolvedImage | None = None

            def resolved() -> bool:
                nonlocal image
                image = self._resolve()
                return image is not None

            if not self._wait_for(resolved) or image is None:
                return
            parent: str | None = None
            chains = image.chain_ids()
            for layer, diff_id, chain in zip(
                image.manifest.layers, image.config.rootfs_diff_ids, chains, strict=True
            ):
                wanted = layer.digest

                def present(digest: Digest = wanted) -> bool:
                    return digest in self._ready or self._provider.exists(digest)

                if not self._wait_for(present):
                    return
                if not self._snapshotter.exists(chain.hex):
                    self._on_extracting(layer.digest)
                    _unpack_layer(
                        self._provider,
                        self._snapshotter,
                        layer.digest,
                        layer.media_type,
                        diff_id,
                        chain,
                        parent,
                    )
                self._on_extracted(layer.digest)
                parent = chain.hex
        except BaseException as exc:  # re-raised by finish() in the pulling thread
            self._error = exc

    def finish(self) -> None:
        with self._condition:
            self._done = True
            self._condition.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error
