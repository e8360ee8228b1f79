"""Write a directory tree as a deterministic PAX layer tar: the commit half of build and commit.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.archive.whiteouts``,
``wharf.archive.compression`` (for the stream protocol).

Invariants:
- The same tree gives the same bytes, hence the same DiffID: entries in byte order of their
  names, depth first (a directory before its contents); in each directory the opaque marker
  comes first, then the whiteouts, then the other entries; mtimes in whole seconds and no
  atime/ctime (as Docker writes layers); numeric owners only (empty uname/gname); xattrs in
  name order. The root directory itself is not an entry.
- The tree is read through directory fds with ``O_NOFOLLOW``, so a container that swaps a
  directory for a symlink while we read its upper dir cannot make us archive host files.
- Hardlinked non-directories (same device and inode) become one file entry and link entries
  pointing at the first name, in output order.
- With ``overlay_whiteouts`` the tree is an overlayfs upper dir: a char device 0:0 becomes a
  ``.wh.<name>`` entry (mode 0600, the device's owner and mtime) and
  ``trusted.overlay.opaque=y`` a ``.wh..wh..opq`` entry inside that directory.
- overlayfs' own xattrs (``trusted.overlay.*``, ``user.overlay.*``) and the host's
  ``security.selinux`` labels are never written; sockets are skipped, as Docker does.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

from wharf.archive.compression import WritableStream
from wharf.archive.members import member_info, xattr_headers
from wharf.archive.whiteouts import (
    OPAQUE_MARKER,
    OVERLAY_OPAQUE_VALUE,
    OVERLAY_OPAQUE_XATTR,
    WHITEOUT_PREFIX,
)
from wharf.errdefs import EngineFailure
from wharf.oci.digest import Digest, Digester

__all__ = ["write_tar"]

_BUFFER = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def write_tar(root: Path, out: WritableStream, *, overlay_whiteouts: bool = False) -> Digest:
    """Write the tree under ``root`` to ``out`` as a PAX tar; return its digest (DiffID)."""
    writer = _HashingWriter(out)
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise EngineFailure(f"cannot archive {root}: {exc.strerror or exc}") from exc
    try:
        # Mode "w" on our own buffered writer: tarfile's "w|" stream re-slices its buffer on
        # every write, which is quadratic in the size of large files.
        with tarfile.TarFile(
            fileobj=writer,
            mode="w",
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
            errors="surrogateescape",
            copybufsize=_BUFFER,
        ) as archive:
            _TreeWriter(archive, overlay_whiteouts).write_dir(root_fd, "")
        writer.flush()
    except OSError as exc:
        if exc.filename is None and "unexpected end of data" in str(exc):
            raise EngineFailure(f"a file under {root} changed while it was archived") from exc
        raise EngineFailure(f"cannot archive {root}: {exc.strerror or exc}") from exc
    finally:
        os.close(root_fd)
    return writer.digest()


class _HashingWriter:
    """Buffers small writes (tar headers) into large ones, hashes everything it passes on,
    and counts it for ``tell`` (tarfile asks once, at open)."""

    __slots__ = ("_buffer", "_digester", "_out")

    def __init__(self, out: WritableStream) -> None:
        self._out = out
        self._digester = Digester()
        self._buffer = bytearray()

    def write(self, data: bytes, /) -> int:
        self._digester.update(data)
        if len(data) >= _BUFFER:
            self.flush()
            self._out.write(data)
        else:
            self._buffer += data
            if len(self._buffer) >= _BUFFER:
                self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._out.write(bytes(self._buffer))
            self._buffer.clear()

    # The rest of tarfile's file-object protocol; mode "w" never calls these.
    def read(self, size: int, /) -> bytes:
        raise io.UnsupportedOperation("write-only stream")

    def seek(self, pos: int, /) -> int:
        raise io.UnsupportedOperation("unseekable stream")

    def tell(self) -> int:
        return self._digester.size

    def close(self) -> None:
        self.flush()

    def digest(self) -> Digest:
        return self._digester.digest()


class _TreeWriter:
    def __init__(self, archive: tarfile.TarFile, overlay_whiteouts: bool) -> None:
        self._archive = archive
        self._overlay = overlay_whiteouts
        self._links: dict[tuple[int, int], str] = {}

    def write_dir(self, root_fd: int, prefix: str) -> None:
        # An explicit stack instead of recursion: layer trees can be deeper than Python's
        # recursion limit. Each frame is (dir fd, its name prefix, its remaining entries).
        stack: list[tuple[int, str, Iterator[os.DirEntry[str]]]] = []
        self._open_frame(stack, os.dup(root_fd), prefix)
        try:
            while stack:
                dir_fd, dir_prefix, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    os.close(dir_fd)
                    stack.pop()
                    continue
                name = dir_prefix + entry.name
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=dir_fd)
                    try:
                        st = os.fstat(child)
                        info = member_info(name, st)
                        info.type = tarfile.DIRTYPE
                        info.pax_headers = xattr_headers(child)
                        self._archive.addfile(info)
                    except BaseException:
                        os.close(child)
                        raise
                    self._open_frame(stack, child, name + "/")
                else:
                    self._write_entry(dir_fd, entry.name, name, st)
        finally:
            for dir_fd, _, _ in stack:
                os.close(dir_fd)

    def _open_frame(
        self,
        stack: list[tuple[int, str, Iterator[os.DirEntry[str]]]],
        dir_fd: int,
        prefix: str,
    ) -> None:
        with os.scandir(dir_fd) as scan:
            entries = sorted(scan, key=lambda e: os.fsencode(e.name))
        if self._overlay:
            if _getxattr(dir_fd, OVERLAY_OPAQUE_XATTR) == OVERLAY_OPAQUE_VALUE:
                dir_stat = os.fstat(dir_fd)
                info = member_info(prefix + OPAQUE_MARKER, dir_stat)
                info.mode = stat.S_IMODE(dir_stat.st_mode) & 0o777
                self._archive.addfile(info)
            rest = []
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    info = member_info(prefix + WHITEOUT_PREFIX + entry.name, st)
                    info.mode = 0o600
                    self._archive.addfile(info)
                else:
                    rest.append(entry)
            entries = rest
        stack.append((dir_fd, prefix, iter(entries)))

    def _write_entry(self, dir_fd: int, base: str, name: str, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self._links.get(key)
            if first is not None:
                info = member_info(name, st)
                info.type = tarfile.LNKTYPE
                info.linkname = first
                self._archive.addfile(info)
                return
            self._links[key] = name
        if stat.S_ISREG(mode):
            fd = os.open(base, _FILE_FLAGS, dir_fd=dir_fd)
            with open(fd, "rb", buffering=0, closefd=True) as source:
                st = os.fstat(fd)
                info = member_info(name, st)
                info.size = st.st_size
                info.pax_headers = xattr_headers(fd)
                self._archive.addfile(info, source)
            return
        info = member_info(name, st)
        if stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(base, dir_fd=dir_fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor = os.major(st.st_rdev)
            info.devminor = os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            return
        # No f*xattr on a symlink or device without opening it: go through the parent's fd.
        info.pax_headers = xattr_headers(f"/proc/self/fd/{dir_fd}/{base}")
        self._archive.addfile(info)


def _getxattr(target: int, name: str) -> bytes | None:
    try:
        return os.getxattr(target, name)
    except OSError:
        return None
