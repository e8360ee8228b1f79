"""Go's filepath.Clean and filepath.Match, ported: Go's own test tables."""

from __future__ import annotations

import pytest

from wharf.builder.context.globs import BadPattern, go_clean, go_match, has_wildcards

# Go's src/path/filepath/match_test.go (pattern, name, matched, bad pattern).
MATCH_CASES = [
    ("abc", "abc", True, False),
    ("*", "abc", True, False),
    ("*c", "abc", True, False),
    ("a*", "a", True, False),
    ("a*", "abc", True, False),
    ("a*", "ab/c", False, False),
    ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False),
    ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False),
    ("a\\*b", "ab", False, False),
    ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False),
    ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "\u03b1", True, False),  # Greek alpha
    ("*[a-ζ]", "A", False, False),
    ("a?b", "a/b", False, False),
    ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False),
    ("[\\-]", "-", True, False),
    ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False),
    ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False),
    ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True),
    ("[-]", "-", False, True),
    ("[x-]", "x", False, True),
    ("[x-]", "-", False, True),
    ("[x-]", "z", False, True),
    ("[-x]", "x", False, True),
    ("[-x]", "-", False, True),
    ("[-x]", "a", False, True),
    ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True),
    ("[", "a", False, True),
    ("[^", "a", False, True),
    ("[^bc", "a", False, True),
    ("a[", "a", False, True),
    ("a[", "ab", False, True),
    ("a[", "x", False, True),
    ("a/b[", "x", False, True),
    ("*x", "xxx", True, False),
    (".*", ".hidden", True, False),
    ("*", ".hidden", True, False),
]


@pytest.mark.parametrize(("pattern", "name", "matched", "bad"), MATCH_CASES)
def test_go_match_table(pattern: str, name: str, matched: bool, bad: bool) -> None:
    if bad:
        with pytest.raises(BadPattern):
            go_match(pattern, name)
    else:
        assert go_match(pattern, name) is matched


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("", "."),
        (".", "."),
        ("abc", "abc"),
        ("abc/", "abc"),
        ("a//b", "a/b"),
        ("a/./b", "a/b"),
        ("a/b/..", "a"),
        ("a/../..", ".."),
        ("../../a", "../../a"),
        ("/", "/"),
        ("//", "/"),
        ("/../a", "/a"),
        ("/a/b/../../..", "/"),
        ("!foo/", "!foo"),
    ],
)
def test_go_clean(path: str, clean: str) -> None:
    assert go_clean(path) == clean


@pytest.mark.parametrize(
    ("pattern", "wild"),
    [
        ("a.txt", False),
        ("*.txt", True),
        ("a?", True),
        ("[ab]", True),
        ("a\\*b", False),
        ("dir/*/x", True),
        ("a\\\\*", True),
    ],
)
def test_has_wildcards_skips_escaped_characters(pattern: str, wild: bool) -> None:
    assert has_wildcards(pattern) is wild
