"""RegistryStore: repositories, blob links, manifests, tags and referrers over a driver.

Layer L3. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content.store``,
``wharf.distribution``, ``wharf.registry.{driver,layout,guard}``. No HTTP here: methods
take typed values and raise ``RegistryError`` with the distribution code that fits.

The tree it maintains is drawn in ``wharf.registry.layout``. Methods are synchronous and
thread-safe (the HTTP layer runs them in worker threads); writes that make blobs reachable
run inside ``guard.shared()`` (see ``guard``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from wharf.content.store import BlobInfo, Store, write_blob
from wharf.distribution.errors import ErrorCode, RegistryError, manifest_too_large
from wharf.distribution.names import ManifestReference, is_valid_name, is_valid_tag, validate_tag
from wharf.errdefs import InvalidArgument, NotFound
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest, parse_manifest
from wharf.registry import layout
from wharf.registry.driver import StorageDriver
from wharf.registry.guard import CollectionGuard


@dataclass(frozen=True, slots=True)
class Revision:
    """What a revision link records about a manifest in a repository."""

    digest: Digest
    media_type: str
    size: int
    subject: Digest | None = None

    def to_bytes(self) -> bytes:
        doc: dict[str, object] = {"mediaType": self.media_type, "size": self.size}
        if self.subject is not None:
            doc["subject"] = str(self.subject)
        return json.dumps(doc).encode()

    @classmethod
    def from_bytes(cls, digest: Digest, data: bytes) -> Revision:
        try:
            doc = json.loads(data)
            subject = doc.get("subject")
            return cls(
                digest,
                str(doc["mediaType"]),
                int(doc["size"]),
                Digest.parse(subject) if subject else None,
            )
        except (ValueError, KeyError, TypeError, InvalidArgument) as exc:
            raise RegistryError(ErrorCode.UNKNOWN, f"corrupt revision link {digest}") from exc


@dataclass(frozen=True, slots=True)
class StoredManifest:
    revision: Revision
    data: bytes


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: Digest
    subject: Digest | None


def references(manifest: Manifest | Index) -> tuple[list[Descriptor], list[Descriptor]]:
    """``(blobs, manifests)`` a manifest refers to (the subject is not a dependency)."""
    if isinstance(manifest, Index):
        return [], list(manifest.manifests)
    return [manifest.config, *manifest.layers], []


class RegistryStore:
    """The registry's state: global blobs in ``blobs``, per-repository metadata in ``driver``."""

    def __init__(
        self,
        driver: StorageDriver,
        blobs: Store,
        *,
        guard: CollectionGuard | None = None,
        max_manifest_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.driver = driver
        self.blobs = blobs
        self.guard = guard or CollectionGuard()
        self.max_manifest_bytes = max_manifest_bytes
        if not driver.exists(layout.VERSION_KEY):
            driver.write(layout.VERSION_KEY, str(layout.SCHEMA_VERSION).encode())
        else:
            version = driver.read(layout.VERSION_KEY).decode().strip()
            if version != str(layout.SCHEMA_VERSION):
                raise InvalidArgument(
                    f"registry storage schema {version} is not supported "
                    f"(this version reads {layout.SCHEMA_VERSION})"
                )

    # -- repositories -----------------------------------------------------------------

    def repository_exists(self, name: str) -> bool:
        children = self.driver.list(layout.repository(name))
        return "_layers" in children or "_manifests" in children

    def _require_repository(self, name: str) -> None:
        if not self.repository_exists(name):
            raise RegistryError(
                ErrorCode.NAME_UNKNOWN,
                f"repository {name} not known to registry",
                detail={"name": name},
            )

    def catalog(self) -> list[str]:
        """Every repository name, sorted."""
        return sorted(self._walk_repositories(layout.REPOSITORIES, ""))

    def _walk_repositories(self, key: str, name: str) -> Iterator[str]:
        children = self.driver.list(key)
        if name and ("_layers" in children or "_manifests" in children) and is_valid_name(name):
            yield name
        for child in children:
            if not child.startswith("_"):
                yield from self._walk_repositories(
                    f"{key}/{child}", f"{name}/{child}" if name else child
                )

    # -- blobs ------------------------------------------------------------------------

    def blob_linked(self, name: str, digest: Digest) -> bool:
        return self.driver.exists(layout.layer_link(name, digest)) or self.driver.exists(
            layout.revision_link(name, digest)
        )

    def blob_info(self, name: str, digest: Digest) -> BlobInfo:
        """The blob as this repository sees it; ``BLOB_UNKNOWN`` if not linked or gone."""
        if self.blob_linked(name, digest):
            try:
                return self.blobs.info(digest)
            except NotFound:
                pass
        raise _blob_unknown(digest)

    def open_blob(self, name: str, digest: Digest) -> tuple[BinaryIO, BlobInfo]:
        """An open reader and the blob's info; the caller closes the reader."""
        info = self.blob_info(name, digest)
        try:
            return self.blobs.open(digest), info
        except NotFound:
            raise _blob_unknown(digest) from None

    def link_blob(self, name: str, digest: Digest) -> None:
        """Make a committed blob readable in ``name``; the caller holds ``guard.shared()``."""
        self.guard.touch([digest])
        self.driver.write(layout.layer_link(name, digest), str(digest).encode())

    def mount_blob(self, name: str, digest: Digest, source: str) -> bool:
        """Link ``digest`` from ``source`` into ``name``; False when ``source`` lacks it."""
        with self.guard.shared():
            if not self.blob_linked(source, digest) or not self.blobs.exists(digest):
                return False
            self.link_blob(name, digest)
            return True

    def delete_blob(self, name: str, digest: Digest) -> None:
        """Unlink the blob from ``name``; the bytes go at the next garbage collection."""
        if not self.driver.delete(layout.layer_link(name, digest)):
            raise _blob_unknown(digest)

    def layer_links(self, name: str) -> list[Digest]:
        out = []
        for algorithm in self.driver.list(layout.layers_dir(name)):
            for hex_part in self.driver.list(f"{layout.layers_dir(name)}/{algorithm}"):
                try:
                    out.append(Digest.parse(f"{algorithm}:{hex_part}"))
                except InvalidArgument:
                    continue
        return out

    # -- manifests --------------------------------------------------------------------

    def put_manifest(
        self,
        name: str,
        reference: ManifestReference,
        data: bytes,
        content_type: str | None,
        extra_tags: tuple[str, ...] = (),
    ) -> PutResult:
        """Store a manifest under a tag or digest (and ``extra_tags``), verifying it first."""
        if len(data) > self.max_manifest_bytes:
            raise manifest_too_large(self.max_manifest_bytes)
        for tag in extra_tags:
            validate_tag(tag)
        digest = Digest.of_bytes(data)
        if reference.digest is not None and reference.digest != digest:
            raise RegistryError(
                ErrorCode.DIGEST_INVALID,
                f"manifest digest {digest} does not match {reference.digest}",
                detail={"digest": str(reference.digest)},
            )
        try:
            manifest = parse_manifest(data, content_type)
        except InvalidArgument as exc:
            raise RegistryError(ErrorCode.MANIFEST_INVALID, exc.message) from exc
        blob_refs, manifest_refs = references(manifest)
        subject = manifest.subject.digest if manifest.subject is not None else None
        revision = Revision(digest, manifest.media_type, len(data), subject)
        with self.guard.shared():
            self._check_references(name, blob_refs, manifest_refs)
            self.guard.touch([digest, *(d.digest for d in blob_refs + manifest_refs)])
            if not self.blobs.exists(digest):
                # A unique ref: two clients may push the same manifest at once.
                write_blob(self.blobs, f"manifest/{digest.hex}/{uuid.uuid4()}", data, digest)
            self.driver.write(layout.revision_link(name, digest), revision.to_bytes())
            if manifest.subject is not None:
                entry = _referrer_descriptor(manifest, revision)
                self.driver.write(
                    layout.referrer_entry(name, manifest.subject.digest, digest),
                    json.dumps(entry.to_json()).encode(),
                )
            tags = (*([reference.tag] if reference.tag is not None else []), *extra_tags)
            for tag in tags:
                self.driver.write(layout.tag_file(name, tag), str(digest).encode())
        return PutResult(digest, subject)

    def _check_references(
        self, name: str, blobs: list[Descriptor], manifests: list[Descriptor]
    ) -> None:
        for descriptor in blobs:
            if descriptor.urls and mediatypes.is_nondistributable(descriptor.media_type):
                continue  # foreign layers live elsewhere by design
            if not self.blobs.exists(descriptor.digest) or not self.blob_linked(
                name, descriptor.digest
            ):
                raise RegistryError(
                    ErrorCode.MANIFEST_BLOB_UNKNOWN,
                    f"blob {descriptor.digest} is not in repository {name}",
                    detail={"digest": str(descriptor.digest)},
                )
        for descriptor in manifests:
            if not self.driver.exists(layout.revision_link(name, descriptor.digest)):
                raise RegistryError(
                    ErrorCode.MANIFEST_BLOB_UNKNOWN,
                    f"manifest {descriptor.digest} is not in repository {name}",
                    detail={"digest": str(descriptor.digest)},
                )

    def resolve(self, name: str, reference: ManifestReference) -> Revision:
        """The revision a tag or digest names in ``name``; ``MANIFEST_UNKNOWN`` if none."""
        digest = reference.digest
        if digest is None:
            assert reference.tag is not None
            try:
                digest = Digest.parse(
                    self.driver.read(layout.tag_file(name, reference.tag)).decode().strip()
                )
            except (NotFound, InvalidArgument, UnicodeDecodeError):
                raise _manifest_unknown(name, str(reference)) from None
        try:
            data = self.driver.read(layout.revision_link(name, digest))
        except NotFound:
            raise _manifest_unknown(name, str(reference)) from None
        return Revision.from_bytes(digest, data)

    def get_manifest(self, name: str, reference: ManifestReference) -> StoredManifest:
        revision = self.resolve(name, reference)
        try:
            data = self.blobs.read_bytes(revision.digest)
        except NotFound:
            raise _manifest_unknown(name, str(reference)) from None
        return StoredManifest(revision, data)

    def delete_manifest(self, name: str, reference: ManifestReference) -> None:
        """By tag: remove the tag. By digest: the revision, its tags and referrer entry."""
        if reference.tag is not None:
            if not self.driver.delete(layout.tag_file(name, reference.tag)):
                raise _manifest_unknown(name, reference.tag)
            return
        revision = self.resolve(name, reference)
        for tag in self.driver.list(layout.tags_dir(name)):
            if self._tag_target(name, tag) == revision.digest:
                self.driver.delete(layout.tag_file(name, tag))
        if revision.subject is not None:
            self.driver.delete(layout.referrer_entry(name, revision.subject, revision.digest))
        self.driver.delete(layout.revision_link(name, revision.digest))

    def _tag_target(self, name: str, tag: str) -> Digest | None:
        try:
            return Digest.parse(self.driver.read(layout.tag_file(name, tag)).decode().strip())
        except (NotFound, InvalidArgument, UnicodeDecodeError):
            return None

    def tags(self, name: str) -> list[str]:
        """Every tag of ``name``, sorted; ``NAME_UNKNOWN`` for an unknown repository."""
        self._require_repository(name)
        return sorted(t for t in self.driver.list(layout.tags_dir(name)) if is_valid_tag(t))

    def tag_map(self, name: str) -> dict[str, Digest]:
        out = {}
        for tag in self.driver.list(layout.tags_dir(name)):
            target = self._tag_target(name, tag)
            if target is not None:
                out[tag] = target
        return out

    def revisions(self, name: str) -> list[Revision]:
        out = []
        for algorithm in self.driver.list(f"{layout.repository(name)}/_manifests/revisions"):
            for hex_part in self.driver.list(layout.revisions_dir(name, algorithm)):
                try:
                    digest = Digest.parse(f"{algorithm}:{hex_part}")
                    out.append(
                        Revision.from_bytes(
                            digest, self.driver.read(layout.revision_link(name, digest))
                        )
                    )
                except (InvalidArgument, NotFound, RegistryError):
                    continue  # removed meanwhile, or not ours
        return out

    def referrers(
        self, name: str, subject: Digest, artifact_type: str | None = None
    ) -> list[Descriptor]:
        """Manifests in ``name`` whose subject is ``subject`` (empty when none)."""
        out = []
        directory = layout.referrers_dir(name, subject)
        for hex_part in self.driver.list(directory):
            try:
                digest = Digest.parse(f"sha256:{hex_part}")
                if not self.driver.exists(layout.revision_link(name, digest)):
                    continue  # deleted after the entry was read: not a referrer any more
                descriptor = Descriptor.from_json(
                    json.loads(self.driver.read(f"{directory}/{hex_part}"))
                )
            except (InvalidArgument, NotFound, ValueError):
                continue
            if artifact_type is None or descriptor.artifact_type == artifact_type:
                out.append(descriptor)
        return sorted(out, key=lambda d: str(d.digest))


def _referrer_descriptor(manifest: Manifest | Index, revision: Revision) -> Descriptor:
    artifact_type = (
        manifest.effective_artifact_type
        if isinstance(manifest, Manifest)
        else manifest.artifact_type
    )
    return Descriptor(
        media_type=revision.media_type,
        digest=revision.digest,
        size=revision.size,
        annotations=manifest.annotations,
        artifact_type=artifact_type,
    )


def _blob_unknown(digest: Digest) -> RegistryError:
    return RegistryError(
        ErrorCode.BLOB_UNKNOWN, f"blob {digest} unknown to registry", detail={"digest": str(digest)}
    )


def _manifest_unknown(name: str, reference: str) -> RegistryError:
    return RegistryError(
        ErrorCode.MANIFEST_UNKNOWN,
        f"manifest {reference} unknown in repository {name}",
        detail={"name": name, "reference": reference},
    )
