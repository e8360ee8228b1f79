"""extract_to: unpack a tar into a directory of a container (``PUT /containers/{id}/archive``).

Imports: stdlib, ``wharf.archive.compression``, ``wharf.archive.whiteouts``, ``wharf.errdefs``,
``container_fs.rootdir``, ``container_fs.pathstat``.

Why not ``archive.extract.apply_layer``: a copy is not a layer. Names starting ``.wh.`` are
ordinary files here (Docker's plain ``Untar`` does not interpret whiteouts: a user copying a
``.wh..wh..opq`` must not wipe a directory), ``no_overwrite_dir_non_dir`` must refuse some
replacements, ownership may be forced to the container's user (``docker cp -a``), and the
destination is a path *inside* a container rather than a fresh directory.

Rules, as Docker's daemon applies them (it unpacks chroot'ed into the rootfs):

- The destination is resolved inside the rootfs, every symlink followed (also the last: one
  may extract into a symlink to a directory), and must be an existing directory.
- Entry names are relative to the destination; ``..`` climbing above it is refused
  (``InvalidArgument``), as is an entry replacing the destination with a non-directory.
- Parents are walked from the destination with the chroot rules of ``rootdir``: symlinks
  already in the container (``/tmp/evil -> /etc``) or made by earlier entries are followed
  *inside the rootfs*, so nothing lands outside it. Missing parents are made (0755).
- The entry itself is never followed: an existing non-directory (or a directory, for a
  non-directory entry) is removed and replaced; directory over directory merges metadata.
  With ``no_overwrite_dir_non_dir`` those two replacements are refused (``Conflict``).
- Hardlink targets are resolved like entry names (relative to the destination, never above
  it) and must exist. Symlink targets are data and are written as given.
- Ownership is the tar's numeric uid/gid, or ``owner`` for every entry when given. Mode bits
  (setuid/setgid/sticky after chown), nanosecond times from PAX records, xattrs (never
  overlayfs' own; ENOTSUP/EPERM ignored), devices and fifos are kept. Directory times are set
  last.
- The stream may be plain, gzip, zstd, bzip2 or xz (the API allows all of them). A truncated
  or corrupt tar raises ``InvalidArgument`` after extracting what came before it (Docker
  behaves the same); filesystem failures raise ``EngineFailure``.
"""

from __future__ import annotations

import bz2
import errno
import lzma
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, cast

from wharf.archive.compression import PrefixedStream, ReadableStream, open_auto
from wharf.archive.members import (
    apply_metadata_at,
    apply_metadata_fd,
    entry_parts,
    member_times,
    strict_members,
)
from wharf.engine.container_fs.pathstat import ContainerPathNotFound, parse_path
from wharf.engine.container_fs.rootdir import RootDir
from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, WharfError

__all__ = ["extract_to"]

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1 << 20
_DIR_CACHE_SIZE = 256
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_SNIFF = 6


def extract_to(
    rootfs: Path,
    path: str,
    stream: ReadableStream,
    *,
    no_overwrite_dir_non_dir: bool = False,
    owner: tuple[int, int] | None = None,
) -> None:
    """Unpack the tar read from ``stream`` into the directory ``path`` of ``rootfs``."""
    clean = parse_path(path)
    with RootDir(rootfs) as root:
        try:
            dest_fd, dest_parts = root.open_dir(clean.parts)
        except FileNotFoundError as exc:
            raise ContainerPathNotFound(clean.text) from exc
        except NotADirectoryError as exc:
            raise InvalidArgument("extraction point is not a directory") from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidArgument(f"{clean.text}: too many levels of symbolic links") from exc
            raise EngineFailure(f"cannot resolve {clean.text}: {exc.strerror}") from exc
        extractor = _Extractor(
            root, dest_fd, dest_parts, clean.text, no_overwrite_dir_non_dir, owner
        )
        try:
            with _open_tar(stream) as archive:
                for member in strict_members(archive, "tar archive"):
                    extractor.apply(member, archive)
            extractor.finish()
        finally:
            extractor.close()


def _decompressed(stream: ReadableStream) -> ReadableStream:
    head = b""
    while len(head) < _SNIFF:
        chunk = stream.read(_SNIFF - len(head))
        if not chunk:
            break
        head += chunk
    source = PrefixedStream(head, stream)
    if head.startswith(_BZIP2_MAGIC):
        return bz2.BZ2File(cast("IO[bytes]", source))
    if head.startswith(_XZ_MAGIC):
        return lzma.LZMAFile(cast("IO[bytes]", source))
    return open_auto(source)[1]


