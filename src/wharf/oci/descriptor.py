"""Content descriptors: what a blob is (media type), which one (digest) and how big.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.*`` (layer L0).

Invariants:
- ``annotations`` is always a ``FrozenMap`` (a plain mapping given to the constructor is
  frozen in ``__post_init__``), so descriptors hash and compare by value and can key dicts.
- ``size`` is never negative; ``data``, when present, is the blob itself, and
  ``from_json`` checks that it has ``size`` bytes and hashes to ``digest``.
- ``to_json`` omits empty optional fields and orders keys as Go's ``ocispec.Descriptor``
  does, so documents we write match what Docker's tooling writes for the same content::

    {"mediaType": ..., "digest": ..., "size": ..., "urls": [...], "annotations": {...},
     "data": "<base64>", "platform": {...}, "artifactType": ...}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes
from wharf.oci.annotations import EMPTY_MAP, FrozenMap
from wharf.oci.codec import ObjectReader
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform, read_platform


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to one blob; hashable (annotations are frozen)."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default=EMPTY_MAP)
    urls: tuple[str, ...] = ()
    platform: Platform | None = None
    artifact_type: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise InvalidArgument(f"descriptor {self.digest} has a negative size {self.size}")
        if not isinstance(self.annotations, FrozenMap):
            object.__setattr__(self, "annotations", FrozenMap(self.annotations))

    @classmethod
    def of_bytes(
        cls,
        media_type: str,
        data: bytes,
        *,
        inline: bool = False,
        annotations: Mapping[str, str] = EMPTY_MAP,
        platform: Platform | None = None,
        artifact_type: str | None = None,
    ) -> Descriptor:
        """The descriptor of ``data``; ``inline`` embeds the bytes in the ``data`` field."""
        return cls(
            media_type=media_type,
            digest=Digest.of_bytes(data),
            size=len(data),
            annotations=annotations,
            platform=platform,
            artifact_type=artifact_type,
            data=data if inline else None,
        )

    @classmethod
    def from_json(cls, obj: object) -> Descriptor:
        """Read one descriptor object; raises InvalidArgument naming the bad field."""
        return read_descriptor(ObjectReader(obj, "descriptor"))

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def with_annotations(self, annotations: Mapping[str, str]) -> Descriptor:
        """A copy whose annotations are replaced by ``annotations``."""
        return Descriptor(
            self.media_type,
            self.digest,
            self.size,
            annotations,
            self.urls,
            self.platform,
            self.artifact_type,
            self.data,
        )


def read_descriptor(reader: ObjectReader) -> Descriptor:
    """A descriptor from an ``ObjectReader`` (errors carry the enclosing document's path)."""
    media_type = reader.req_str("mediaType")
    if not media_type:
        reader.fail("mediaType", "must not be empty")
    digest = reader.req_digest("digest")
    size = reader.req_int("size")
    if size < 0:
        reader.fail("size", f"must not be negative, got {size}")
    data: bytes | None = None
    encoded = reader.opt_str("data")
    if encoded is not None:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            reader.fail("data", f"is not valid base64: {exc}")
        if len(data) != size:
            reader.fail("data", f"holds {len(data)} bytes but size says {size}")
        if hashlib.new(digest.algorithm, data).hexdigest() != digest.hex:
            reader.fail("data", f"does not match digest {digest}")
    platform_reader = reader.opt_object("platform")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        annotations=reader.str_map("annotations"),
        urls=reader.str_tuple("urls"),
        platform=read_platform(platform_reader) if platform_reader is not None else None,
        artifact_type=reader.opt_str("artifactType") or None,
        data=data,
    )


EMPTY_JSON = b"{}"
# image-spec 1.1 "empty descriptor": the blob ``{}``, inlined as the spec's example does.
EMPTY_DESCRIPTOR = Descriptor(
    media_type=mediatypes.OCI_EMPTY,
    digest=Digest.parse("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),
    size=2,
    data=EMPTY_JSON,
)
