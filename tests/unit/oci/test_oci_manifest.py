"""Manifests and indexes: realistic documents, kind detection, rejection, round trips."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes as mt
from wharf.oci.descriptor import EMPTY_DESCRIPTOR, Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest, parse_manifest
from wharf.oci.platform import Platform

CFG = "sha256:991e5b930fd9f8bfd9904b057b8860e4a9c3ba6d63c93f5fb3770bf0ab592f77"
L1 = "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"
L2 = "sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06"
M_AMD64 = "sha256:b2e6d606c88404bb97e4495cbc0b732d38d6ffe11400d1188683dc3a17433d3e"
M_ARM7 = "sha256:3c26b46be52860de0a77df697834db36fdd27c61337310c597e465d2cb193070"
M_ARM64 = "sha256:2d0734fa51e1aecf1638d06718d6cd49031998ff3e32c2d525ef7224738a4ed2"
ATT = "sha256:f745a15153c4dacf0ea4bbf57265e73283941f8335939b33c693975315cf5916"

# Compact, in Go's field order: what BuildKit writes for an OCI image.
OCI_MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
    b'"digest":"' + CFG.encode() + b'","size":1470},'
    b'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",'
    b'"digest":"' + L1.encode() + b'","size":2152262},'
    b'{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd",'
    b'"digest":"' + L2.encode() + b'","size":93}],'
    b'"annotations":{"org.opencontainers.image.created":"2024-05-01T10:00:00Z",'
    b'"org.opencontainers.image.source":"https://github.com/example/app"}}'
)

# Indented as Docker Hub serves Docker v2 manifests (3 spaces).
DOCKER_MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1457,
            "digest": CFG,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 2152262,
                "digest": L1,
            },
            {
                "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                "size": 1001,
                "digest": L2,
                "urls": ["https://mcr.microsoft.com/v2/windows/blobs/x"],
            },
        ],
    },
    indent=3,
).encode()

DOCKER_LIST = json.dumps(
    {
        "manifests": [
            {
                "digest": M_AMD64,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "platform": {"architecture": "amd64", "os": "linux"},
                "size": 528,
            },
            {
                "digest": M_ARM7,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
                "size": 528,
            },
            {
                "digest": M_ARM64,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
                "size": 528,
            },
            {
                "annotations": {
                    "vnd.docker.reference.digest": M_AMD64,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                "digest": ATT,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "platform": {"architecture": "unknown", "os": "unknown"},
                "size": 839,
            },
        ],
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "schemaVersion": 2,
    },
    indent=3,
).encode()

SCHEMA1 = json.dumps(
    {
        "schemaVersion": 1,
        "name": "library/busybox",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": L1}],
        "history": [{"v1Compatibility": "{}"}],
        "signatures": [{"header": {}, "signature": "x", "protected": "y"}],
    }
).encode()


def test_oci_manifest_round_trips_byte_for_byte() -> None:
    m = parse_manifest(OCI_MANIFEST, mt.OCI_MANIFEST)
    assert isinstance(m, Manifest)
    assert m.media_type == mt.OCI_MANIFEST
    assert m.config.digest == Digest.parse(CFG) and m.config.size == 1470
    assert [layer.media_type for layer in m.layers] == [mt.OCI_LAYER_GZIP, mt.OCI_LAYER_ZSTD]
    assert m.annotations["org.opencontainers.image.source"] == "https://github.com/example/app"
    assert m.to_bytes() == OCI_MANIFEST
    assert parse_manifest(m.to_bytes()) == m


def test_docker_manifest_parses_and_is_never_rehashed() -> None:
    m = parse_manifest(DOCKER_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json")
    assert isinstance(m, Manifest)
    assert m.media_type == mt.DOCKER_MANIFEST
    assert m.config.media_type == mt.DOCKER_CONFIG
    assert m.layers[1].urls == ("https://mcr.microsoft.com/v2/windows/blobs/x",)
    assert mt.is_nondistributable(m.layers[1].media_type)
    # Same content, different bytes: the digest of what was received is the one that counts.
    assert m.to_bytes() != DOCKER_MANIFEST
    assert Digest.of_bytes(m.to_bytes()) != Digest.of_bytes(DOCKER_MANIFEST)
    assert parse_manifest(m.to_bytes()) == m


def test_docker_manifest_list_with_attestation() -> None:
    index = parse_manifest(DOCKER_LIST, None)
    assert isinstance(index, Index)
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    assert len(index.manifests) == 4
    assert index.select(Platform("linux", "amd64")).digest == Digest.parse(M_AMD64)
    assert index.select(Platform("linux", "arm64")).digest == Digest.parse(M_ARM64)
    assert index.select(Platform("linux", "arm", "v7")).digest == Digest.parse(M_ARM7)
    assert parse_manifest(index.to_bytes()) == index
    assert json.loads(index.to_bytes()) == json.loads(DOCKER_LIST)


def test_content_type_parameters_are_ignored() -> None:
    m = parse_manifest(OCI_MANIFEST, mt.OCI_MANIFEST + "; charset=utf-8")
    assert isinstance(m, Manifest)


@pytest.mark.parametrize("content_type", [None, "application/json", "application/octet-stream"])
def test_kind_detected_from_fields_when_undeclared(content_type: str | None) -> None:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": CFG, "size": 2},
            "layers": [],
        }
    ).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    parsed_manifest = parse_manifest(manifest, content_type)
    parsed_index = parse_manifest(index, content_type)
    assert isinstance(parsed_manifest, Manifest)
    assert parsed_manifest.media_type == mt.OCI_MANIFEST
    assert isinstance(parsed_index, Index)
    assert parsed_index.media_type == mt.OCI_INDEX


def test_content_type_decides_when_document_is_silent() -> None:
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    parsed = parse_manifest(index, mt.DOCKER_MANIFEST_LIST)
    assert isinstance(parsed, Index)
    assert parsed.media_type == mt.DOCKER_MANIFEST_LIST


def test_artifact_manifest_with_subject() -> None:
    subject = Descriptor(mt.OCI_MANIFEST, Digest.parse(M_AMD64), 528)
    m = Manifest(
        config=EMPTY_DESCRIPTOR,
        layers=(
            Descriptor(
                "application/spdx+json", Digest.parse(L1), 10, annotations={"title": "sbom"}
            ),
        ),
        artifact_type="application/spdx+json",
        subject=subject,
        annotations={"b": "2", "a": "1"},
    )
    raw = m.to_bytes()
    assert list(json.loads(raw)) == [
        "schemaVersion",
        "mediaType",
        "artifactType",
        "config",
        "layers",
        "subject",
        "annotations",
    ]
    assert b'"annotations":{"a":"1","b":"2"}' in raw
    back = parse_manifest(raw)
    assert back == m
    assert isinstance(back, Manifest) and back.subject == subject
    assert back.effective_artifact_type == "application/spdx+json"
    plain = parse_manifest(OCI_MANIFEST)
    assert isinstance(plain, Manifest)
    assert plain.effective_artifact_type == mt.OCI_CONFIG


def test_index_field_order() -> None:
    index = Index(
        manifests=(
            Descriptor(
                mt.OCI_MANIFEST, Digest.parse(M_AMD64), 528, platform=Platform("linux", "amd64")
            ),
        ),
        annotations={"org.opencontainers.image.ref.name": "latest"},
    )
    assert list(json.loads(index.to_bytes())) == [
        "schemaVersion",
        "mediaType",
        "manifests",
        "annotations",
    ]


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (SCHEMA1, None, "schema 1 is not supported"),
        (SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST, "schema 1 is not supported"),
        (
            b'{"schemaVersion":2,"mediaType":"' + mt.DOCKER_SCHEMA1_MANIFEST.encode() + b'"}',
            None,
            "schema 1 is not supported",
        ),
        (b"", None, "not valid JSON"),
        (b"\xff\xfe{", None, "not valid JSON"),
        (b"{'a': 1}", None, "not valid JSON"),
        (b'{"schemaVersion": NaN}', None, "not valid JSON"),
        (b"[1, 2]", None, "expected a JSON object, not array"),
        (b"[" * 100000, None, "invalid manifest"),
        (b'{"schemaVersion":2}', None, "neither an image manifest nor an index"),
        (b'{"schemaVersion":2,"manifests":[],"config":{}}', None, "both"),
        (b'{"schemaVersion":3,"manifests":[]}', None, "schemaVersion must be 2, got 3"),
        (b'{"manifests":[]}', None, "schemaVersion is required"),
        (b'{"schemaVersion":"2","manifests":[]}', None, "schemaVersion must be an integer"),
        (
            b'{"schemaVersion":2,"mediaType":"text/html","manifests":[]}',
            None,
            "unsupported mediaType 'text/html'",
        ),
        (OCI_MANIFEST, mt.OCI_INDEX, "does not match content type"),
        (b'{"schemaVersion":2,"manifests":{}}', None, "manifests must be an array, not object"),
        (b'{"schemaVersion":2,"manifests":[1]}', None, r"manifests\[0\] must be an object"),
        (
            b'{"schemaVersion":2,"mediaType":"' + mt.OCI_INDEX.encode() + b'","layers":[]}',
            None,
            "must not have config or layers",
        ),
        (
            b'{"schemaVersion":2,"mediaType":"' + mt.OCI_MANIFEST.encode() + b'","layers":[]}',
            None,
            "config is required",
        ),
        (
            b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:00","size":1}}',
            None,
            "config.digest: invalid digest",
        ),
        (
            b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"'
            + CFG.encode()
            + b'","size":1},"layers":[{"mediaType":"x","digest":"'
            + L1.encode()
            + b'","size":"big"}]}',
            None,
            r"layers\[0\]\.size must be an integer, not string",
        ),
    ],
)
def test_rejects(data: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_manifest(data, content_type)


def test_constructor_checks_media_type() -> None:
    with pytest.raises(InvalidArgument):
        Manifest(config=EMPTY_DESCRIPTOR, layers=(), media_type=mt.OCI_INDEX)
    with pytest.raises(InvalidArgument):
        Index(manifests=(), media_type=mt.OCI_MANIFEST)


# -- properties ----------------------------------------------------------------------------

_digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map(lambda h: Digest("sha256", h))
_text = st.text(min_size=1, max_size=12)
_maps = st.dictionaries(_text, st.text(max_size=12), max_size=3)
_platforms = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows"]),
    architecture=st.sampled_from(["amd64", "arm", "arm64"]),
    variant=st.none() | st.sampled_from(["v6", "v7", "v8"]),
    os_version=st.none() | _text,
    os_features=st.lists(_text, max_size=2).map(tuple),
)
_descriptors = st.builds(
    Descriptor,
    media_type=_text,
    digest=_digests,
    size=st.integers(min_value=0, max_value=2**53),
    annotations=_maps,
    urls=st.lists(_text, max_size=2).map(tuple),
    platform=st.none() | _platforms,
    artifact_type=st.none() | _text,
)
_manifests = st.builds(
    Manifest,
    config=_descriptors,
    layers=st.lists(_descriptors, max_size=3).map(tuple),
    media_type=st.sampled_from(sorted(mt.MANIFEST_TYPES)),
    annotations=_maps,
    subject=st.none() | _descriptors,
    artifact_type=st.none() | _text,
)
_indexes = st.builds(
    Index,
    manifests=st.lists(_descriptors, max_size=3).map(tuple),
    media_type=st.sampled_from(sorted(mt.INDEX_TYPES)),
    annotations=_maps,
    subject=st.none() | _descriptors,
    artifact_type=st.none() | _text,
)


@given(_manifests | _indexes)
def test_round_trip(document: Manifest | Index) -> None:
    raw = document.to_bytes()
    assert parse_manifest(raw) == document
    assert parse_manifest(raw, document.media_type) == document
    assert document.to_bytes() == raw  # deterministic


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_invalid_argument(data: bytes) -> None:
    with contextlib.suppress(InvalidArgument):
        parse_manifest(data)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "schemaVersion",
                        "mediaType",
                        "config",
                        "layers",
                        "manifests",
                        "digest",
                        "size",
                        "annotations",
                        "platform",
                        "subject",
                        "data",
                        "urls",
                    ]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_arbitrary_json_raises_only_invalid_argument(value: object) -> None:
    with contextlib.suppress(InvalidArgument):
        parse_manifest(json.dumps(value).encode())
