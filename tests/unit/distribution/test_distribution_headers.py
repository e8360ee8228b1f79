"""Ranges, pagination, content negotiation, scopes and the error envelope."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf import errdefs
from wharf.distribution.accept import accepts, parse_accept
from wharf.distribution.errors import (
    ErrorCode,
    RegistryError,
    chunk_out_of_order,
    from_exception,
    manifest_too_large,
    parse_envelope,
)
from wharf.distribution.pagination import link_header, paginate, parse_page
from wharf.distribution.ranges import ByteRange, check_chunk, parse_content_range, parse_range
from wharf.distribution.routes import match
from wharf.distribution.scopes import (
    Action,
    Scope,
    basic_challenge,
    bearer_challenge,
    parse_scopes,
    required_scopes,
)
from wharf.oci import mediatypes
from wharf.oci.digest import Digest

# -- Range ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-3", 10, ByteRange(0, 4, 10)),
        ("bytes=5-", 10, ByteRange(5, 5, 10)),
        ("bytes=-3", 10, ByteRange(7, 3, 10)),
        ("bytes=-30", 10, ByteRange(0, 10, 10)),
        ("bytes=8-100", 10, ByteRange(8, 2, 10)),
        ("bytes=5-2", 10, None),
        ("items=0-1", 10, None),
        ("bytes=0-1,3-4", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_unsatisfiable_range(header: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_range(header, 10)
    assert info.value.status == 416
    assert info.value.headers["Content-Range"] == "bytes */10"


@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 1000))
def test_range_within_blob(start: int, end: int, size: int) -> None:
    try:
        result = parse_range(f"bytes={start}-{end}", size)
    except RegistryError:
        assert start >= size
        return
    if result is not None:
        assert 0 <= result.start <= result.end < size
        assert result.content_range() == f"bytes {result.start}-{result.end}/{size}"


def test_content_range() -> None:
    assert parse_content_range("0-9").length == 10
    assert parse_content_range("bytes 10-19/100").start == 10
    assert parse_content_range("bytes 10-19/*").end == 19
    for bad in ("", "5-2", "a-b", "-1"):
        with pytest.raises(RegistryError) as info:
            parse_content_range(bad)
        assert info.value.status == 416


def test_check_chunk() -> None:
    assert check_chunk(None, None, 0) is None
    assert check_chunk(None, 5, 0) == 5
    assert check_chunk("10-19", 10, 10) == 10
    with pytest.raises(RegistryError) as info:
        check_chunk("20-29", 10, 10)
    assert info.value.status == 416
    assert info.value.headers["Range"] == "0-9"
    with pytest.raises(RegistryError) as info:
        check_chunk("10-19", 3, 10)
    assert info.value.status == 416


# -- pagination -------------------------------------------------------------------------


def test_pagination() -> None:
    items = ["a", "b", "c", "d", "e"]
    page = paginate(items, parse_page("2", None))
    assert page.items == ("a", "b") and page.next_last == "b"
    page = paginate(items, parse_page("2", "b"))
    assert page.items == ("c", "d") and page.next_last == "d"
    page = paginate(items, parse_page("2", "d"))
    assert page.items == ("e",) and page.next_last is None
    assert paginate(items, parse_page(None, "c")).items == ("d", "e")
    assert paginate(items, parse_page("0", None)).items == ()
    assert paginate(items, parse_page("5", None)).next_last is None
    assert paginate(items, parse_page(None, "bb")).items == ("c", "d", "e")
    assert link_header("/v2/a/tags/list", 2, "b") == '</v2/a/tags/list?n=2&last=b>; rel="next"'


@given(st.lists(st.text("abc", min_size=1, max_size=3), unique=True), st.integers(1, 4))
def test_pagination_walks_everything(items: list[str], n: int) -> None:
    items.sort()
    seen: list[str] = []
    last = None
    for _ in range(len(items) + 2):
        page = paginate(items, parse_page(str(n), last))
        seen.extend(page.items)
        if page.next_last is None:
            break
        last = page.next_last
    assert seen == items


@pytest.mark.parametrize("n", ["-1", "x", "100001"])
def test_bad_page_size(n: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_page(n, None)
    assert info.value.code is ErrorCode.PAGINATION_NUMBER_INVALID


# -- Accept -----------------------------------------------------------------------------


def test_accept() -> None:
    oci = mediatypes.OCI_MANIFEST
    assert accepts(oci, [])
    assert accepts(oci, [""])
    assert accepts(oci, [f"{mediatypes.DOCKER_MANIFEST}, {oci}"])
    assert accepts(oci, [mediatypes.DOCKER_MANIFEST, oci])  # Go clients: one header each
    assert accepts(oci, ["*/*"])
    assert accepts(oci, ["application/*;q=0.5"])
    assert not accepts(oci, [mediatypes.DOCKER_MANIFEST])
    assert not accepts(oci, [f"{oci};q=0"])
    assert parse_accept(["a/b; q=0.2, c/d"])[0].q == 0.2


# -- scopes -----------------------------------------------------------------------------


def test_scopes() -> None:
    scope = Scope.parse("repository:localhost:5000/a/b:pull,push")
    assert scope.name == "localhost:5000/a/b"
    assert scope.actions == {"pull", "push"}
    assert str(scope) == "repository:localhost:5000/a/b:pull,push"
    assert Scope.parse("repository:a:*").covers(Scope.repository("a", Action.DELETE))
    assert not Scope.repository("a", Action.PULL).covers(Scope.repository("a", Action.PUSH))
    assert not Scope.repository("a", Action.PULL).covers(Scope.repository("b", Action.PULL))
    assert len(parse_scopes(["repository:a:pull repository:b:push", "registry:catalog:*"])) == 3
    with pytest.raises(errdefs.InvalidArgument):
        Scope.parse("nonsense")


def test_challenges() -> None:
    challenge = bearer_challenge("http://h/token", "svc", [Scope.repository("a", Action.PULL)])
    assert challenge == 'Bearer realm="http://h/token",service="svc",scope="repository:a:pull"'
    assert basic_challenge('x"y') == 'Basic realm="x\\"y"'


def test_required_scopes() -> None:
    d = Digest.of_bytes(b"")
    assert required_scopes(match("/v2/"), "GET") == []
    assert required_scopes(match("/v2/_catalog"), "GET") == [Scope.catalog()]
    assert required_scopes(match(f"/v2/a/blobs/{d}"), "HEAD") == [
        Scope.repository("a", Action.PULL)
    ]
    assert required_scopes(match(f"/v2/a/blobs/{d}"), "DELETE") == [
        Scope.repository("a", Action.DELETE)
    ]
    assert required_scopes(match("/v2/a/blobs/uploads/x"), "GET") == [
        Scope.repository("a", Action.PUSH)
    ]
    assert required_scopes(match("/v2/a/manifests/t"), "PUT") == [
        Scope.repository("a", Action.PUSH)
    ]


# -- errors -----------------------------------------------------------------------------


def test_envelope() -> None:
    error = RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": "x"})
    body = json.loads(error.body())
    assert body == {
        "errors": [
            {
                "code": "BLOB_UNKNOWN",
                "message": "blob unknown to registry",
                "detail": {"digest": "x"},
            }
        ]
    }
    parsed = parse_envelope(error.body())
    assert parsed[0].code == "BLOB_UNKNOWN"
    with pytest.raises(errdefs.InvalidArgument):
        parse_envelope(b"<html>")


def test_statuses_decided_here() -> None:
    assert chunk_out_of_order(10, 0).status == 416
    assert manifest_too_large(4).status == 413
    assert {c.status for c in ErrorCode} <= {400, 401, 403, 404, 405, 416, 429, 500, 503}
    assert from_exception(errdefs.NotFound("x")).code is ErrorCode.NAME_UNKNOWN
    assert from_exception(errdefs.Conflict("x")).status == 409
    hidden = from_exception(ValueError("secret path /etc"))
    assert hidden.status == 500 and "secret" not in hidden.message
