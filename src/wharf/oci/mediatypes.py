"""Media types of OCI and Docker image documents, and what each one means to us.

Imports: stdlib and ``wharf.errdefs`` only (layer L0).

Invariants:
- Every type Docker or an OCI registry may hand us is *recognised* here; what we *write* is
  always an OCI type (``layer_media_type`` never returns a Docker or nondistributable type).
- Docker schema 1 types are recognised only so that callers can reject them with a clear
  message (``is_schema1``); nothing in Wharf reads schema 1 documents.
- Media types arrive as HTTP ``Content-Type`` values; ``base_media_type`` strips parameters
  (``; charset=utf-8``) before any comparison.
"""

from __future__ import annotations

import enum

from wharf.errdefs import Unsupported

# OCI image-spec 1.1
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
# Deprecated in image-spec 1.1: read them, never write them.
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

# Docker image manifest v2 schema 2
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# Not in Docker's spec, but containerd and some builders emit it.
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"

# Docker schema 1 (legacy, signed JWS): recognised only to be refused.
DOCKER_SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST})
NONDISTRIBUTABLE_LAYER_TYPES = frozenset(
    {
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
        DOCKER_FOREIGN_LAYER,
        DOCKER_FOREIGN_LAYER_GZIP,
    }
)


class Compression(enum.Enum):
    """How a layer blob is compressed; the tar inside is the same either way."""

    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


_LAYER_COMPRESSION: dict[str, Compression] = {
    OCI_LAYER: Compression.NONE,
    OCI_LAYER_GZIP: Compression.GZIP,
    OCI_LAYER_ZSTD: Compression.ZSTD,
    OCI_LAYER_NONDISTRIBUTABLE: Compression.NONE,
    OCI_LAYER_NONDISTRIBUTABLE_GZIP: Compression.GZIP,
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD: Compression.ZSTD,
    DOCKER_LAYER: Compression.NONE,
    DOCKER_LAYER_GZIP: Compression.GZIP,
    DOCKER_LAYER_ZSTD: Compression.ZSTD,
    DOCKER_FOREIGN_LAYER: Compression.NONE,
    DOCKER_FOREIGN_LAYER_GZIP: Compression.GZIP,
}

_WRITTEN_LAYER_TYPE: dict[Compression, str] = {
    Compression.NONE: OCI_LAYER,
    Compression.GZIP: OCI_LAYER_GZIP,
    Compression.ZSTD: OCI_LAYER_ZSTD,
}


def base_media_type(content_type: str) -> str:
    """The media type without parameters or surrounding blanks, lower-cased.

    ``"application/vnd.oci.image.manifest.v1+json; charset=utf-8"`` gives the bare type.
    """
    return content_type.split(";", 1)[0].strip().lower()


def is_index(media_type: str) -> bool:
    """An OCI image index or a Docker manifest list."""
    return media_type in INDEX_TYPES


def is_manifest(media_type: str) -> bool:
    """An OCI image manifest or a Docker v2 schema 2 manifest (not an index, not schema 1)."""
    return media_type in MANIFEST_TYPES


def is_schema1(media_type: str) -> bool:
    return media_type in SCHEMA1_TYPES


def is_config(media_type: str) -> bool:
    """An image configuration (OCI or Docker); artifact configs are not image configs."""
    return media_type in CONFIG_TYPES


def is_layer(media_type: str) -> bool:
    """A layer changeset we know how to decompress, distributable or not."""
    return media_type in _LAYER_COMPRESSION


def is_nondistributable(media_type: str) -> bool:
    """A layer that registries may refuse to serve (foreign / nondistributable)."""
    return media_type in NONDISTRIBUTABLE_LAYER_TYPES


def layer_compression(media_type: str) -> Compression:
    """The compression of a layer blob of this media type.

    Raises Unsupported for a type that is not a known layer (encrypted layers, artifacts).
    """
    try:
        return _LAYER_COMPRESSION[media_type]
    except KeyError:
        raise Unsupported(f"unsupported layer media type {media_type!r}") from None


def layer_media_type(compression: Compression) -> str:
    """The OCI media type Wharf writes for a layer with this compression."""
    return _WRITTEN_LAYER_TYPE[compression]
