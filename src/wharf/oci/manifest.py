"""Image manifests and indexes (OCI and Docker v2 schema 2), parsed from and written to bytes.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.*`` (layer L0).

Invariants:
- **Digests are computed over the bytes as received, never over a re-serialisation.**
  ``parse_manifest`` drops unknown fields and ``to_bytes`` may order or escape differently
  from the producer, so ``Digest.of_bytes(manifest.to_bytes())`` is *not* the digest of a
  pulled manifest. Keep the received bytes next to the parsed value; ``to_bytes`` is for
  documents Wharf itself creates (and is then the exact bytes to store and hash).
- ``to_bytes`` is compact and deterministic: Go's field order and escaping (see
  ``wharf.oci.codec``), annotations sorted by key::

    manifest: {"schemaVersion":2,"mediaType":..,"artifactType":..,"config":{..},
               "layers":[..],"subject":{..},"annotations":{..}}
    index:    {"schemaVersion":2,"mediaType":..,"artifactType":..,"manifests":[..],
               "subject":{..},"annotations":{..}}

- Both OCI and Docker media types are accepted; Docker schema 1 is refused with a message
  saying so. ``media_type`` always holds a known manifest (or index) type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes
from wharf.oci.annotations import EMPTY_MAP, FrozenMap
from wharf.oci.codec import ObjectReader, dump, load_object
from wharf.oci.descriptor import Descriptor, read_descriptor
from wharf.oci.platform import Platform, select_manifest

SCHEMA_VERSION = 2

_SCHEMA1_MESSAGE = (
    "Docker image manifest schema 1 is not supported; "
    "push the image again with a current client to convert it to schema 2 or OCI"
)


def _freeze(annotations: Mapping[str, str]) -> FrozenMap:
    return FrozenMap.of(annotations)


@dataclass(frozen=True, slots=True)
class Manifest:
    """One image (or artifact) for one platform: a config blob and ordered layers."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mediatypes.OCI_MANIFEST
    annotations: Mapping[str, str] = field(default=EMPTY_MAP)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def __post_init__(self) -> None:
        if not mediatypes.is_manifest(self.media_type):
            raise InvalidArgument(f"{self.media_type!r} is not an image manifest media type")
        object.__setattr__(self, "annotations", _freeze(self.annotations))

    @property
    def effective_artifact_type(self) -> str:
        """``artifactType`` if set, else the config's media type (the referrers API rule)."""
        return self.artifact_type or self.config.media_type

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"schemaVersion": SCHEMA_VERSION, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_json()
        out["layers"] = [layer.to_json() for layer in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out

    def to_bytes(self) -> bytes:
        """The canonical bytes Wharf writes for this manifest (hash these, after writing)."""
        return dump(self.to_json())


@dataclass(frozen=True, slots=True)
class Index:
    """A list of manifests, usually one per platform (OCI index / Docker manifest list)."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mediatypes.OCI_INDEX
    annotations: Mapping[str, str] = field(default=EMPTY_MAP)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    def __post_init__(self) -> None:
        if not mediatypes.is_index(self.media_type):
            raise InvalidArgument(f"{self.media_type!r} is not an image index media type")
        object.__setattr__(self, "annotations", _freeze(self.annotations))

    def select(self, wanted: Platform) -> Descriptor:
        """The entry to use on ``wanted`` (see ``platform.select_manifest``)."""
        return select_manifest(self.manifests, wanted)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"schemaVersion": SCHEMA_VERSION, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["manifests"] = [entry.to_json() for entry in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out

    def to_bytes(self) -> bytes:
        """The canonical bytes Wharf writes for this index (hash these, after writing)."""
        return dump(self.to_json())


def _declared_type(content_type: str | None) -> str | None:
    """The caller's content type when it names a manifest kind; None for generic types."""
    if content_type is None:
        return None
    media_type = mediatypes.base_media_type(content_type)
    if mediatypes.is_schema1(media_type):
        raise InvalidArgument(_SCHEMA1_MESSAGE)
    if mediatypes.is_manifest(media_type) or mediatypes.is_index(media_type):
        return media_type
    # application/json, application/octet-stream, text/plain...: some registries and
    # image layouts do not say; the document itself decides.
    return None


def _detect_kind(reader: ObjectReader) -> str:
    """Guess the media type of a document that does not declare one (OCI allows that)."""
    if reader.has("fsLayers") or reader.has("signatures"):
        raise InvalidArgument(_SCHEMA1_MESSAGE)
    has_manifests = reader.has("manifests")
    has_config = reader.has("config")
    if has_manifests and has_config:
        raise InvalidArgument("invalid manifest: has both 'manifests' and 'config'")
    if has_manifests:
        return mediatypes.OCI_INDEX
    if has_config:
        return mediatypes.OCI_MANIFEST
    raise InvalidArgument("invalid manifest: neither an image manifest nor an index")


def parse_manifest(data: bytes, media_type: str | None = None) -> Manifest | Index:
    """Parse a manifest or index; ``media_type`` is the Content-Type it came with, if any.

    The kind comes from the document's ``mediaType``, else ``media_type``, else its
    fields (``manifests`` → index, ``config`` → manifest). A ``mediaType`` that contradicts
    the given content type is refused, as registries refuse it.
    """
    declared = _declared_type(media_type)
    reader = ObjectReader(load_object(data, "manifest"), "manifest")
    inner = reader.opt_str("mediaType")
    if inner is not None:
        if mediatypes.is_schema1(inner):
            raise InvalidArgument(_SCHEMA1_MESSAGE)
        if not (mediatypes.is_manifest(inner) or mediatypes.is_index(inner)):
            raise InvalidArgument(f"invalid manifest: unsupported mediaType {inner!r}")
        if declared is not None and declared != inner:
            raise InvalidArgument(
                f"invalid manifest: mediaType {inner!r} does not match content type {declared!r}"
            )
    version = reader.opt_int("schemaVersion")
    if version == 1:
        raise InvalidArgument(_SCHEMA1_MESSAGE)
    kind = inner or declared or _detect_kind(reader)
    if version is None:
        reader.fail("schemaVersion", "is required")
    if version != SCHEMA_VERSION:
        reader.fail("schemaVersion", f"must be {SCHEMA_VERSION}, got {version}")

    subject_reader = reader.opt_object("subject")
    subject = read_descriptor(subject_reader) if subject_reader is not None else None
    annotations = reader.str_map("annotations")
    artifact_type = reader.opt_str("artifactType") or None

    if mediatypes.is_index(kind):
        if reader.has("config") or reader.has("layers"):
            raise InvalidArgument(f"invalid manifest: {kind} must not have config or layers")
        if reader.opt_list("manifests") is None:
            reader.fail("manifests", "is required")
        return Index(
            manifests=tuple(read_descriptor(r) for r in reader.objects("manifests")),
            media_type=kind,
            annotations=annotations,
            subject=subject,
            artifact_type=artifact_type,
        )
    if reader.has("manifests"):
        raise InvalidArgument(f"invalid manifest: {kind} must not have manifests")
    return Manifest(
        config=read_descriptor(reader.req_object("config")),
        # Required by the spec, but Go's decoder reads a missing array as empty; so do we.
        layers=tuple(read_descriptor(r) for r in reader.objects("layers")),
        media_type=kind,
        annotations=annotations,
        subject=subject,
        artifact_type=artifact_type,
    )