class _TarSource:
    """The file-object protocol tarfile wants, over a plain readable stream."""

    __slots__ = ("_count", "_source")

    def __init__(self, source: ReadableStream) -> None:
        self._source = source
        self._count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self._count += len(data)
        return data

    def write(self, data: bytes, /) -> int:
        raise OSError("read-only stream")

    def seek(self, pos: int, /) -> int:
        raise OSError("unseekable stream")

    def tell(self) -> int:
        return self._count

    def close(self) -> None:
        pass


def _open_tar(stream: ReadableStream) -> tarfile.TarFile:
    try:
        return tarfile.open(
            fileobj=_TarSource(_decompressed(stream)),
            mode="r|",
            errors="surrogateescape",
        )
    except (tarfile.ReadError, EOFError, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, WharfError):
            raise
        raise InvalidArgument(f"invalid tar archive: {exc}") from exc


def _entry_parts(name: str, where: str) -> tuple[str, ...]:
    parts = entry_parts(name)
    if parts is None:
        raise InvalidArgument(f"invalid tar entry {name!r}: it is outside of {where}")
    return parts


class _Extractor:
    def __init__(
        self,
        root: RootDir,
        dest_fd: int,
        dest_parts: tuple[str, ...],
        where: str,
        no_overwrite_dir_non_dir: bool,
        owner: tuple[int, int] | None,
    ) -> None:
        self._root = root
        self._dest = dest_fd
        self._dest_parts = dest_parts
        self._where = where
        self._no_overwrite = no_overwrite_dir_non_dir
        self._owner = owner
        # Entry parent (relative to the destination) -> fd of the directory it resolved to.
        self._cache: dict[tuple[str, ...], int] = {}
        self._stale = False
        self._dir_times: dict[tuple[str, ...], tuple[int, int]] = {}

    def close(self) -> None:
        self._drop_cache()
        os.close(self._dest)

    def apply(self, member: tarfile.TarInfo, archive: tarfile.TarFile) -> None:
        if self._stale or len(self._cache) > _DIR_CACHE_SIZE:
            self._drop_cache()
        parts = _entry_parts(member.name, self._where)
        try:
            self._apply(parts, member, archive)
        except WharfError:
            raise
        except tarfile.ReadError as exc:
            raise InvalidArgument("invalid tar archive: unexpected end of data") from exc
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise InvalidArgument(f"tar entry name too long: {member.name}") from exc
            if exc.errno == errno.ELOOP:
                raise InvalidArgument(
                    f"tar entry {member.name}: too many levels of symbolic links"
                ) from exc
            if exc.errno == errno.ENOTDIR:
                raise InvalidArgument(
                    f"tar entry {member.name}: a parent is not a directory"
                ) from exc
            raise EngineFailure(
                f"cannot extract {member.name} to {self._where}: {exc.strerror or exc}"
            ) from exc

    def _apply(
        self, parts: tuple[str, ...], member: tarfile.TarInfo, archive: tarfile.TarFile
    ) -> None:
        if not parts:
            if not member.isdir():
                raise InvalidArgument(
                    f"tar entry {member.name!r} would replace the directory {self._where}"
                )
            self._set_metadata_fd(self._dest, member)
            self._dir_times[()] = member_times(member)
            return
        parent = self._dir(parts[:-1])
        base = parts[-1]
        existing = _lstat(parent, base)
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            if is_dir and member.isdir():
                fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
                try:
                    self._set_metadata_fd(fd, member)
                finally:
                    os.close(fd)
                self._dir_times[parts] = member_times(member)
                return
            if self._no_overwrite and is_dir:
                raise Conflict(
                    f"cannot overwrite directory {_show(self._dest_parts, parts)}"
                    f" with non-directory {member.name}"
                )
            if self._no_overwrite and member.isdir():
                raise Conflict(
                    f"cannot overwrite non-directory {_show(self._dest_parts, parts)}"
                    f" with directory {member.name}"
                )
            if member.islnk() and self._same_as_link_target(member, existing):
                return
            self._remove(parent, base, existing)
        self._create(parts, parent, base, member, archive)

    def _create(
        self,
        parts: tuple[str, ...],
        parent: int,
        base: str,
        member: tarfile.TarInfo,
        archive: tarfile.TarFile,
    ) -> None:
        if member.isreg():
            fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent)
            try:
                if member.size:
                    source = archive.extractfile(member)
                    assert source is not None
                    while chunk := source.read(_COPY_CHUNK):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view) :]
                self._set_metadata_fd(fd, member)
            finally:
                os.close(fd)
        elif member.isdir():
            os.mkdir(base, 0o700, dir_fd=parent)
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            try:
                self._set_metadata_fd(fd, member)
            finally:
                os.close(fd)
            self._dir_times[parts] = member_times(member)
        elif member.issym():
            os.symlink(member.linkname, base, dir_fd=parent)
            self._set_metadata_at(parent, base, member, symlink=True)
        elif member.islnk():
            source_parent, source_name = self._link_source(member)
            try:
                os.link(
                    source_name,
                    base,
                    src_dir_fd=source_parent,
                    dst_dir_fd=parent,
                    follow_symlinks=False,
                )
            except FileNotFoundError as exc:
                raise InvalidArgument(
                    f"tar hardlink {member.name} points to missing {member.linkname}"
                ) from exc
            finally:
                os.close(source_parent)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            os.mknod(base, kind | 0o600, device, dir_fd=parent)
            self._set_metadata_at(parent, base, member, symlink=False)
        elif member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=parent)
            self._set_metadata_at(parent, base, member, symlink=False)
        else:
            raise InvalidArgument(f"unsupported tar entry type {member.type!r} for {member.name}")

    # -- hardlinks -----------------------------------------------------------------------

    def _link_source(self, member: tarfile.TarInfo) -> tuple[int, str]:
        """(fd of the parent, name) of a hardlink's target; the fd is the caller's."""
        link = _entry_parts(member.linkname, self._where)
        if not link:
            raise InvalidArgument(f"tar hardlink {member.name} points to the destination itself")
        try:
            fd, _ = self._root.open_dir((*self._dest_parts, *link[:-1]))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise InvalidArgument(
                f"tar hardlink {member.name} points to missing {member.linkname}"
            ) from exc
        found = _lstat(fd, link[-1])
        if found is None or stat.S_ISDIR(found.st_mode):
            os.close(fd)
            what = "missing" if found is None else "a directory:"
            raise InvalidArgument(f"tar hardlink {member.name} points to {what} {member.linkname}")
        return fd, link[-1]

    def _same_as_link_target(self, member: tarfile.TarInfo, existing: os.stat_result) -> bool:
        fd, name = self._link_source(member)
        try:
            source = _lstat(fd, name)
        finally:
            os.close(fd)
        return source is not None and (source.st_dev, source.st_ino) == (
            existing.st_dev,
            existing.st_ino,
        )

    # -- directories ---------------------------------------------------------------------

    def _dir(self, parts: tuple[str, ...]) -> int:
        """An fd (owned by the cache) of the directory an entry's parent resolves to."""
        if not parts:
            return self._dest
        fd = self._cache.get(parts)
        if fd is None:
            fd, _ = self._root.open_dir((*self._dest_parts, *parts), create=True)
            self._cache[parts] = fd
        return fd

    def _remove(self, parent: int, name: str, existing: os.stat_result) -> None:
        if stat.S_ISDIR(existing.st_mode):
            shutil.rmtree(name, dir_fd=parent)
        else:
            os.unlink(name, dir_fd=parent)
        # Cached fds may name removed directories or ones reached through a removed symlink.
        self._stale = True

    def _drop_cache(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()
        self._stale = False

    # -- metadata ------------------------------------------------------------------------

    def _ids(self, member: tarfile.TarInfo) -> tuple[int, int]:
        return self._owner if self._owner is not None else (member.uid, member.gid)

    def _set_metadata_fd(self, fd: int, member: tarfile.TarInfo) -> None:
        apply_metadata_fd(fd, member, self._ids(member))

    def _set_metadata_at(
        self, parent: int, name: str, member: tarfile.TarInfo, *, symlink: bool
    ) -> None:
        apply_metadata_at(parent, name, member, self._ids(member), symlink=symlink)

    def finish(self) -> None:
        """Set directory times last: creating children changed them."""
        self._drop_cache()
        try:
            for parts, times in self._dir_times.items():
                if not parts:
                    os.utime(self._dest, ns=times)
                    continue
                try:
                    parent = self._dir(parts[:-1])
                except OSError:
                    continue
                found = _lstat(parent, parts[-1])
                if found is not None and stat.S_ISDIR(found.st_mode):
                    os.utime(parts[-1], ns=times, dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise EngineFailure(f"cannot set directory times in {self._where}: {exc}") from exc


def _show(dest: tuple[str, ...], parts: tuple[str, ...]) -> str:
    return "/" + "/".join((*dest, *parts))


def _lstat(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
