""".dockerignore rules: moby/patternmatcher's tables, Docker's documented examples, exceptions
inside excluded directories, the build-file exceptions, and a reference check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.builder.context.globs import go_match
from wharf.builder.context.ignore import IgnoreMatcher
from wharf.errdefs import InvalidArgument

# patternmatcher_test.go TestMatches, MatchesOrParentMatches column (paths cleaned first).
SINGLE = [
    ("**", "file", True),
    ("**/", "file", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    # A pattern naming a parent directory excludes what is beneath it.
    ("a*", "ab/c", True),
    ("docs", "docs/deep/file.md", True),
    ("*/temp*", "somedir/temporary.txt", True),
    ("*/temp*", "temporary.txt", False),
    ("*/*/temp*", "somedir/subdir/temporary.txt", True),
    ("temp?", "tempa", True),
    ("temp?", "temp", False),
    ("**/*.go", "main.go", True),
    ("**/*.go", "cmd/x/main.go", True),
    ("/abs/path", "abs/path", False),  # New() keeps the slash; parse() drops it
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE)
def test_single_pattern_table(pattern: str, path: str, excluded: bool) -> None:
    assert IgnoreMatcher([pattern]).excluded(path) is excluded


MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    # Docker's documented ordering examples.
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), MULTI)
def test_last_matching_pattern_wins(patterns: list[str], path: str, excluded: bool) -> None:
    assert IgnoreMatcher(patterns).excluded(path) is excluded


def test_parse_file_syntax() -> None:
    text = (
        "\ufeff# comment\n"
        "\n"
        "   \n"
        "/leading/slash\n"
        "  spaced  \n"
        " # not a comment once trimmed\n"
        "! keep/me \n"
        "dir/./sub/../x/\n"
    )
    matcher = IgnoreMatcher.parse(text)
    assert matcher.patterns == (
        "leading/slash",
        "spaced",
        "# not a comment once trimmed",
        "!keep/me",
        "dir/x",
    )
    assert matcher.excluded("leading/slash")
    assert matcher.excluded("/leading/slash/below")
    assert matcher.excluded("# not a comment once trimmed")
    assert not matcher.excluded("# comment")
    assert matcher.has_exceptions


def test_crlf_lines_are_patterns_without_the_cr() -> None:
    assert IgnoreMatcher.parse("a\r\nb\r\n").patterns == ("a", "b")


@pytest.mark.parametrize("text", ["!", "  !  ", "["])
def test_malformed_patterns_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        IgnoreMatcher.parse(text)


def test_bad_pattern_message_names_the_pattern() -> None:
    with pytest.raises(InvalidArgument, match=r"'a\['.*syntax error in pattern"):
        IgnoreMatcher(["a["])


def test_the_context_root_is_never_excluded() -> None:
    matcher = IgnoreMatcher(["*", "**", "."])
    assert not matcher.excluded(".")
    assert not matcher.excluded("")
    assert matcher.excluded("anything")


def test_no_patterns_exclude_nothing() -> None:
    matcher = IgnoreMatcher([])
    assert not matcher.excluded("a/b/c")
    assert not matcher.may_skip_dir("a")


def test_may_skip_dir_follows_dockers_textual_rule() -> None:
    matcher = IgnoreMatcher(["docs", "!docs/keep/me.md", "build", "!**/important"])
    assert not matcher.may_skip_dir("docs")  # an exception names something inside
    assert not matcher.excluded("docs/keep/me.md")
    assert matcher.excluded("docs/other.md")
    # "!**/important" does not start with "build/": Docker skips the directory whole.
    assert matcher.may_skip_dir("build")
    assert not matcher.excluded("build/important")
    assert not matcher.may_skip_dir("src")  # not excluded at all


def test_may_skip_dir_without_exceptions() -> None:
    matcher = IgnoreMatcher(["node_modules", "*.log"])
    assert matcher.may_skip_dir("node_modules")
    assert matcher.may_skip_dir("node_modules/")
    assert not matcher.may_skip_dir("src")


def test_for_build_always_keeps_the_build_files() -> None:
    matcher = IgnoreMatcher.for_build("*\n", "Dockerfile")
    assert not matcher.excluded(".dockerignore")
    assert not matcher.excluded("Dockerfile")
    assert matcher.excluded("main.go")
    assert matcher.patterns == ("*", "!.dockerignore", "!Dockerfile")


def test_for_build_keeps_a_dockerfile_inside_an_excluded_directory() -> None:
    matcher = IgnoreMatcher.for_build("docker\n", "docker/app.Dockerfile")
    assert not matcher.excluded("docker/app.Dockerfile")
    assert matcher.excluded("docker/other")
    assert not matcher.may_skip_dir("docker")


def test_for_build_adds_nothing_when_nothing_is_excluded() -> None:
    matcher = IgnoreMatcher.for_build("*.log\n", "Dockerfile")
    assert matcher.patterns == ("*.log",)
    assert IgnoreMatcher.for_build("*\n", None).patterns == ("*", "!.dockerignore")


# -- reference check -------------------------------------------------------------------------

SEGMENTS = st.sampled_from(["a", "b", "ab", "*", "?", "a*", "*b", "[ab]", "[^a]b"])
NAMES = st.sampled_from(["a", "b", "ab", "ba", "bb", "abb"])
PATTERNS = st.lists(
    st.tuples(st.booleans(), st.lists(SEGMENTS, min_size=1, max_size=3)), min_size=1, max_size=4
)


def _reference_excluded(patterns: list[tuple[bool, list[str]]], path: list[str]) -> bool:
    """Without ``**``: a pattern matches a path or one of its parents when the same number of
    elements match one by one; the last pattern that matches decides."""
    result = False
    for exception, segments in patterns:
        candidates = [path[:n] for n in range(1, len(path) + 1)]
        if any(
            len(c) == len(segments)
            and all(go_match(s, e) for s, e in zip(segments, c, strict=True))
            for c in candidates
        ):
            result = not exception
    return result


@given(PATTERNS, st.lists(NAMES, min_size=1, max_size=4))
def test_matcher_agrees_with_a_reference_on_simple_patterns(
    patterns: list[tuple[bool, list[str]]], path: list[str]
) -> None:
    texts = [("!" if exception else "") + "/".join(segments) for exception, segments in patterns]
    matcher = IgnoreMatcher(texts)
    assert matcher.excluded("/".join(path)) is _reference_excluded(patterns, path)
