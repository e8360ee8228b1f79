"""Directory trees the builder writes into: scoped path resolution and safe tar extraction.

Imports: stdlib, ``wharf.errdefs``, ``wharf.archive.compression`` (gzip/zstd sniffing and
streams), ``wharf.archive.members`` (tar metadata onto files).

``scoped_path(root, rel)`` resolves ``rel`` as a process chroot'ed into ``root`` would (Go's
securejoin, BuildKit's ``fs.RootPath``): every symlink met is read and its target resolved
again inside ``root``; an absolute target restarts at ``root`` and ``..`` stops there. Missing
components are taken as written. The result is always ``root`` or a path below it, so a write
to it cannot land outside ``root`` as long as nobody swaps a directory for a symlink
meanwhile; the builder writes into a step's own snapshot, where no process runs while it does.

``extract_tar`` (and ``extract_context`` for build contexts) applies a tar under the same rule:

- entry names are cleaned; a leading ``/`` is dropped and a ``..`` that climbs above the target
  is refused (``InvalidArgument``);
- parents are resolved with ``scoped_path`` (an archive's own symlinks and those already in the
  target are followed inside the target) and created 0755 when missing;
- the entry itself is never followed: an existing entry is replaced, except directory over
  directory, which merges (Docker's ``Unpack`` rule);
- files are created ``O_EXCL|O_NOFOLLOW``; symlink targets are data; hardlink targets are
  resolved inside the target and must exist; device nodes only when the caller allows them;
- a truncated or corrupt tar (or compressed stream) raises ``InvalidArgument`` and leaves a
  partial target for the caller to discard. Directory modes and times are set last, so a
  read-only directory does not stop its own children from being written.

Build contexts and ADD archives may be plain tar, gzip, bzip2, xz or zstd (``open_archive``).
"""

from __future__ import annotations

import bz2
import errno
import lzma
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, cast

from wharf.archive.compression import (
    PrefixedStream,
    ReadableStream,
    detect_compression,
    open_decompressed,
)
from wharf.archive.members import (
    apply_metadata_at,
    apply_metadata_fd,
    member_times,
    member_xattrs,
    strict_members,
)
from wharf.archive.members import set_xattr as _set_xattr
from wharf.errdefs import EngineFailure, InvalidArgument, WharfError

__all__ = [
    "container_path",
    "extract_context",
    "extract_tar",
    "make_dirs",
    "open_archive",
    "scoped_path",
]

MAX_SYMLINK_HOPS = 255  # securejoin's limit
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_SNIFF = 6
_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

Owner = tuple[int, int]


def scoped_path(root: Path, rel: str, *, follow_final: bool) -> Path:
    """``rel`` (slash path; a leading ``/`` means ``root``) resolved inside ``root``.

    With ``follow_final`` false a symlink in the last component is left as it is (the path
    names the link itself); symlinks in parents are always followed.
    """
    pending = rel.split("/")
    pending.reverse()
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        if not follow_final and all(p in ("", ".") for p in pending):
            resolved.append(part)
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        except OSError as exc:
            raise _os_error(f"cannot resolve {rel}", exc) from exc
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise InvalidArgument(f"cannot resolve {rel}: too many levels of symbolic links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        more = target.split("/")
        more.reverse()
        pending.extend(more)
    return root.joinpath(*resolved)


def container_path(root: Path, real: Path) -> str:
    """The absolute slash path that ``real`` (at or below ``root``) has inside ``root``."""
    rel = os.path.relpath(real, root)
    return "/" if rel == "." else "/" + rel


def make_dirs(
    root: Path,
    rel: str,
    *,
    owner: Owner | None,
    mode: int = 0o755,
    created: list[Path] | None = None,
) -> Path:
    """Resolve the directory ``rel`` inside ``root`` and create what is missing of it.

    New directories get ``mode`` and ``owner`` (the process's own when None) and are appended
    to ``created``, outermost first. Returns the real directory path. A component that exists
    and is not a directory raises ``InvalidArgument`` ("mkdir /x: not a directory").
    """
    path = scoped_path(root, rel, follow_final=True)
    missing: list[str] = []
    current = path
    while True:
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            if current == root:
                raise EngineFailure(f"directory {root} does not exist") from None
            missing.append(current.name)
            current = current.parent
            continue
        except NotADirectoryError:
            missing.append(current.name)
            current = current.parent
            continue
        except OSError as exc:
            raise _os_error(f"cannot create directory {rel}", exc) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"mkdir {container_path(root, current)}: not a directory")
        break
    for name in reversed(missing):
        current = current / name
        try:
            os.mkdir(current, 0o700)
        except FileExistsError:
            if not current.is_dir():
                raise InvalidArgument(
                    f"mkdir {container_path(root, current)}: not a directory"
                ) from None
            continue
        except OSError as exc:
            where = container_path(root, current)
            raise _os_error(f"cannot create directory {where}", exc) from exc
        fd = os.open(current, _DIR_FLAGS)
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        if created is not None:
            created.append(current)
    return path


