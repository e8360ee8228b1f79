"""Media type classification and layer compression."""

from __future__ import annotations

import pytest

from wharf.errdefs import Unsupported
from wharf.oci import mediatypes as mt
from wharf.oci.mediatypes import Compression


def test_kinds_accept_oci_and_docker_types() -> None:
    assert mt.is_index(mt.OCI_INDEX) and mt.is_index(mt.DOCKER_MANIFEST_LIST)
    assert mt.is_manifest(mt.OCI_MANIFEST) and mt.is_manifest(mt.DOCKER_MANIFEST)
    assert mt.is_config(mt.OCI_CONFIG) and mt.is_config(mt.DOCKER_CONFIG)
    assert not mt.is_manifest(mt.OCI_INDEX)
    assert not mt.is_index(mt.OCI_MANIFEST)
    assert not mt.is_config(mt.OCI_EMPTY)
    assert not mt.is_manifest(mt.DOCKER_SCHEMA1_SIGNED_MANIFEST)
    assert mt.is_schema1(mt.DOCKER_SCHEMA1_SIGNED_MANIFEST)
    assert mt.is_schema1(mt.DOCKER_SCHEMA1_MANIFEST)


@pytest.mark.parametrize(
    ("media_type", "compression"),
    [
        (mt.OCI_LAYER, Compression.NONE),
        (mt.OCI_LAYER_GZIP, Compression.GZIP),
        (mt.OCI_LAYER_ZSTD, Compression.ZSTD),
        (mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP, Compression.GZIP),
        (mt.DOCKER_LAYER_GZIP, Compression.GZIP),
        (mt.DOCKER_FOREIGN_LAYER_GZIP, Compression.GZIP),
        (mt.DOCKER_LAYER, Compression.NONE),
    ],
)
def test_layer_compression(media_type: str, compression: Compression) -> None:
    assert mt.is_layer(media_type)
    assert mt.layer_compression(media_type) is compression


def test_unknown_layer_type_is_unsupported() -> None:
    encrypted = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"
    assert not mt.is_layer(encrypted)
    with pytest.raises(Unsupported, match="encrypted"):
        mt.layer_compression(encrypted)
    assert not mt.is_layer(mt.OCI_CONFIG)


def test_written_layer_types_are_oci_and_distributable() -> None:
    for compression in Compression:
        written = mt.layer_media_type(compression)
        assert written.startswith("application/vnd.oci.image.layer.v1.tar")
        assert not mt.is_nondistributable(written)
        assert mt.layer_compression(written) is compression
    assert mt.is_nondistributable(mt.DOCKER_FOREIGN_LAYER_GZIP)


def test_base_media_type_strips_parameters() -> None:
    assert mt.base_media_type(" Application/JSON; charset=utf-8") == "application/json"
    assert mt.base_media_type(mt.OCI_MANIFEST) == mt.OCI_MANIFEST
