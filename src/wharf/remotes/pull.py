"""Pull: copy an image (index, the host's manifest, config, layers) into a content store.

Layer L1b. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content.store``,
``wharf.remotes.client``.

Order: resolve the reference -> fetch and store the manifest (or index, then the chosen
platform's manifest, skipping attestation entries) -> config and layers on a thread pool of
``concurrency`` workers, each blob skipped when the store has it. Blobs are committed only
after verification (see ``RegistryClient.fetch_blob``) and a manifest only after its bytes
matched its digest, so a failed pull leaves only verified blobs and resumable ingests.

Progress is typed ``PullProgress`` values per layer, sent from worker threads; the callback
must be thread-safe and quick.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from wharf.content.store import Ingester, Provider, write_blob
from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest, parse_manifest
from wharf.oci.platform import Platform, host_platform, select_manifest
from wharf.oci.reference import Reference, parse_normalized
from wharf.remotes.client import RegistryClient, ingest_ref

PROGRESS_STEP = 512 * 1024
"""Emit a Downloading event at most every this many bytes (and at the end)."""


class PullState(enum.Enum):
    WAITING = "Waiting"
    DOWNLOADING = "Downloading"
    VERIFYING = "Verifying Checksum"
    DOWNLOAD_COMPLETE = "Download complete"
    ALREADY_EXISTS = "Already exists"
    PULL_COMPLETE = "Pull complete"


@dataclass(frozen=True, slots=True)
class PullProgress:
    layer_digest: Digest
    state: PullState
    current: int = 0
    total: int = 0


ProgressCallback = Callable[[PullProgress], None]


class PullStore(Provider, Ingester, Protocol):
    """What a pull needs of a content store: read what is there, write what is not."""


def _store_manifest(
    client: RegistryClient, repository: str, descriptor: Descriptor, content: PullStore
) -> bytes:
    if content.exists(descriptor.digest):
        return content.read_bytes(descriptor.digest)
    data = client.fetch_manifest(repository, descriptor)
    write_blob(content, ingest_ref(descriptor.digest), data, expected=descriptor.digest)
    return data


def resolve_image(
    client: RegistryClient,
    repository: str,
    top: Descriptor,
    content: PullStore,
    platform: Platform,
) -> Manifest:
    """Store ``top`` and, for an index, the entry for ``platform``; the image manifest."""
    descriptor = top
    for _ in range(4):  # an index of indexes is legal but never deep
        parsed = parse_manifest(
            _store_manifest(client, repository, descriptor, content), descriptor.media_type
        )
        if isinstance(parsed, Manifest):
            return parsed
        assert isinstance(parsed, Index)
        descriptor = select_manifest(parsed.manifests, platform)
    raise InvalidArgument(f"{top.digest}: indexes nested too deep")


def pull(
    client: RegistryClient,
    reference: Reference | str,
    content: PullStore,
    *,
    platform: Platform | None = None,
    concurrency: int = 3,
    progress: ProgressCallback | None = None,
) -> Descriptor:
    """Pull ``reference`` into ``content``; returns the descriptor the reference names."""
    ref = parse_normalized(reference) if isinstance(reference, str) else reference
    repository = ref.path
    top = client.resolve(ref)
    manifest = resolve_image(client, repository, top, content, platform or host_platform())
    emit: ProgressCallback = progress or (lambda _event: None)
    layers = [
        layer for layer in manifest.layers if not mediatypes.is_nondistributable(layer.media_type)
    ]
    for layer in layers:
        emit(PullProgress(layer.digest, PullState.WAITING, 0, layer.size))

    def fetch(descriptor: Descriptor, is_layer: bool) -> None:
        if content.exists(descriptor.digest):
            if is_layer:
                emit(PullProgress(descriptor.digest, PullState.ALREADY_EXISTS))
            return
        last = [0]

        def on_bytes(current: int, total: int) -> None:
            if is_layer and (current - last[0] >= PROGRESS_STEP or current == total):
                last[0] = current
                emit(PullProgress(descriptor.digest, PullState.DOWNLOADING, current, total))

        client.fetch_blob(repository, descriptor, content, progress=on_bytes)
        if is_layer:
            size = descriptor.size
            emit(PullProgress(descriptor.digest, PullState.VERIFYING, size, size))
            emit(PullProgress(descriptor.digest, PullState.DOWNLOAD_COMPLETE, size, size))
            emit(PullProgress(descriptor.digest, PullState.PULL_COMPLETE, size, size))

    jobs: dict[Digest, tuple[Descriptor, bool]] = {manifest.config.digest: (manifest.config, False)}
    for layer in layers:
        jobs.setdefault(layer.digest, (layer, True))
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="pull") as pool:
        futures = [
            pool.submit(fetch, descriptor, is_layer) for descriptor, is_layer in jobs.values()
        ]
        _done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            error = None if future.cancelled() or not future.done() else future.exception()
            if error is not None:
                raise error
    return top
