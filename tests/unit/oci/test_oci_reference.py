"""Golden and property tests for Docker-style image reference parsing."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wharf.errdefs import InvalidArgument
from wharf.oci.digest import Digest
from wharf.oci.reference import Reference, parse_normalized, parse_repository_and_tag

HEX = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", None, None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("library/busybox", "docker.io", "library/busybox", None, None),
        ("docker.io/busybox", "docker.io", "library/busybox", None, None),
        ("docker.io/library/busybox", "docker.io", "library/busybox", None, None),
        ("index.docker.io/busybox", "docker.io", "library/busybox", None, None),
        ("index.docker.io/user/app", "docker.io", "user/app", None, None),
        ("user/app:v1", "docker.io", "user/app", "v1", None),
        ("user/team/app", "docker.io", "user/team/app", None, None),
        ("localhost/x", "localhost", "x", None, None),
        ("localhost:5000/x", "localhost:5000", "x", None, None),
        ("example.com/a/b", "example.com", "a/b", None, None),
        ("example.com:443/a:1.0", "example.com:443", "a", "1.0", None),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None),
        ("[::1]:5000/app:t", "[::1]:5000", "app", "t", None),
        ("myhost:5000/app", "myhost:5000", "app", None, None),
        ("UPPER/case", "UPPER", "case", None, None),
        ("Registry.Example.com/x", "Registry.Example.com", "x", None, None),
        ("localhost", "docker.io", "library/localhost", None, None),
        ("foo.com", "docker.io", "library/foo.com", None, None),
        ("a__b/c--d/e.f_g", "docker.io", "a__b/c--d/e.f_g", None, None),
        ("busybox:Latest_1.x-y", "docker.io", "library/busybox", "Latest_1.x-y", None),
        (f"busybox@{DIGEST}", "docker.io", "library/busybox", None, DIGEST),
        (f"busybox:1@{DIGEST}", "docker.io", "library/busybox", "1", DIGEST),
        (f"ghcr.io/o/r:t@{DIGEST}", "ghcr.io", "o/r", "t", DIGEST),
        ("busybox:" + "t" * 128, "docker.io", "library/busybox", "t" * 128, None),
        ("a" * 247, "docker.io", "library/" + "a" * 247, None, None),
        ("example.com/" + "a" * 255, "example.com", "a" * 255, None, None),
    ],
)
def test_parse_normalized_golden(
    text: str, domain: str, path: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_normalized(text)
    assert ref.domain == domain
    assert ref.path == path
    assert ref.tag == tag
    assert ref.digest == (Digest.parse(digest) if digest else None)


def test_localhost_port_keeps_port_in_domain() -> None:
    # The golden table above checks fields; the port must survive in str() too.
    ref = parse_normalized("localhost:5000/x")
    assert ref.domain == "localhost:5000"
    assert str(ref) == "localhost:5000/x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "repository name must have at least one component"),
        ("a:b:c", "invalid reference format"),
        ("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"),
        ("foo/UPPER", "invalid reference format: repository name (foo/UPPER) must be lowercase"),
        ("UPPER/Case", "invalid reference format: repository name (Case) must be lowercase"),
        (
            "docker.io/Foo:tag",
            "invalid reference format: repository name (library/Foo) must be lowercase",
        ),
        ("a" * 248, "repository name must not be more than 255 characters"),
        ("example.com/" + "a" * 256, "repository name must not be more than 255 characters"),
        ("busybox:" + "t" * 129, "invalid reference format"),
        ("busybox:.tag", "invalid reference format"),
        ("busybox:-tag", "invalid reference format"),
        ("-busybox", "invalid reference format"),
        ("busy__-box", "invalid reference format"),
        ("busy...box", "invalid reference format"),
        ("user//app", "invalid reference format"),
        ("user/app/", "invalid reference format"),
        ("/app", "invalid reference format"),
        ("busybox\n", "invalid reference format"),
        ("busy box", "invalid reference format"),
        ("busybox@sha256:abc", "invalid reference format"),
        ("my_host.com/x", "invalid reference format"),
        (HEX, f"invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"),
    ],
)
def test_parse_normalized_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_normalized(text)
    assert str(info.value).startswith(message)


def test_invalid_digest_is_rejected_by_digest_rules() -> None:
    with pytest.raises(InvalidArgument, match="lowercase hex"):
        parse_normalized(f"busybox@sha256:{HEX.upper()}")
    with pytest.raises(InvalidArgument, match="unsupported digest algorithm"):
        parse_normalized(f"busybox@md5:{HEX}")


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:1", "docker.io/user/app:1", "user/app:1"),
        ("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        (
            f"quay.io/a/b:t@{DIGEST}",
            f"quay.io/a/b:t@{DIGEST}",
            f"quay.io/a/b:t@{DIGEST}",
        ),
    ],
)
def test_string_forms(text: str, full: str, familiar: str) -> None:
    ref = parse_normalized(text).with_default_tag()
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_names() -> None:
    ref = parse_normalized("busybox:1")
    assert ref.name == "docker.io/library/busybox"
    assert ref.familiar_name == "busybox"
    assert parse_normalized("localhost:5000/x").familiar_name == "localhost:5000/x"
    assert parse_normalized("user/app").familiar_name == "user/app"


def test_parse_adds_no_default_tag_and_with_default_tag_respects_digest() -> None:
    assert parse_normalized("busybox").tag is None
    assert parse_normalized("busybox").with_default_tag().tag == "latest"
    pinned = parse_normalized(f"busybox@{DIGEST}")
    assert pinned.with_default_tag() == pinned
    assert parse_normalized("busybox:1").with_default_tag().tag == "1"


def test_parse_repository_and_tag() -> None:
    ref = parse_repository_and_tag("docker.io/library/foo", "v2")
    assert str(ref) == "docker.io/library/foo:v2"
    assert parse_repository_and_tag("foo:old", "new").tag == "new"
    assert parse_repository_and_tag("foo", None).tag is None
    assert parse_repository_and_tag("foo", "").tag is None
    pinned = parse_repository_and_tag("foo:old", DIGEST)
    assert pinned.tag is None
    assert str(pinned.digest) == DIGEST
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        parse_repository_and_tag("foo", "-bad")
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        parse_repository_and_tag("Foo", "1")


def test_constructor_keeps_references_canonical() -> None:
    with pytest.raises(InvalidArgument):
        Reference("docker.io", "busybox")
    with pytest.raises(InvalidArgument):
        Reference("index.docker.io", "library/busybox")
    with pytest.raises(InvalidArgument):
        Reference("registry", "x")  # would read back as docker.io/registry/x
    with pytest.raises(InvalidArgument):
        Reference("example.com", "Upper")
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        Reference("example.com", "x", tag="a:b")


# -- properties ----------------------------------------------------------------------------

_alnum = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)
_separator = st.sampled_from([".", "_", "__", "-", "--"])


@st.composite
def _component(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_alnum, min_size=1, max_size=3))
    out = parts[0]
    for part in parts[1:]:
        out += draw(_separator) + part
    return out


_domain = st.one_of(
    st.just("docker.io"),
    st.just("localhost"),
    st.from_regex(r"localhost:[0-9]{1,5}", fullmatch=True),
    st.from_regex(
        r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\.[a-zA-Z0-9]{1,6}){1,3}(:[0-9]{1,5})?", fullmatch=True
    ),
    st.from_regex(r"[A-Z][a-zA-Z0-9]{0,6}", fullmatch=True),
    st.from_regex(r"\[[0-9a-f]{0,4}:[0-9a-f:]{1,10}\](:[0-9]{1,4})?", fullmatch=True),
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map(lambda h: Digest("sha256", h))


@st.composite
def _references(draw: st.DrawFn) -> Reference:
    domain = draw(_domain)
    components = draw(
        st.lists(_component(), min_size=2 if domain == "docker.io" else 1, max_size=4)
    )
    return Reference(
        domain,
        "/".join(components),
        draw(st.none() | _tag),
        draw(st.none() | _digest),
    )


@given(_references())
def test_string_round_trip(ref: Reference) -> None:
    assert parse_normalized(str(ref)) == ref


@given(_references())
def test_familiar_round_trip(ref: Reference) -> None:
    first = ref.familiar().split("/", 1)[0]
    # Docker has the same blind spot: docker.io/foo.bar/x displays as foo.bar/x.
    hub_name_looks_like_host = (
        ref.domain == "docker.io"
        and "/" in ref.familiar_name
        and (any(c in first for c in ".:") or first == "localhost")
    )
    assume(not hub_name_looks_like_host)
    assert parse_normalized(ref.familiar()) == ref


@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_invalid_argument(text: str) -> None:
    try:
        ref = parse_normalized(text)
    except InvalidArgument:
        return
    assert parse_normalized(str(ref)) == ref