def open_archive(stream: ReadableStream) -> ReadableStream:
    """The uncompressed bytes of a tar that may be gzip, bzip2, xz or zstd compressed."""
    head = b""
    while len(head) < _SNIFF:
        chunk = stream.read(_SNIFF - len(head))
        if not chunk:
            break
        head += chunk
    source = PrefixedStream(head, stream)
    if head.startswith(_BZIP2_MAGIC):
        return _Checked(bz2.BZ2File(cast("IO[bytes]", source)), "bzip2")
    if head.startswith(_XZ_MAGIC):
        return _Checked(lzma.LZMAFile(cast("IO[bytes]", source)), "xz")
    return open_decompressed(source, detect_compression(head))


def extract_context(tar_stream: BinaryIO, target: Path) -> None:
    """Unpack a build context tar (maybe compressed) into ``target`` (created if missing).

    Files get the daemon's own uid/gid (COPY sets ownership anyway); device nodes are refused.
    """
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(f"cannot create build context directory {target}", exc) from exc
    own = (os.geteuid(), os.getegid())
    extract_tar(
        open_archive(tar_stream),
        target,
        owner=own,
        implicit_owner=None,
        allow_devices=False,
        what="build context",
    )


def extract_tar(
    stream: ReadableStream,
    target: Path,
    *,
    owner: Owner | None,
    implicit_owner: Owner | None,
    allow_devices: bool,
    what: str,
) -> list[Path]:
    """Apply the uncompressed tar read from ``stream`` to the existing directory ``target``.

    Entries are owned by ``owner``, or by the uid/gid the tar records when None; parents the
    tar does not list are created with ``implicit_owner`` (None: the process's own). Returns
    the real paths written, in tar order. ``what`` names the tar in error messages.
    """
    untar = _Untar(target, owner, implicit_owner, allow_devices, what)
    try:
        archive = tarfile.open(  # noqa: SIM115 (closing it would close nothing of ours)
            fileobj=cast("IO[bytes]", _ReadOnly(stream)),
            mode="r|",
            errors="surrogateescape",
        )
    except tarfile.ReadError as exc:
        if str(exc) == "empty file":
            return []  # Go's tar reader sees a clean end; so does Docker
        raise InvalidArgument(f"invalid {what}: {exc}") from exc
    for member in strict_members(archive, what):
        untar.apply(member, archive)
    untar.finish()
    return untar.written


