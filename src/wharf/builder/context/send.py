"""The client half of a build context: tar a directory the way the docker CLI does.

Imports: stdlib, ``wharf.errdefs``, ``builder.context.ignore``.

``write_context_tar`` walks the context (symlinks to it resolved first, as the CLI's
``EvalSymlinks``) depth first with names in byte order (Go's ``WalkDir``) and writes an
uncompressed PAX tar of what the ``IgnoreMatcher`` keeps:

- directories (``name/``), regular files, symlinks (never followed; the target is data),
  hardlinks among sent files (``1`` entries naming the first one sent) and fifos; sockets and
  device nodes are left out (Docker sends devices; the daemon refuses them in a context);
- each header keeps the permission bits and the mtime in whole seconds; uid/gid are 0 and
  user/group names empty (the CLI's ``ChownOpts{0,0}``); ``security.capability`` travels as
  a PAX xattr, as Docker's archiver sends it; the root directory itself is not an entry;
- an excluded directory is not entered when ``may_skip_dir`` says nothing under it can be
  re-included; otherwise it is walked but its own entry is left out;
- a file or directory that cannot be read raises ``InvalidArgument`` naming it ("error checking
  context: no permission to read from '<path>'", "error checking context: can't stat
  '<path>'"). The tar written so far is then incomplete: the caller drops the upload.

A Dockerfile outside the context goes in as ``.dockerfile.<20 hex>`` (mode 0600) and its name
is appended to ``.dockerignore`` (a ``.dockerignore`` listing itself is added when there is
none), so the daemon removes it before COPY sees the context: the docker CLI's
``AddDockerfileToBuildContext``. Both entries come last.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, cast

from wharf.builder.context.ignore import IgnoreMatcher
from wharf.errdefs import InvalidArgument

__all__ = ["DEFAULT_DOCKERFILE", "write_context_tar", "write_directory_context"]

DEFAULT_DOCKERFILE = "Dockerfile"
_CAPABILITY_XATTR = "security.capability"
_XATTR_PAX_PREFIX = "SCHILY.xattr."
_BUFFER = 1 << 20


def write_context_tar(
    directory: Path,
    out: BinaryIO,
    *,
    matcher: IgnoreMatcher,
    dockerfile: Path | None = None,
) -> str:
    """Write the context ``directory`` to ``out`` as a tar; return the Dockerfile's name in it
    (the ``dockerfile`` query parameter of ``POST /build``).

    ``dockerfile`` (relative to the current directory, as ``docker build -f``) defaults to
    ``Dockerfile`` in the context, or ``dockerfile`` when only that exists. ``matcher`` should
    come from ``IgnoreMatcher.for_build`` so the Dockerfile and .dockerignore are kept.
    """
    try:
        root = Path(os.path.realpath(directory, strict=True))
    except OSError:
        raise InvalidArgument(f'unable to prepare context: path "{directory}" not found') from None
    if not root.is_dir():
        raise InvalidArgument(f'unable to prepare context: path "{directory}" not found')
    outside, name = _locate_dockerfile(root, dockerfile)
    writer = _CountingWriter(out)
    archive = tarfile.TarFile(
        fileobj=cast("IO[bytes]", writer),
        mode="w",
        format=tarfile.PAX_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    )
    walker = _Walker(root, matcher, archive)
    walker.amend_ignore = name if outside is not None else None
    walker.walk()
    if outside is not None:
        content = _read_dockerfile(outside)
        _add_bytes(archive, name, content, time.time())
        if not walker.ignore_written:
            _add_bytes(archive, ".dockerignore", f".dockerignore\n{name}\n".encode(), 0)
    archive.close()
    return name


def write_directory_context(context_dir: Path, out: BinaryIO, dockerfile: Path) -> str:
    """What ``docker build DIR`` sends: the context directory with its ``.dockerignore``
    applied (never to the Dockerfile or ``.dockerignore`` themselves), the Dockerfile (a real
    path, inside the context or not) included; returns the Dockerfile's name in the tar.

    Shared by ``wharf build`` and ``wharf compose build``; every failure is an
    ``InvalidArgument`` starting "unable to prepare context:" or naming the unreadable file.
    """
    relative: str | None = None
    with contextlib.suppress(ValueError):
        relative = dockerfile.relative_to(context_dir).as_posix()
    ignore_file = context_dir / ".dockerignore"
    try:
        ignore_text = ignore_file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        ignore_text = ""
    except OSError as exc:
        raise InvalidArgument(f"unable to prepare context: {ignore_file}: {exc.strerror}") from exc
    matcher = IgnoreMatcher.for_build(ignore_text, relative)
    try:
        # A Dockerfile outside the context goes in under a name the writer picks.
        name = write_context_tar(context_dir, out, matcher=matcher, dockerfile=dockerfile)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise InvalidArgument(f"unable to prepare context: {where}{exc.strerror or exc}") from exc
    return name or relative or DEFAULT_DOCKERFILE


def _locate_dockerfile(root: Path, dockerfile: Path | None) -> tuple[Path | None, str]:
    """(the real path when it lies outside the context, its name in the tar)."""
    if dockerfile is None:
        given = DEFAULT_DOCKERFILE
        candidate = root / DEFAULT_DOCKERFILE
        lower = root / DEFAULT_DOCKERFILE.lower()
        if not os.path.lexists(candidate) and os.path.lexists(lower):
            candidate = lower
    else:
        given = str(dockerfile)
        candidate = dockerfile
    try:
        real = Path(os.path.realpath(candidate, strict=True))
    except OSError:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {given}") from None
    rel = os.path.relpath(real, root)
    if rel == ".." or rel.startswith("../"):
        return real, ".dockerfile." + secrets.token_hex(10)
    return None, rel


def _read_dockerfile(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"Cannot read Dockerfile {path}: {exc.strerror}") from exc


class _Walker:
    def __init__(self, root: Path, matcher: IgnoreMatcher, archive: tarfile.TarFile) -> None:
        self.root = root
        self.matcher = matcher
        self.archive = archive
        self.amend_ignore: str | None = None
        self.ignore_written = False
        self._links: dict[tuple[int, int], str] = {}

    def walk(self) -> None:
        stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = [("", self._entries(self.root))]
        while stack:
            prefix, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            rel = prefix + entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                raise _context_error(entry.path, exc) from exc
            is_dir = stat.S_ISDIR(st.st_mode)
            if self.matcher.excluded(rel):
                if is_dir and not self.matcher.may_skip_dir(rel):
                    stack.append((rel + "/", self._entries(Path(entry.path))))
                continue
            self._add(Path(entry.path), rel, st)
            if is_dir:
                stack.append((rel + "/", self._entries(Path(entry.path))))

    def _entries(self, path: Path) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(path) as scan:
                entries = sorted(scan, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            raise _context_error(str(path), exc) from exc
        return iter(entries)

    def _add(self, path: Path, rel: str, st: os.stat_result) -> None:
        kind = stat.S_IFMT(st.st_mode)
        info = tarfile.TarInfo(rel)
        info.mode = stat.S_IMODE(st.st_mode)
        info.mtime = st.st_mtime_ns // 1_000_000_000
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if kind == stat.S_IFDIR:
            info.type = tarfile.DIRTYPE
            info.name = rel + "/"
            self.archive.addfile(info)
        elif kind == stat.S_IFLNK:
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
            self.archive.addfile(info)
        elif kind == stat.S_IFIFO:
            info.type = tarfile.FIFOTYPE
            self.archive.addfile(info)
        elif kind == stat.S_IFREG:
            self._add_file(path, rel, st, info)

    def _add_file(self, path: Path, rel: str, st: os.stat_result, info: tarfile.TarInfo) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self._links.get(key)
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
                self.archive.addfile(info)
                return
            self._links[key] = rel
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise _context_error(str(path), exc) from exc
        with open(fd, "rb", buffering=_BUFFER) as handle:
            capability = _capability(fd)
            if capability is not None:
                info.pax_headers = {_XATTR_PAX_PREFIX + _CAPABILITY_XATTR: capability}
            if rel == ".dockerignore" and self.amend_ignore is not None:
                content = handle.read() + f"\n{self.amend_ignore}\n".encode()
                info.size = len(content)
                self.archive.addfile(info, io.BytesIO(content))
                self.ignore_written = True
                return
            if rel == ".dockerignore":
                self.ignore_written = True
            info.size = os.fstat(fd).st_size
            try:
                self.archive.addfile(info, handle)
            except OSError as exc:
                if exc.errno is None:  # tarfile's "unexpected end of data": it shrank
                    raise InvalidArgument(
                        f"error checking context: '{path}' changed while it was read"
                    ) from exc
                raise _context_error(str(path), exc) from exc


def _capability(fd: int) -> str | None:
    try:
        value = os.getxattr(fd, _CAPABILITY_XATTR)
    except OSError:
        return None
    # tarfile writes PAX values back with surrogateescape, so binary values survive.
    return value.decode("utf-8", "surrogateescape")


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o600
    info.mtime = int(mtime)
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(content))


def _context_error(path: str, exc: OSError) -> InvalidArgument:
    if exc.errno in (errno.EACCES, errno.EPERM):
        if isinstance(exc, PermissionError) and os.path.isdir(path):
            return InvalidArgument(f"error checking context: can't stat '{path}'")
        return InvalidArgument(f"error checking context: no permission to read from '{path}'")
    return InvalidArgument(f"error checking context: {exc.strerror or exc}: '{path}'")


class _CountingWriter:
    """What tarfile's ``w`` mode needs of ``out`` (``tell``), without ``out`` seeking."""

    __slots__ = ("_out", "_written")

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._written = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def close(self) -> None:
        pass
