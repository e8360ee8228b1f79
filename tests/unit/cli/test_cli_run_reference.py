"""``run``'s shortcut for plain references must never accept what the full parser rejects."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from wharf.cli.run import plainly_valid
from wharf.oci.reference import parse_normalized

_ALPHABET = "abcdefghijklmnopqrstuvwxyzAZ0123456789._-:/@_ "
_PLAIN_LIKE = st.from_regex(r"[a-z0-9._-]{1,20}(:[A-Za-z0-9_.-]{1,10})?", fullmatch=True)


@given(st.one_of(st.text(_ALPHABET, max_size=40), _PLAIN_LIKE, st.text(max_size=300)))
@example("busybox")
@example("a" * 200)
@example("a__b--c.d:TAG_1.-")
def test_plain_references_are_valid_references(image: str) -> None:
    if plainly_valid(image):
        reference = parse_normalized(image)
        assert reference.domain == "docker.io"
        assert reference.path == f"library/{image.partition(':')[0]}"


def test_plain_and_not_plain() -> None:
    assert plainly_valid("busybox")
    assert plainly_valid("alpine:3.20")
    assert plainly_valid("my-app_v2.x:Latest_1")
    for image in (
        "",
        "Busybox",
        "a/b",
        "localhost:5000/x",
        "x@sha256:" + "0" * 64,
        "a..b",
        "a" * 201,
    ):
        assert not plainly_valid(image)
