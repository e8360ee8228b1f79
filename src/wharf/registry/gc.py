"""Online garbage collection: remove blobs no manifest references, while serving.

Layer L3. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content.store``,
``wharf.registry.{storage,guard,layout}``.

One ``collect()`` (synchronous; the server runs it in a worker thread):

1. Tracking on (``CollectionGuard.start_tracking``): from now on every upload commit, mount
   and manifest PUT records the digests it makes reachable.
2. Optionally (``delete_untagged``) drop manifest revisions no tag reaches, directly or
   through an index or as a referrer of a kept manifest, older than ``grace``.
3. Mark: every revision of every repository, and the blobs and manifests each refers to.
4. Sweep: a blob is deleted only if it is unmarked, was committed more than ``grace``
   seconds ago, no repository linked it (push or mount) in the last ``grace`` seconds, and
   (checked inside ``guard.exclusive()``, right before deleting) nobody touched it since
   step 1. Its links go first, then the bytes.
5. Unfinished uploads idle longer than ``upload_purge_after`` are removed; uploads with a
   live writer are never touched (their ingest lock is held).

The registry never turns read-only for this; a push racing the sweep either touched its
blobs (they stay) or finds them gone and uploads them again (they were unreachable and
older than ``grace``, so no client was about to rely on them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from wharf.content.store import Store
from wharf.distribution.errors import RegistryError
from wharf.distribution.names import ManifestReference
from wharf.errdefs import InvalidArgument, NotFound
from wharf.oci.digest import Digest
from wharf.oci.manifest import parse_manifest
from wharf.registry import layout
from wharf.registry.storage import RegistryStore, Revision, references

_log = logging.getLogger("wharf.registry.gc")


@dataclass(frozen=True, slots=True)
class GCReport:
    repositories: int
    marked: int
    blobs_deleted: int
    bytes_freed: int
    manifests_deleted: int
    uploads_purged: int
    seconds: float


class Collector:
    def __init__(
        self,
        store: RegistryStore,
        blobs: Store,
        *,
        grace: float = 3600.0,
        upload_purge_after: float = 7 * 24 * 3600.0,
        delete_untagged: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self.grace = grace
        self.upload_purge_after = upload_purge_after
        self.delete_untagged = delete_untagged
        self._clock = clock
        self._running = threading.Lock()

    def collect(self, *, dry_run: bool = False) -> GCReport:
        """One collection; a second call while one runs waits for it."""
        with self._running:
            started = time.monotonic()
            guard = self._store.guard
            guard.start_tracking()
            try:
                return self._collect(dry_run, started)
            finally:
                guard.stop_tracking()

    def _collect(self, dry_run: bool, started: float) -> GCReport:
        store = self._store
        cutoff = self._clock() - self.grace
        repositories = store.catalog()
        manifests_deleted = 0
        if self.delete_untagged:
            for name in repositories:
                manifests_deleted += self._drop_untagged(name, cutoff, dry_run)
        marked: set[Digest] = set()
        for name in repositories:
            for revision in store.revisions(name):
                marked.add(revision.digest)
                marked.update(self._dependencies(revision))
        deleted = freed = 0
        for info in list(self._blobs.walk()):
            if info.digest in marked or info.created >= cutoff:
                continue
            links = [
                name
                for name in repositories
                if store.driver.exists(layout.layer_link(name, info.digest))
            ]
            if any(self._modified(layout.layer_link(n, info.digest)) >= cutoff for n in links):
                continue
            if dry_run:
                deleted += 1
                freed += info.size
                continue
            with store.guard.exclusive():
                if store.guard.touched(info.digest):
                    continue
                for name in links:
                    store.driver.delete(layout.layer_link(name, info.digest))
                try:
                    self._blobs.delete(info.digest)
                except NotFound:
                    continue
            deleted += 1
            freed += info.size
        purged = 0 if dry_run else len(self._blobs.cleanup(self.upload_purge_after))
        report = GCReport(
            repositories=len(repositories),
            marked=len(marked),
            blobs_deleted=deleted,
            bytes_freed=freed,
            manifests_deleted=manifests_deleted,
            uploads_purged=purged,
            seconds=time.monotonic() - started,
        )
        _log.info(
            "gc%s: %d repositories, %d blobs in use, %d deleted (%d bytes), "
            "%d manifests, %d uploads purged, %.2fs",
            " (dry run)" if dry_run else "",
            report.repositories,
            report.marked,
            report.blobs_deleted,
            report.bytes_freed,
            report.manifests_deleted,
            report.uploads_purged,
            report.seconds,
        )
        return report

    def _modified(self, key: str) -> float:
        try:
            return self._store.driver.stat(key).modified
        except NotFound:
            return 0.0

    def _parsed(
        self, digest: Digest, media_type: str | None = None
    ) -> tuple[list[Digest], list[Digest], Digest | None]:
        """``(blobs, child manifests, subject)`` of a stored manifest; empty if unreadable."""
        try:
            manifest = parse_manifest(self._blobs.read_bytes(digest), media_type)
        except (NotFound, InvalidArgument):
            return [], [], None
        blobs, children = references(manifest)
        subject = manifest.subject.digest if manifest.subject is not None else None
        return [d.digest for d in blobs], [d.digest for d in children], subject

    def _dependencies(self, revision: Revision) -> list[Digest]:
        blobs, children, _subject = self._parsed(revision.digest, revision.media_type)
        return blobs + children

    def _drop_untagged(self, name: str, cutoff: float, dry_run: bool) -> int:
        store = self._store
        revisions = {r.digest: r for r in store.revisions(name)}
        keep: set[Digest] = set()
        pending = [d for d in store.tag_map(name).values() if d in revisions]
        while pending:
            digest = pending.pop()
            if digest in keep:
                continue
            keep.add(digest)
            _blobs, children, _ = self._parsed(digest, revisions[digest].media_type)
            pending.extend(c for c in children if c in revisions)
        # Referrers (signatures, SBOMs) of kept manifests stay with them.
        changed = True
        while changed:
            changed = False
            for digest, revision in revisions.items():
                if digest not in keep and revision.subject in keep:
                    keep.add(digest)
                    changed = True
        dropped = 0
        for digest in revisions:
            if digest in keep or self._modified(layout.revision_link(name, digest)) >= cutoff:
                continue
            if not dry_run:
                try:
                    store.delete_manifest(name, ManifestReference(digest=digest))
                except RegistryError:
                    continue
            dropped += 1
            _log.debug("gc: untagged manifest %s@%s", name, digest)
        return dropped
