"""Names, tags, references and routes of the distribution API."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.distribution.errors import ErrorCode, RegistryError
from wharf.distribution.names import (
    ManifestReference,
    is_valid_name,
    is_valid_tag,
    validate_name,
    validate_tag,
)
from wharf.distribution.routes import RouteKind, check_method, match
from wharf.oci.digest import Digest

DIGEST = Digest.of_bytes(b"x")

SPEC_NAME = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
SPEC_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")

component = st.from_regex(r"\A[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*\Z")
names = st.lists(component, min_size=1, max_size=4).map("/".join).filter(lambda n: len(n) <= 255)


@pytest.mark.parametrize(
    "name",
    ["a", "library/alpine", "a.b/c_d/e__f", "a-b---c", "x/y/z/w", "0", "a" * 255],
)
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "A", "a/", "/a", "a//b", "a_", "_a", "a___b", "a.-b", "a..b", "a:b", "a" * 256, "a b"],
)
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(RegistryError) as info:
        validate_name(name)
    assert info.value.code is ErrorCode.NAME_INVALID
    assert info.value.status == 400


@given(st.text(alphabet="ab_.-/A:", max_size=12))
def test_name_grammar_matches_spec_regex(text: str) -> None:
    assert is_valid_name(text) == (SPEC_NAME.fullmatch(text) is not None)


@given(names)
def test_generated_names_valid(name: str) -> None:
    assert validate_name(name) == name


@given(st.text(alphabet="aZ09_.-:/", max_size=130))
def test_tag_grammar_matches_spec_regex(text: str) -> None:
    assert is_valid_tag(text) == (SPEC_TAG.fullmatch(text) is not None)


def test_tag_limits() -> None:
    assert is_valid_tag("a" * 128)
    assert not is_valid_tag("a" * 129)
    assert not is_valid_tag(".hidden")
    assert not is_valid_tag("-x")
    with pytest.raises(RegistryError) as info:
        validate_tag("bad tag")
    assert info.value.code is ErrorCode.TAG_INVALID


def test_manifest_reference() -> None:
    assert ManifestReference.parse("v1.0").tag == "v1.0"
    assert ManifestReference.parse(str(DIGEST)).digest == DIGEST
    with pytest.raises(RegistryError) as info:
        ManifestReference.parse("sha256:abc")
    assert info.value.code is ErrorCode.DIGEST_INVALID
    with pytest.raises(RegistryError):
        ManifestReference.parse("-bad")


@pytest.mark.parametrize(
    ("path", "kind", "name"),
    [
        ("/v2/", RouteKind.BASE, None),
        ("/v2", RouteKind.BASE, None),
        ("/v2/_catalog", RouteKind.CATALOG, None),
        ("/v2/a/b/tags/list", RouteKind.TAGS, "a/b"),
        ("/v2/a/manifests/latest", RouteKind.MANIFEST, "a"),
        ("/v2/a/manifests/b/manifests/latest", RouteKind.MANIFEST, "a/manifests/b"),
        ("/v2/a/blobs/uploads/", RouteKind.UPLOADS, "a"),
        ("/v2/a/blobs/uploads", RouteKind.UPLOADS, "a"),
        ("/v2/a/b/blobs/uploads/0f-1", RouteKind.UPLOAD, "a/b"),
        (f"/v2/a/blobs/{DIGEST}", RouteKind.BLOB, "a"),
        (f"/v2/blobs/blobs/{DIGEST}", RouteKind.BLOB, "blobs"),
        (f"/v2/x/referrers/{DIGEST}", RouteKind.REFERRERS, "x"),
    ],
)
def test_routes(path: str, kind: RouteKind, name: str | None) -> None:
    route = match(path)
    assert route.kind is kind
    assert route.name == name


@given(names, st.sampled_from(["latest", "v1", str(DIGEST)]))
def test_manifest_route_roundtrip(name: str, ref: str) -> None:
    route = match(f"/v2/{name}/manifests/{ref}")
    assert route.name == name
    assert str(route.reference) == ref


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v2/UPPER/tags/list", ErrorCode.NAME_INVALID),
        ("/v2/a/manifests/bad!tag", ErrorCode.TAG_INVALID),
        ("/v2/a/blobs/sha256:123", ErrorCode.DIGEST_INVALID),
        ("/v2/a/referrers/nodigest", ErrorCode.DIGEST_INVALID),
        ("/v2/a/unknown", ErrorCode.NOT_FOUND),
        ("/other", ErrorCode.NOT_FOUND),
        ("/v2/a/blobs/uploads/%2e%2e", ErrorCode.BLOB_UPLOAD_UNKNOWN),
    ],
)
def test_route_errors(path: str, code: ErrorCode) -> None:
    with pytest.raises(RegistryError) as info:
        match(path)
    assert info.value.code is code


def test_methods() -> None:
    route = match("/v2/a/tags/list")
    check_method(route, "GET", "/v2/a/tags/list")
    with pytest.raises(RegistryError) as info:
        check_method(route, "PUT", "/v2/a/tags/list")
    assert info.value.status == 405
    assert info.value.code is ErrorCode.UNSUPPORTED
