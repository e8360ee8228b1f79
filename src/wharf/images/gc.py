"""Mark and sweep over the content store and the committed layer snapshots.

Roots are the target descriptors of every image name. Marked: every blob reachable from a
root (index → manifests → config + layers) and every chainID of every resolvable image.
Swept: committed snapshots and blobs nothing marks. Callers make sure no operation is
writing unnamed content meanwhile (the engine defers collection while one is).
Active snapshots are not this module's business (containers own theirs).
"""

from __future__ import annotations

import logging

from wharf.content.store import Store
from wharf.errdefs import Conflict, NotFound, WharfError
from wharf.images.resolve import referenced_blobs, resolve_image
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform
from wharf.snapshots.snapshotter import SnapshotKind, Snapshotter

log = logging.getLogger("wharf.images.gc")


def collect_garbage(
    content: Store, snapshotter: Snapshotter, roots: list[Descriptor], platform: Platform
) -> tuple[int, int]:
    """Remove unreachable blobs and committed snapshots; returns how many of each went."""
    live_blobs: set[Digest] = set()
    live_chains: set[str] = set()
    for root in roots:
        try:
            live_blobs.update(referenced_blobs(content, root))
            image = resolve_image(content, root, platform)
        except WharfError as exc:
            log.warning("image target %s is unreadable: %s", root.digest, exc.message)
            continue
        live_chains.update(chain.hex for chain in image.chain_ids())

    removed_blobs = 0
    for blob in list(content.walk()):
        if blob.digest not in live_blobs:
            try:
                content.delete(blob.digest)
                removed_blobs += 1
            except NotFound:
                pass
    removed_snapshots = _sweep_snapshots(snapshotter, live_chains)
    if removed_blobs or removed_snapshots:
        log.info("collected %d blobs and %d layers", removed_blobs, removed_snapshots)
    return removed_blobs, removed_snapshots


def _sweep_snapshots(snapshotter: Snapshotter, live_chains: set[str]) -> int:
    removed = 0
    # Children before parents: keep sweeping leaves until nothing more can go.
    while True:
        snapshots = snapshotter.walk()
        parents = {info.parent for info in snapshots if info.parent}
        doomed = [
            info.key
            for info in snapshots
            if info.kind is SnapshotKind.COMMITTED
            and info.key not in live_chains
            and info.key not in parents
        ]
        if not doomed:
            return removed
        for key in doomed:
            try:
                snapshotter.remove(key)
                removed += 1
            except (Conflict, NotFound):
                continue
