"""Sources of COPY/ADD: which files of a context (or of another stage's root) a step reads,
and the content checksum the build cache keys the step on.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``builder.context.globs`` and
``builder.context.tree`` (scoped resolution).

Resolution (the classic builder's rules, which the docker CLI's legacy ``/build`` path sees):

- a source is a slash path relative to ``root``; a leading ``/`` or ``./`` means ``root``; it is
  cleaned lexically first (``a/../b`` is ``b``), so ``..`` never leaves ``root``;
- a path with an unescaped ``*``, ``?`` or ``[`` is a wildcard, matched element by element with
  Go's ``filepath.Match`` (``*`` never crosses ``/``, dotfiles are not special); matches come in
  byte order of their names;
- symlinks are followed inside ``root`` (``tree.scoped_path``), the source itself included: a
  link to a directory is that directory. ``Source.rel`` keeps the name as written or matched
  (its base name names the destination file), ``Source.path`` the resolved real path;
- a plain path that does not exist fails with the classic builder's message
  ``COPY failed: file not found in build context or excluded by .dockerignore: stat <p>: file
  does not exist``; patterns that together match nothing fail with
  ``COPY failed: no source files were specified``.

Checksum: one sha256 over, for each source in order, its ``rel`` and then every entry at and
below it (children in byte order, symlinks not followed): relative path, file type,
permission bits (with setuid/setgid/sticky), symlink target, device numbers and the sha256 of
file contents. Owners and times are left out: COPY sets the owner itself and Docker keys the
cache on contents, not on timestamps. Fields are length-prefixed, so no name can forge another
record.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wharf.builder.context.globs import BadPattern, go_clean, go_match, has_wildcards
from wharf.builder.context.tree import scoped_path
from wharf.errdefs import EngineFailure, InvalidArgument
from wharf.oci.digest import Digest, Digester

__all__ = ["Source", "checksum", "resolve_sources"]


@dataclass(frozen=True, slots=True)
class Source:
    """One resolved source of a COPY/ADD.

    ``rel``: slash path relative to the root as written or matched (``.`` is the root);
    ``path``: the real path it resolves to; ``from_url``: a file ``ADD`` downloaded, which is
    never unpacked even when it is an archive.
    """

    rel: str
    path: Path
    is_dir: bool
    from_url: bool = False


def resolve_sources(root: Path, patterns: Sequence[str], *, command: str = "COPY") -> list[Source]:
    """The sources ``patterns`` name inside ``root`` (see the module docstring)."""
    found: list[Source] = []
    for pattern in patterns:
        trimmed = pattern.removeprefix("/").removeprefix("./")
        rel = go_clean("/" + pattern).lstrip("/") or "."
        if has_wildcards(rel):
            try:
                matches = _glob(root, rel)
            except BadPattern as exc:
                raise InvalidArgument(f"{command} failed: {pattern!r}: {exc}") from exc
            found.extend(_source(root, match, match, command) for match in matches)
        else:
            found.append(_source(root, rel, trimmed, command))
    if not found:
        raise InvalidArgument(f"{command} failed: no source files were specified")
    return found


def _source(root: Path, rel: str, shown: str, command: str) -> Source:
    path = scoped_path(root, rel, follow_final=True)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidArgument(
            f"{command} failed: file not found in build context or excluded by "
            f".dockerignore: stat {shown}: file does not exist"
        ) from None
    except OSError as exc:
        raise EngineFailure(f"{command} failed: stat {shown}: {exc.strerror}") from exc
    return Source(rel=rel, path=path, is_dir=stat.S_ISDIR(st.st_mode))


def _glob(root: Path, rel: str) -> list[str]:
    """Relative paths matching ``rel`` element by element, in byte order."""
    matches = [""]
    for element in rel.split("/"):
        following: list[str] = []
        for prefix in matches:
            if not has_wildcards(element) and "\\" not in element:
                candidate = f"{prefix}/{element}" if prefix else element
                if os.path.lexists(scoped_path(root, candidate, follow_final=False)):
                    following.append(candidate)
                continue
            directory = scoped_path(root, prefix, follow_final=True)
            try:
                names = sorted(os.listdir(directory), key=os.fsencode)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise EngineFailure(f"cannot list {prefix or '.'}: {exc.strerror}") from exc
            following.extend(
                f"{prefix}/{name}" if prefix else name for name in names if go_match(element, name)
            )
        matches = following
        if not matches:
            # An empty match is not an error by itself, but a malformed pattern is.
            go_match(rel, ".")
            break
    return matches


_KIND_CODES = {
    stat.S_IFREG: b"f",
    stat.S_IFDIR: b"d",
    stat.S_IFLNK: b"l",
    stat.S_IFIFO: b"p",
    stat.S_IFCHR: b"c",
    stat.S_IFBLK: b"b",
    stat.S_IFSOCK: b"s",
}


def checksum(sources: Sequence[Source]) -> Digest:
    """The content checksum of ``sources`` and everything below them (module docstring)."""
    digester = Digester()
    for source in sources:
        _field(digester, b"source")
        _field(digester, os.fsencode(source.rel))
        try:
            st = os.stat(source.path)
        except OSError as exc:
            raise EngineFailure(f"cannot read source {source.rel}: {exc.strerror}") from exc
        _entry(digester, source.path, b"", st)
    return digester.digest()


def _entry(digester: Digester, path: Path, rel: bytes, st: os.stat_result) -> None:
    kind = _KIND_CODES.get(stat.S_IFMT(st.st_mode), b"?")
    _field(digester, kind)
    _field(digester, rel)
    _field(digester, b"%o" % stat.S_IMODE(st.st_mode))
    if kind == b"f":
        _field(digester, _file_digest(path))
    elif kind == b"l":
        _field(digester, os.fsencode(os.readlink(path)))
    elif kind in (b"c", b"b"):
        _field(digester, b"%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    elif kind == b"d":
        try:
            with os.scandir(path) as entries:
                children = sorted(entries, key=lambda e: os.fsencode(e.name))
            for child in children:
                child_st = child.stat(follow_symlinks=False)
                name = os.fsencode(child.name)
                _entry(digester, Path(child.path), rel + b"/" + name if rel else name, child_st)
        except OSError as exc:
            raise EngineFailure(f"cannot read source directory {path}: {exc.strerror}") from exc


def _file_digest(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise EngineFailure(f"cannot read source file {path}: {exc.strerror}") from exc
    with open(fd, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def _field(digester: Digester, data: bytes) -> None:
    digester.update(struct.pack(">I", len(data)))
    digester.update(data)
