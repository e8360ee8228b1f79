"""archive_path and export_rootfs: tars of a container's files (``docker cp`` out, ``export``).

Imports: stdlib, ``wharf.archive.compression`` (stream protocol), ``wharf.archive.whiteouts``,
``wharf.errdefs``, ``container_fs.rootdir``, ``container_fs.pathstat``.

``archive_path`` follows Docker's ``GET /containers/{id}/archive``: the path is resolved as
``ResolvePath`` does (parent in scope, last component followed only for ``/`` or ``/.``), the
top entry is named by the path's base name (``etc/``, ``etc/passwd``...) and ``/.`` archives
the contents only (``./``, ``./passwd``...; the root ``/`` is archived that way too).
``export_rootfs`` writes the whole tree with names relative to the root and no top entry.

Safety: the tree is read through directory fds opened with ``O_NOFOLLOW``; symlinks are
archived as symlinks, never followed, so a container cannot make us archive host files by
planting or swapping in a link while we read. Files are opened ``O_NONBLOCK`` and checked to
be regular after opening (a FIFO swapped in cannot hang us); a file that shrinks while it is
read is padded with zeros and one that grows is cut at its size when opened, so a live
container's changing logs cannot break the archive. Sockets are skipped (as Docker does),
hardlinked files become link entries within one archive, and xattrs travel as PAX
``SCHILY.xattr.*`` records (except overlayfs' own and SELinux labels).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Collection, Iterator
from pathlib import Path

from wharf.archive.compression import WritableStream
from wharf.archive.members import member_info, xattr_headers
from wharf.engine.container_fs.pathstat import (
    PathStat,
    locate_path,
    parse_path,
    path_stat,
)
from wharf.engine.container_fs.rootdir import DIR_FLAGS, RootDir, clean_path
from wharf.errdefs import EngineFailure

__all__ = ["archive_path", "export_rootfs"]

_BUFFER = 1 << 20
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

_Frame = tuple[int, str, tuple[str, ...], Iterator[os.DirEntry[str]]]


def archive_path(
    rootfs: Path, path: str, out: WritableStream, *, exclude: Collection[str] = ()
) -> PathStat:
    """Write a tar of ``path`` inside ``rootfs`` to ``out``; return the path's stat.

    ``exclude`` names container paths whose contents are left out (their directory entry
    stays): ``/proc`` and ``/sys`` when ``rootfs`` is a running container's
    ``/proc/<pid>/root``.
    """
    clean = parse_path(path)
    skipped = frozenset(clean_path(p).parts for p in exclude)
    with RootDir(rootfs) as root:
        located = locate_path(root, clean)
        try:
            st = located.lstat()
            result = path_stat(root, clean, located, st)
            top = "." if clean.base in (".", "/") else clean.base
            with _TarOut(out, where=clean.text, exclude=skipped) as tar:
                if located.name is None:
                    tar.add_dir(os.dup(root.fd), top, located.parts)
                else:
                    tar.add(located.parent, located.name, top, located.parts, st)
        except OSError as exc:
            raise EngineFailure(f"cannot archive {clean.text}: {exc.strerror or exc}") from exc
        finally:
            located.close()
    return result


def export_rootfs(rootfs: Path, out: WritableStream, *, exclude: Collection[str] = ()) -> None:
    """Write the whole tree under ``rootfs`` to ``out`` as a flat tar (``docker export``).

    ``exclude`` names container paths (``/proc``, ``/sys``...) whose directory entry is kept
    but whose contents are not archived.
    """
    skipped = frozenset(clean_path(p).parts for p in exclude)
    with RootDir(rootfs) as root, _TarOut(out, where="/", exclude=skipped) as tar:
        tar.add_contents(os.dup(root.fd), "", ())


class _BufferedCounter:
    """Buffers tar's small writes into large ones and answers ``tell`` (tarfile asks once)."""

    __slots__ = ("_buffer", "_count", "_out")

    def __init__(self, out: WritableStream) -> None:
        self._out = out
        self._buffer = bytearray()
        self._count = 0

    def write(self, data: bytes, /) -> int:
        self._count += len(data)
        self._buffer += data
        if len(self._buffer) >= _BUFFER:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._out.write(bytes(self._buffer))
            self._buffer.clear()

    def tell(self) -> int:
        return self._count

    def read(self, size: int, /) -> bytes:
        raise io.UnsupportedOperation("write-only stream")

    def seek(self, pos: int, /) -> int:
        raise io.UnsupportedOperation("unseekable stream")

    def close(self) -> None:
        self.flush()


class _SizedReader:
    """Exactly ``size`` bytes of a file: zeros pad a file that shrank while it was read."""

    __slots__ = ("_fd", "_left")

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        wanted = self._left if size < 0 else min(size, self._left)
        chunks = []
        got = 0
        while got < wanted:
            chunk = os.read(self._fd, wanted - got)
            if not chunk:
                chunks.append(bytes(wanted - got))
                got = wanted
                break
            chunks.append(chunk)
            got += len(chunk)
        self._left -= got
        return b"".join(chunks)


