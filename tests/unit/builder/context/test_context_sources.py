"""resolve_sources (paths, wildcards, symlinks, errors) and the cache checksum."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wharf.builder.context.sources import Source, checksum, resolve_sources
from wharf.errdefs import InvalidArgument


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "a.py").write_text("a")
    (root / "src" / "b.py").write_text("b")
    (root / "src" / "pkg" / "c.py").write_text("c")
    (root / "src" / "notes.txt").write_text("n")
    (root / ".hidden").write_text("h")
    (root / "README.md").write_text("r")
    (root / "star*name").write_text("s")
    (root / "link-to-src").symlink_to("src")
    (root / "abs-link").symlink_to("/src/a.py")
    (root / "escape").symlink_to("../../../../etc")
    (root / "dangling").symlink_to("missing")
    return root


def rels(sources: list[Source]) -> list[str]:
    return [s.rel for s in sources]


def test_plain_paths(ctx: Path) -> None:
    sources = resolve_sources(ctx, ["src/a.py", "/README.md", "./src", "."])
    assert rels(sources) == ["src/a.py", "README.md", "src", "."]
    assert sources[0] == Source("src/a.py", ctx / "src" / "a.py", False)
    assert sources[2].is_dir and sources[2].path == ctx / "src"
    assert sources[3].path == ctx and sources[3].is_dir


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("src/*.py", ["src/a.py", "src/b.py"]),
        ("src/?.py", ["src/a.py", "src/b.py"]),
        ("src/[a].py", ["src/a.py"]),
        ("src/[^a].py", ["src/b.py"]),
        ("*/*.py", ["link-to-src/a.py", "link-to-src/b.py", "src/a.py", "src/b.py"]),
        ("src/*", ["src/a.py", "src/b.py", "src/notes.txt", "src/pkg"]),
        ("*.md", ["README.md"]),
        (".h*", [".hidden"]),
        ("s*/p*/*.py", ["src/pkg/c.py"]),
        ("sr\\c/a*", ["src/a.py"]),
        ("/src/../src/b*", ["src/b.py"]),
    ],
)
def test_wildcards_match_element_by_element(ctx: Path, pattern: str, expected: list[str]) -> None:
    assert rels(resolve_sources(ctx, [pattern])) == expected


def test_escaped_wildcard_is_a_plain_name(ctx: Path) -> None:
    with pytest.raises(InvalidArgument, match="file not found"):
        resolve_sources(ctx, ["star\\*name"])  # the classic builder takes it literally
    assert rels(resolve_sources(ctx, ["star*name"])) == ["star*name"]


def test_symlink_sources_are_followed_inside_the_root(ctx: Path) -> None:
    (ctx / "etc").mkdir()
    link_dir, abs_link, escape = resolve_sources(ctx, ["link-to-src", "abs-link", "escape"])
    assert link_dir.rel == "link-to-src" and link_dir.is_dir and link_dir.path == ctx / "src"
    assert abs_link.rel == "abs-link" and abs_link.path == ctx / "src" / "a.py"
    assert not abs_link.is_dir
    # "../../../../etc" is <ctx>/etc, never the host's /etc.
    assert escape.path == ctx / "etc" and escape.is_dir


def test_symlink_escaping_to_a_missing_path_is_not_found(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "escape").symlink_to("../../../../etc")
    with pytest.raises(InvalidArgument, match="stat escape: file does not exist"):
        resolve_sources(root, ["escape"])


def test_dotdot_never_leaves_the_root(ctx: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    with pytest.raises(InvalidArgument, match="file not found"):
        resolve_sources(ctx, ["../secret"])
    assert rels(resolve_sources(ctx, ["../../README.md"])) == ["README.md"]


def test_missing_plain_path_message(ctx: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_sources(ctx, ["./nope/file.txt"])
    assert str(info.value) == (
        "COPY failed: file not found in build context or excluded by .dockerignore: "
        "stat nope/file.txt: file does not exist"
    )


def test_dangling_symlink_source_is_not_found(ctx: Path) -> None:
    with pytest.raises(InvalidArgument, match="stat dangling: file does not exist"):
        resolve_sources(ctx, ["dangling"], command="ADD")


def test_wildcards_matching_nothing(ctx: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_sources(ctx, ["*.nothing", "nodir/*"], command="ADD")
    assert str(info.value) == "ADD failed: no source files were specified"
    # One empty wildcard among others is fine (the classic builder counts all matches).
    assert rels(resolve_sources(ctx, ["*.nothing", "README.md"])) == ["README.md"]


def test_malformed_wildcard(ctx: Path) -> None:
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        resolve_sources(ctx, ["src/[a"])


# -- checksum --------------------------------------------------------------------------------


def _sum(root: Path, *patterns: str) -> str:
    return str(checksum(resolve_sources(root, list(patterns))))


def test_checksum_is_stable_and_ignores_times_and_owners(ctx: Path) -> None:
    before = _sum(ctx, "src", "README.md")
    assert before.startswith("sha256:")
    assert _sum(ctx, "src", "README.md") == before
    os.utime(ctx / "src" / "a.py", (1, 1))
    os.utime(ctx / "src", (2, 2))
    os.lchown(ctx / "src" / "b.py", 1234, 1234)
    assert _sum(ctx, "src", "README.md") == before


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "src" / "a.py").write_text("changed"),
        lambda root: (root / "src" / "a.py").chmod(0o755),
        lambda root: (root / "src" / "pkg").chmod(0o700),
        lambda root: (root / "src" / "a.py").rename(root / "src" / "z.py"),
        lambda root: (root / "src" / "new").write_text(""),
        lambda root: (root / "src" / "pkg" / "c.py").unlink(),
        lambda root: (root / "src" / "ln").symlink_to("a.py"),
    ],
)
def test_checksum_changes_with_content_mode_and_names(ctx: Path, change: object) -> None:
    before = _sum(ctx, "src")
    change(ctx)  # type: ignore[operator]
    assert _sum(ctx, "src") != before


def test_checksum_sees_symlink_targets_and_source_names(ctx: Path) -> None:
    (ctx / "src" / "ln").symlink_to("a.py")
    before = _sum(ctx, "src")
    (ctx / "src" / "ln").unlink()
    (ctx / "src" / "ln").symlink_to("b.py")
    assert _sum(ctx, "src") != before
    (ctx / "copy.py").write_text("a")
    assert _sum(ctx, "src/a.py") != _sum(ctx, "copy.py")  # same bytes, other name
    assert _sum(ctx, "src/a.py", "README.md") != _sum(ctx, "README.md", "src/a.py")