class _Untar:
    def __init__(
        self,
        target: Path,
        owner: Owner | None,
        implicit_owner: Owner | None,
        allow_devices: bool,
        what: str,
    ) -> None:
        self.target = target
        self.owner = owner
        self.implicit_owner = implicit_owner
        self.allow_devices = allow_devices
        self.what = what
        self.written: list[Path] = []
        self._dirs: dict[Path, tarfile.TarInfo] = {}

    def apply(self, member: tarfile.TarInfo, archive: tarfile.TarFile) -> None:
        parts = self._parts(member.name)
        if not parts:
            if not member.isdir():
                raise InvalidArgument(f"invalid {self.what}: {member.name!r} replaces the root")
            return  # Docker leaves an existing target's own metadata alone
        try:
            parent = make_dirs(self.target, "/".join(parts[:-1]), owner=self.implicit_owner)
            self._apply(parent, parts[-1], member, archive)
        except WharfError:
            raise
        except tarfile.TarError as exc:
            raise InvalidArgument(f"invalid {self.what}: {exc}") from exc
        except (EOFError, lzma.LZMAError) as exc:
            raise InvalidArgument(f"invalid {self.what}: corrupt compressed stream") from exc
        except OSError as exc:
            raise _os_error(f"cannot extract {member.name} from {self.what}", exc) from exc

    def _parts(self, name: str) -> list[str]:
        parts: list[str] = []
        for part in name.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise InvalidArgument(
                        f"invalid {self.what}: {name!r} is outside of the target directory"
                    )
                parts.pop()
                continue
            parts.append(part)
        return parts

    def _owner(self, member: tarfile.TarInfo) -> Owner:
        return self.owner if self.owner is not None else (member.uid, member.gid)

    def _apply(
        self, parent: Path, name: str, member: tarfile.TarInfo, archive: tarfile.TarFile
    ) -> None:
        path = parent / name
        existing = _lstat(path)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    _remove(path, existing)
                os.mkdir(path, 0o700)
            fd = os.open(path, _DIR_FLAGS)
            try:
                os.fchown(fd, *self._owner(member))
                for key, value in member_xattrs(member):
                    _set_xattr(fd, key, value, follow_symlinks=True)
            finally:
                os.close(fd)
            self._dirs[path] = member  # mode and times at the end
        elif member.isreg():
            if existing is not None:
                _remove(path, existing)
            fd = os.open(path, _FILE_FLAGS, 0o600)
            try:
                source = archive.extractfile(member) if member.size else None
                if source is not None:
                    while chunk := source.read(_CHUNK):
                        _write_all(fd, chunk)
                apply_metadata_fd(fd, member, self._owner(member))
            finally:
                os.close(fd)
        elif member.issym():
            if existing is not None:
                _remove(path, existing)
            os.symlink(member.linkname, path)
            self._metadata_at(parent, name, member, symlink=True)
        elif member.islnk():
            self._hardlink(path, existing, member)
        elif member.ischr() or member.isblk() or member.isfifo():
            if not member.isfifo() and not self.allow_devices:
                raise InvalidArgument(f"invalid {self.what}: {member.name!r} is a device node")
            if existing is not None:
                _remove(path, existing)
            if member.isfifo():
                os.mkfifo(path, 0o600)
            else:
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            self._metadata_at(parent, name, member, symlink=False)
        else:
            raise InvalidArgument(
                f"invalid {self.what}: unsupported entry type {member.type!r} for {member.name}"
            )
        self.written.append(path)

    def _hardlink(
        self, path: Path, existing: os.stat_result | None, member: tarfile.TarInfo
    ) -> None:
        link = self._parts(member.linkname)
        source = scoped_path(self.target, "/".join(link), follow_final=False) if link else None
        found = None if source is None else _lstat(source)
        if source is None or found is None or stat.S_ISDIR(found.st_mode):
            raise InvalidArgument(
                f"invalid {self.what}: hardlink {member.name} points to missing or directory "
                f"{member.linkname}"
            )
        if existing is not None:
            if (existing.st_dev, existing.st_ino) == (found.st_dev, found.st_ino):
                return
            _remove(path, existing)
        os.link(source, path, follow_symlinks=False)

    def _metadata_at(
        self, parent: Path, name: str, member: tarfile.TarInfo, *, symlink: bool
    ) -> None:
        fd = os.open(parent, _DIR_FLAGS)
        try:
            apply_metadata_at(fd, name, member, self._owner(member), symlink=symlink)
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Directory modes and times, now that nothing more is written into them."""
        for path, member in self._dirs.items():
            try:
                fd = os.open(path, _DIR_FLAGS)
            except OSError:
                continue  # replaced by a later entry of the same tar
            try:
                os.fchmod(fd, member.mode & 0o7777)
                os.utime(fd, ns=member_times(member))
            finally:
                os.close(fd)


class _ReadOnly:
    """The file-object surface tarfile's stream mode needs, over a plain ``read``."""

    __slots__ = ("_source",)

    def __init__(self, source: ReadableStream) -> None:
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        return self._source.read(size)

    def close(self) -> None:
        pass


class _Checked:
    """Turns a bz2/lzma reader's own errors into ``InvalidArgument``."""

    __slots__ = ("_name", "_read")

    def __init__(self, reader: bz2.BZ2File | lzma.LZMAFile, name: str) -> None:
        self._read: Callable[[int], bytes] = reader.read
        self._name = name

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._read(size)
        except (EOFError, lzma.LZMAError) as exc:
            raise InvalidArgument(f"corrupt {self._name} stream: unexpected end of data") from exc
        except OSError as exc:
            if exc.errno is None:  # bz2's "Invalid data stream"
                raise InvalidArgument(f"corrupt {self._name} stream: {exc}") from exc
            raise


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _remove(path: Path, existing: os.stat_result) -> None:
    if stat.S_ISDIR(existing.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _os_error(what: str, exc: OSError) -> WharfError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP):
        return InvalidArgument(f"{what}: {reason}")
    return EngineFailure(f"{what}: {reason}")