class _TarOut:
    def __init__(
        self,
        out: WritableStream,
        *,
        where: str,
        exclude: frozenset[tuple[str, ...]] = frozenset(),
    ) -> None:
        self._writer = _BufferedCounter(out)
        self._where = where
        self._exclude = exclude
        self._links: dict[tuple[int, int], str] = {}
        self._archive = tarfile.TarFile(
            fileobj=self._writer,  # type: ignore[arg-type]
            mode="w",
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
            errors="surrogateescape",
            copybufsize=_BUFFER,
        )

    def __enter__(self) -> _TarOut:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._archive.close()
                self._writer.flush()
            except OSError as error:
                raise EngineFailure(f"cannot archive {self._where}: {error}") from error

    def add(
        self, parent: int, name: str, tar_name: str, parts: tuple[str, ...], st: os.stat_result
    ) -> None:
        """Archive the object ``name`` in the directory ``parent`` as ``tar_name``."""
        try:
            if stat.S_ISDIR(st.st_mode):
                self.add_dir(os.open(name, DIR_FLAGS, dir_fd=parent), tar_name, parts)
            else:
                self._add_entry(parent, name, tar_name, st)
        except OSError as exc:
            raise EngineFailure(f"cannot archive {self._where}: {exc.strerror or exc}") from exc

    def add_dir(self, fd: int, tar_name: str, parts: tuple[str, ...]) -> None:
        """Archive the directory ``fd`` (taken over) and everything below it."""
        try:
            st = os.fstat(fd)
            info = member_info(tar_name, st)
            info.type = tarfile.DIRTYPE
            info.pax_headers = xattr_headers(fd)
            self._archive.addfile(info)
        except BaseException:
            os.close(fd)
            raise
        if parts in self._exclude:
            os.close(fd)
            return
        self.add_contents(fd, tar_name + "/", parts)

    def add_contents(self, fd: int, prefix: str, parts: tuple[str, ...]) -> None:
        """Archive what is in the directory ``fd`` (taken over), names prefixed."""
        # An explicit stack: a container's tree can be deeper than Python's recursion limit.
        stack: list[_Frame] = []
        try:
            stack.append(_frame(fd, prefix, parts))
        except BaseException:
            os.close(fd)
            raise
        try:
            while stack:
                dir_fd, dir_prefix, dir_parts, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    os.close(dir_fd)
                    stack.pop()
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted while we read: it is not part of the archive
                name = dir_prefix + entry.name
                child_parts = (*dir_parts, entry.name)
                if not stat.S_ISDIR(st.st_mode):
                    self._add_entry(dir_fd, entry.name, name, st)
                    continue
                try:
                    child = os.open(entry.name, DIR_FLAGS, dir_fd=dir_fd)
                except FileNotFoundError:
                    continue
                try:
                    info = member_info(name, os.fstat(child))
                    info.type = tarfile.DIRTYPE
                    info.pax_headers = xattr_headers(child)
                    self._archive.addfile(info)
                except BaseException:
                    os.close(child)
                    raise
                if child_parts in self._exclude:
                    os.close(child)
                    continue
                try:
                    stack.append(_frame(child, name + "/", child_parts))
                except BaseException:
                    os.close(child)
                    raise
        except OSError as exc:
            raise EngineFailure(f"cannot archive {self._where}: {exc.strerror or exc}") from exc
        finally:
            for dir_fd, _, _, _ in stack:
                os.close(dir_fd)

    def _add_entry(self, parent: int, base: str, name: str, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self._links.get(key)
            if first is not None:
                info = member_info(name, st)
                info.type = tarfile.LNKTYPE
                info.linkname = first
                self._archive.addfile(info)
                return
            self._links[key] = name
        if stat.S_ISREG(mode):
            try:
                fd = os.open(base, _FILE_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                return
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    return  # swapped for something else after we listed it
                info = member_info(name, st)
                info.size = st.st_size
                info.pax_headers = xattr_headers(fd)
                self._archive.addfile(info, _SizedReader(fd, st.st_size))  # type: ignore[arg-type]
            finally:
                os.close(fd)
            return
        info = member_info(name, st)
        if stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            try:
                info.linkname = os.readlink(base, dir_fd=parent)
            except OSError:
                return  # replaced by a non-link meanwhile
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor = os.major(st.st_rdev)
            info.devminor = os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            return
        # No f*xattr on a symlink or device without opening it: go through the parent's fd.
        info.pax_headers = xattr_headers(f"/proc/self/fd/{parent}/{base}")
        self._archive.addfile(info)


def _frame(fd: int, prefix: str, parts: tuple[str, ...]) -> _Frame:
    with os.scandir(fd) as scan:
        entries = sorted(scan, key=lambda e: os.fsencode(e.name))
    return fd, prefix, parts, iter(entries)
