"""Apply a layer tar to a directory: the unpack half of every pull, load and build.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.archive.whiteouts``.

``apply_layer`` reads an *uncompressed* tar stream once, in order (tarfile stream mode), and
returns its DiffID: the sha256 of exactly the bytes read, trailing padding after the
end-of-archive block included.

Safety rules (the target is treated as if the process were chroot'ed into it, Docker's rule):

- Entry names are normalised: leading ``/`` and ``./`` are dropped, ``a/../b`` is ``b``; a name
  whose ``..`` climbs above the root is refused (``InvalidArgument``).
- The kernel never follows a symlink on our behalf. Parents are walked one component at a
  time with ``openat(O_DIRECTORY|O_NOFOLLOW)`` from a directory fd of the target. When a
  parent component is a symlink (one the layer created, or in DELETE mode one of the lower
  layers), we read it and walk its target ourselves *inside* the root: an absolute target
  restarts at the root and ``..`` stops there, exactly what a chroot'ed extractor would see.
  A parent that exists but is neither a directory nor a symlink is an error. Missing parents
  are created (0755, root-owned unless the tar says otherwise later).
- The entry itself is never followed: an existing non-directory (or a directory, when the
  entry is not one) is removed and replaced; directory over directory merges metadata.
- Symlink targets are data and may point anywhere. Hardlink targets are resolved under the
  same rules as entry names and must already exist inside the target.
- Files are created with ``O_CREAT|O_EXCL|O_NOFOLLOW``; metadata is set on the new fd, or
  with ``*at`` calls that do not follow the final component.

Metadata kept: uid/gid (numeric), mode with setuid/setgid/sticky (set after chown, which
clears them), mtime/atime in nanoseconds (PAX times are parsed exactly), PAX
``SCHILY.xattr.*`` (except overlayfs' own ``trusted.overlay.*``/``user.overlay.*``, which a
layer must not forge; ENOTSUP/EPERM from the filesystem are ignored, as Docker does), device
numbers, fifos, hardlinks, symlinks. Directory times are set after all their children exist.

Whiteouts (see ``whiteouts``): in OVERLAY mode ``.wh.<name>`` becomes a char device 0:0 and
``.wh..wh..opq`` the xattr ``trusted.overlay.opaque=y``; a directory entry replacing a
whiteout device becomes opaque. In DELETE mode they delete from the target what lower layers
put there; entries of the same layer are spared (whiteouts only affect lower layers). A
bare ``.wh.`` is invalid. Other ``.wh..wh.*`` names (aufs bookkeeping) are skipped.

A truncated or corrupt tar raises ``InvalidArgument`` ("invalid layer tar: ...") and leaves a
partial target, which the caller discards; it never leaves anything outside the target.
Filesystem failures (ENOSPC, EIO) raise ``EngineFailure``.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from wharf.archive.compression import ReadableStream
from wharf.archive.members import (
    apply_metadata_at,
    apply_metadata_fd,
    entry_parts,
    member_times,
    strict_members,
)
from wharf.archive.whiteouts import (
    OPAQUE_MARKER,
    OVERLAY_OPAQUE_VALUE,
    OVERLAY_OPAQUE_XATTR,
    WHITEOUT_META_PREFIX,
    WHITEOUT_PREFIX,
    WhiteoutMode,
)
from wharf.errdefs import EngineFailure, InvalidArgument, WharfError
from wharf.oci.digest import Digest, Digester

__all__ = ["AppliedLayer", "WhiteoutMode", "apply_layer", "normalise_entry_name"]

# tarfile's stream buffer. Measured: larger ones do not speed up big files (hashing
# dominates) and slow down small ones (every header read re-slices the buffer).
_TAR_BUFSIZE = tarfile.RECORDSIZE
_COPY_CHUNK = 1 << 20
_MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS
_DIR_CACHE_SIZE = 256
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_UNEXPECTED_END = "invalid layer tar: unexpected end of data"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AppliedLayer:
    """What applying a layer measured: its DiffID and the uncompressed tar size in bytes."""

    diff_id: Digest
    size: int


def apply_layer(
    stream: ReadableStream, target: Path, *, whiteouts: WhiteoutMode = WhiteoutMode.OVERLAY
) -> AppliedLayer:
    """Unpack the uncompressed layer tar read from ``stream`` into the directory ``target``.

    ``target`` is created if missing. See the module docstring for the safety rules.
    """
    reader = _HashingReader(stream)
    try:
        target.mkdir(parents=True, exist_ok=True)
        extractor = _Extractor(target, whiteouts)
    except OSError as exc:
        raise EngineFailure(f"cannot unpack a layer into {target}: {exc.strerror}") from exc
    try:
        with _open_stream(reader) as archive:
            for member in strict_members(archive, "layer tar"):
                extractor.apply(member, archive)
        try:
            extractor.finish()
        except OSError as exc:
            raise EngineFailure(f"cannot set directory times in {target}: {exc}") from exc
    finally:
        extractor.close()
    reader.drain()
    return AppliedLayer(reader.digest(), reader.size)


def normalise_entry_name(name: str, *, what: str = "entry") -> tuple[str, ...]:
    """The components of a tar entry name relative to the root; ``()`` is the root itself.

    Raises InvalidArgument when ``..`` would climb above the root.
    """
    parts = entry_parts(name)
    if parts is None:
        raise InvalidArgument(f"layer tar {what} escapes the root: {name}")
    return parts


class _HashingReader:
    """Hashes and counts every byte handed to tarfile, so the DiffID covers the whole tar."""

    __slots__ = ("_digester", "_source")

    def __init__(self, source: ReadableStream) -> None:
        self._source = source
        self._digester = Digester()

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self._digester.update(data)
        return data

    # The rest of tarfile's file-object protocol; stream mode never calls these.
    def write(self, data: bytes, /) -> int:
        raise OSError("read-only stream")

    def seek(self, pos: int, /) -> int:
        raise OSError("unseekable stream")

    def tell(self) -> int:
        return self._digester.size

    def close(self) -> None:
        pass

    def drain(self) -> None:
        while self.read(_COPY_CHUNK):
            pass

    @property
    def size(self) -> int:
        return self._digester.size

    def digest(self) -> Digest:
        return self._digester.digest()


def _open_stream(reader: _HashingReader) -> tarfile.TarFile:
    try:
        return tarfile.open(
            fileobj=reader, mode="r|", bufsize=_TAR_BUFSIZE, errors="surrogateescape"
        )
    except tarfile.ReadError as exc:
        reason = str(exc)
        if reason in ("empty file", "truncated header"):
            raise InvalidArgument(_UNEXPECTED_END) from exc
        raise InvalidArgument(f"invalid layer tar: {reason}") from exc


class _Extractor:
    """Per-layer extraction state: the root fd, a cache of parent-directory fds, deferred
    directory times and, in DELETE mode, the paths this layer created."""

    def __init__(self, target: Path, mode: WhiteoutMode) -> None:
        self._mode = mode
        self._root = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # Requested path -> fd of the directory it resolved to. Entries are mostly sorted,
        # so consecutive entries share a parent and pay no lookups. Fds handed out stay
        # valid until the next entry starts (eviction and invalidation only happen there).
        self._cache: dict[tuple[str, ...], int] = {}
        self._stale = False
        self._dir_times: dict[tuple[str, ...], tuple[int, int]] = {}
        self._unpacked: set[tuple[str, ...]] = set()

    def close(self) -> None:
        self._drop_cache()
        os.close(self._root)

    # -- entries -------------------------------------------------------------------------

    def apply(self, member: tarfile.TarInfo, archive: tarfile.TarFile) -> None:
        if self._stale or len(self._cache) > _DIR_CACHE_SIZE:
            self._drop_cache()
        parts = normalise_entry_name(member.name)
        try:
            self._apply(parts, member, archive)
        except WharfError:
            raise
        except tarfile.ReadError as exc:
            raise InvalidArgument(_UNEXPECTED_END) from exc
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise InvalidArgument(f"layer tar entry name too long: {member.name}") from exc
            raise EngineFailure(
                f"cannot extract layer entry {member.name}: {exc.strerror or exc}"
            ) from exc

    def _apply(
        self, parts: tuple[str, ...], member: tarfile.TarInfo, archive: tarfile.TarFile
    ) -> None:
        if not parts:
            if not member.isdir():
                raise InvalidArgument(f"layer tar entry {member.name!r} replaces the root")
            self._set_metadata_fd(self._root, member)
            self._dir_times[()] = member_times(member)
            return
        base = parts[-1]
        if (base.startswith(WHITEOUT_META_PREFIX) and base != OPAQUE_MARKER) or any(
            p.startswith(WHITEOUT_META_PREFIX) for p in parts[:-1]
        ):
            return
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parts, member)
            return
        parent = self._dir(parts[:-1], create=True)
        assert parent is not None
        if self._mode is WhiteoutMode.DELETE:
            # Prefixes too: parents this layer created implicitly are its own entries.
            self._unpacked.update(parts[:i] for i in range(1, len(parts) + 1))
        if member.isreg():
            self._make_file(parent, base, member, archive)
        elif member.isdir():
            self._make_dir(parts, parent, member)
        elif member.issym():
            if not member.linkname:
                raise InvalidArgument(f"layer tar symlink {member.name} has an empty target")
            linkname = member.linkname
            self._create(parent, base, lambda: os.symlink(linkname, base, dir_fd=parent))
            self._set_metadata_at(parent, base, member, symlink=True)
        elif member.islnk():
            self._make_hardlink(parts, parent, member)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            self._create(parent, base, lambda: os.mknod(base, kind | 0o600, device, dir_fd=parent))
            self._set_metadata_at(parent, base, member, symlink=False)
        elif member.isfifo():
            self._create(parent, base, lambda: os.mkfifo(base, 0o600, dir_fd=parent))
            self._set_metadata_at(parent, base, member, symlink=False)
        else:
            raise InvalidArgument(f"unsupported tar entry type {member.type!r} for {member.name}")

    def _make_file(
        self, parent: int, base: str, member: tarfile.TarInfo, archive: tarfile.TarFile
    ) -> None:
        fd = self._create(parent, base, lambda: os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent))
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

    def _make_dir(self, parts: tuple[str, ...], parent: int, member: tarfile.TarInfo) -> None:
        base = parts[-1]
        opaque = False
        try:
            os.mkdir(base, 0o700, dir_fd=parent)
        except FileExistsError:
            existing = _lstat(parent, base)
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                # A directory replacing this layer's whiteout of a lower one must hide the
                # lower directory's children: overlayfs does that for opaque directories only.
                opaque = self._mode is WhiteoutMode.OVERLAY and _is_whiteout_device(existing)
                self._remove(parent, base, existing)
                os.mkdir(base, 0o700, dir_fd=parent)
        fd = os.open(base, _DIR_FLAGS, dir_fd=parent)
        try:
            if opaque:
                os.setxattr(fd, OVERLAY_OPAQUE_XATTR, OVERLAY_OPAQUE_VALUE)
            self._set_metadata_fd(fd, member)
        except BaseException:
            os.close(fd)
            raise
        old = self._cache.pop(parts, None)
        if old is not None:
            os.close(old)  # only this directory's parent is in use by this entry
        self._cache[parts] = fd
        self._dir_times[parts] = member_times(member)

    def _make_hardlink(self, parts: tuple[str, ...], parent: int, member: tarfile.TarInfo) -> None:
        link = normalise_entry_name(member.linkname, what="hardlink")
        if not link:
            raise InvalidArgument(f"layer tar hardlink {member.name} points to the root")
        if link == parts:
            return
        source_parent = self._dir(link[:-1], create=False)
        source = None if source_parent is None else _lstat(source_parent, link[-1])
        if source is None or source_parent is None:
            raise InvalidArgument(
                f"layer tar hardlink {member.name} points to missing {member.linkname}"
            )
        if stat.S_ISDIR(source.st_mode):
            raise InvalidArgument(
                f"layer tar hardlink {member.name} points to a directory: {member.linkname}"
            )
        existing = _lstat(parent, parts[-1])
        if existing is not None:
            if (existing.st_dev, existing.st_ino) == (source.st_dev, source.st_ino):
                return
            self._remove(parent, parts[-1], existing)
        try:
            os.link(
                link[-1],
                parts[-1],
                src_dir_fd=source_parent,
                dst_dir_fd=parent,
                follow_symlinks=False,
            )
        except FileNotFoundError as exc:
            raise InvalidArgument(
                f"layer tar hardlink {member.name} points to missing {member.linkname}"
            ) from exc

    # -- whiteouts -----------------------------------------------------------------------

    def _whiteout(self, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        base = parts[-1]
        if base == OPAQUE_MARKER:
            self._opaque(parts[:-1])
            return
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise InvalidArgument(f"invalid whiteout entry in layer tar: {member.name}")
        victim = (*parts[:-1], name)
        if self._mode is WhiteoutMode.OVERLAY:
            parent = self._dir(parts[:-1], create=True)
            assert parent is not None
            if _lstat(parent, name) is not None:
                return  # this layer's own entry: whiteouts only hide lower layers
            os.mknod(name, stat.S_IFCHR | 0o600, os.makedev(0, 0), dir_fd=parent)
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
            return
        if victim in self._unpacked:
            return
        parent = self._dir(parts[:-1], create=False)
        if parent is None:
            return
        existing = _lstat(parent, name)
        if existing is not None:
            self._remove(parent, name, existing)

    def _opaque(self, directory: tuple[str, ...]) -> None:
        fd = self._dir(directory, create=True)
        assert fd is not None
        if self._mode is WhiteoutMode.OVERLAY:
            os.setxattr(fd, OVERLAY_OPAQUE_XATTR, OVERLAY_OPAQUE_VALUE)
            return
        for name in os.listdir(fd):
            if (*directory, name) not in self._unpacked:
                existing = _lstat(fd, name)
                if existing is not None:
                    self._remove(fd, name, existing)

    # -- directory walking ---------------------------------------------------------------

    def _dir(self, parts: tuple[str, ...], *, create: bool) -> int | None:
        """An fd of the directory ``parts`` resolves to inside the root, or None when it is
        missing and ``create`` is false. The fd belongs to the cache."""
        fd = self._cache.get(parts)
        if fd is None:
            fd = self._resolve(parts, create=create)
            if fd is not None:
                self._cache[parts] = fd
        return fd

    def _resolve(self, parts: tuple[str, ...], *, create: bool) -> int | None:
        pending = deque(parts)
        names: list[str] = []  # the resolved path, to restart from when a symlink is met
        fds: list[int] = []
        hops = 0
        try:
            while pending:
                component = pending.popleft()
                if component in ("", "."):
                    continue
                if component == "..":
                    if fds:  # ".." at the root stays at the root, as under chroot
                        names.pop()
                        os.close(fds.pop())
                    continue
                current = fds[-1] if fds else self._root
                try:
                    fd = os.open(component, _DIR_FLAGS, dir_fd=current)
                except FileNotFoundError:
                    if not create:
                        return None
                    os.mkdir(component, 0o700, dir_fd=current)
                    fd = os.open(component, _DIR_FLAGS, dir_fd=current)
                    os.fchmod(fd, 0o755)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    found = os.stat(component, dir_fd=current, follow_symlinks=False)
                    if not stat.S_ISLNK(found.st_mode):
                        if not create:
                            return None
                        where = "/".join((*names, component))
                        raise InvalidArgument(
                            f"layer tar entry {'/'.join(parts)}: parent {where} is not a directory"
                        ) from exc
                    hops += 1
                    if hops > _MAX_SYMLINK_HOPS:
                        raise InvalidArgument(
                            f"layer tar entry {'/'.join(parts)}: too many levels of symbolic links"
                        ) from exc
                    target = os.readlink(component, dir_fd=current)
                    restart = [] if target.startswith("/") else names
                    pending = deque([*restart, *target.split("/"), *pending])
                    names = []
                    while fds:
                        os.close(fds.pop())
                    continue
                names.append(component)
                fds.append(fd)
            return fds.pop() if fds else os.dup(self._root)
        finally:
            for fd in fds:
                os.close(fd)

    def _create(self, parent: int, name: str, make: Callable[[], _T]) -> _T:
        """Create with ``make``; if the name is taken (never followed), replace what is there.

        Trying first saves an lstat per entry: into a fresh snapshot, nothing is ever there.
        """
        try:
            return make()
        except FileExistsError:
            existing = _lstat(parent, name)
            if existing is not None:
                self._remove(parent, name, existing)
            return make()

    def _remove(self, parent: int, name: str, existing: os.stat_result) -> None:
        if stat.S_ISDIR(existing.st_mode):
            shutil.rmtree(name, dir_fd=parent)
        else:
            os.unlink(name, dir_fd=parent)
        # Cached fds may now name removed directories or paths that went through a removed
        # symlink; they stay open until this entry is done, then the cache is rebuilt.
        self._stale = True

    def _drop_cache(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()
        self._stale = False

    # -- metadata ------------------------------------------------------------------------

    def _set_metadata_fd(self, fd: int, member: tarfile.TarInfo) -> None:
        apply_metadata_fd(fd, member, (member.uid, member.gid))

    def _set_metadata_at(
        self, parent: int, name: str, member: tarfile.TarInfo, *, symlink: bool
    ) -> None:
        apply_metadata_at(parent, name, member, (member.uid, member.gid), symlink=symlink)

    def finish(self) -> None:
        """Set directory times last: creating children changed them."""
        self._drop_cache()
        for parts, times in self._dir_times.items():
            if not parts:
                os.utime(self._root, ns=times)
                continue
            parent = self._dir(parts[:-1], create=False)
            if parent is None:
                continue
            found = _lstat(parent, parts[-1])
            if found is not None and stat.S_ISDIR(found.st_mode):
                os.utime(parts[-1], ns=times, dir_fd=parent, follow_symlinks=False)


def _lstat(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _is_whiteout_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
