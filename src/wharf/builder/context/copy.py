"""COPY and ADD into a root filesystem, with Docker's destination rules.

Imports: stdlib, ``wharf.errdefs``, ``wharf.archive.members``/``whiteouts`` (xattr rules),
``builder.context.sources`` (``Source``) and ``builder.context.tree`` (scoped resolution,
directory creation, safe extraction).

Destination rules (Docker's; where the classic builder and BuildKit differ, BuildKit's):

- a relative ``dest`` is relative to ``workdir``; ``dest`` names a directory when it ends with
  ``/`` (or is ``.``/ends with ``/.``), when the caller says so (``dest_is_dir_hint``) or when it
  already is a directory in the root (symlinks followed inside the root). Several sources need
  such a directory, or ``When using COPY with more than one source file, the destination must
  be a directory and end with a /`` is raised (BuildKit also accepts an existing directory);
- a source directory copies its *contents* into the destination directory (created 0755, or
  ``chmod``, when missing; an existing one keeps its own metadata); a source file goes to
  ``<dest>/<basename of the source as written>`` for a directory destination, else to ``dest``
  itself (a symlink there is followed inside the root, as Docker does);
- missing parents are created 0755; everything written is owned by ``owner`` (the resolved
  ``--chown``) or 0:0, keeps its permission bits unless ``chmod`` (files and directories, not
  symlinks), keeps its times, and symlinks stay symlinks; hardlinks between copied files stay
  hardlinks; xattrs are copied (never overlayfs' own nor SELinux labels);
- an existing non-directory is replaced; a directory in the way of a file is an error
  (``cannot replace to directory <p> with file``), as is a non-directory in the way of a
  directory (``cannot copy to non-directory: <p>``); an existing symlink where a directory goes
  is followed when it leads (inside the root) to a directory;
- ADD (``expand_archives``) unpacks a local source that is a tar (plain, gzip, bzip2, xz or
  zstd, told by content, never by name) into the destination directory, as a process
  chroot'ed into that directory would (so the archive's own symlinks stay inside it); entries
  keep the archive's uid/gid unless ``owner`` is given, and ``chmod`` does not apply.

Every path written is resolved with ``tree.scoped_path`` against ``rootfs`` and created with
``O_NOFOLLOW``/``O_EXCL``: a symlink in the image (``/app -> /etc``) or in the context is
followed inside ``rootfs``, never out of it. Directory modes and times are set last.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path

from wharf.archive.members import SKIPPED_XATTRS, set_xattr
from wharf.archive.whiteouts import is_overlay_xattr
from wharf.builder.context.sources import Source
from wharf.builder.context.tree import (
    container_path,
    extract_tar,
    make_dirs,
    open_archive,
    scoped_path,
)
from wharf.errdefs import EngineFailure, InvalidArgument, WharfError

__all__ = ["copy_sources", "is_archive", "normalize_dest", "write_heredoc_file"]

_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)
_ROOT_OWNER = (0, 0)
HEREDOC_MODE = 0o644


def copy_sources(
    sources: Sequence[Source],
    rootfs: Path,
    dest: str,
    *,
    workdir: str,
    owner: tuple[int, int] | None,
    chmod: int | None,
    dest_is_dir_hint: bool,
    expand_archives: bool = False,
) -> list[str]:
    """Copy ``sources`` to ``dest`` inside ``rootfs`` (module docstring); return the container
    paths written (created parents, directories, files, links), in the order written."""
    command = "ADD" if expand_archives else "COPY"
    dest_path, dir_syntax = normalize_dest(dest, workdir)
    wants_dir = dir_syntax or dest_is_dir_hint
    copier = _Copier(rootfs, owner, chmod)
    try:
        if len(sources) > 1 and not wants_dir and not copier.is_dir(dest_path):
            raise InvalidArgument(
                f"When using {command} with more than one source file, the destination "
                "must be a directory and end with a /"
            )
        for source in sources:
            if source.is_dir:
                copier.copy_dir(source.path, dest_path)
            elif expand_archives and not source.from_url and is_archive(source.path):
                copier.unpack(source, dest_path)
            elif wants_dir or len(sources) > 1 or copier.is_dir(dest_path):
                copier.copy_file_into(source, dest_path)
            else:
                copier.copy_file_to(source.path, dest_path)
        copier.finish()
    except (WharfError, OSError) as exc:
        raise _wrap(exc, command) from exc
    return copier.written


def write_heredoc_file(
    rootfs: Path,
    dest: str,
    content: bytes,
    *,
    workdir: str,
    owner: tuple[int, int] | None,
    chmod: int | None,
    name: str = "EOF",
) -> str:
    """``COPY <<EOF /file``: write ``content`` as a file (0644 unless ``chmod``); a directory
    destination gets ``<dest>/<name>`` (``name`` is the heredoc's delimiter word). Returns
    the container path of the file."""
    dest_path, dir_syntax = normalize_dest(dest, workdir)
    copier = _Copier(rootfs, owner, chmod)
    try:
        if dir_syntax or copier.is_dir(dest_path):
            directory = make_dirs(rootfs, dest_path, owner=copier.owner, created=copier.created)
            path = directory / name
        else:
            path = copier.prepare_file_target(dest_path)
        copier.make_room_for_file(path)
        fd = os.open(path, _NEW_FILE, 0o600)
        try:
            _write_all(fd, content)
            os.fchown(fd, *copier.owner)
            os.fchmod(fd, HEREDOC_MODE if chmod is None else chmod)
        finally:
            os.close(fd)
    except (WharfError, OSError) as exc:
        raise _wrap(exc, "COPY") from exc
    return container_path(rootfs, path)


def normalize_dest(dest: str, workdir: str) -> tuple[str, bool]:
    """(absolute clean container path, whether ``dest`` is written as a directory)."""
    dir_syntax = dest in (".", "..") or dest.endswith(("/", "/.", "/.."))
    joined = dest if dest.startswith("/") else posixpath.join("/", workdir or "/", dest)
    return posixpath.normpath("/" + joined.lstrip("/")), dir_syntax


def is_archive(path: Path) -> bool:
    """True when the file starts with a valid tar header, maybe compressed (Docker's test)."""
    try:
        with open(path, "rb") as handle:
            stream = open_archive(handle)
            block = b""
            while len(block) < tarfile.BLOCKSIZE:
                chunk = stream.read(tarfile.BLOCKSIZE - len(block))
                if not chunk:
                    return False
                block += chunk
    except (WharfError, OSError, EOFError):
        return False
    try:
        tarfile.TarInfo.frombuf(block, tarfile.ENCODING, "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


class _Copier:
    """One COPY/ADD: the root, the ownership and mode rules, what was written, hardlinks seen
    and the directories whose mode and times are set at the end."""

    def __init__(self, rootfs: Path, owner: tuple[int, int] | None, chmod: int | None) -> None:
        self.rootfs = rootfs
        self.given_owner = owner
        self.owner = owner if owner is not None else _ROOT_OWNER
        self.chmod = chmod
        self.created: list[Path] = []
        self._written: list[Path] = []
        self._links: dict[tuple[int, int], Path] = {}
        self._dirs: dict[Path, tuple[int, int, int]] = {}

    @property
    def written(self) -> list[str]:
        return [container_path(self.rootfs, p) for p in self._flush()]

    def _flush(self) -> list[Path]:
        if self.created:
            self._written.extend(self.created)
            self.created.clear()
        return self._written

    def _record(self, path: Path) -> None:
        self._flush().append(path)

    def is_dir(self, dest_path: str) -> bool:
        return scoped_path(self.rootfs, dest_path, follow_final=True).is_dir()

    # -- top level -------------------------------------------------------------------------

    def copy_dir(self, source: Path, dest_path: str) -> None:
        target = scoped_path(self.rootfs, dest_path, follow_final=True)
        existing = _lstat(target)
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise InvalidArgument(
                f"cannot copy to non-directory: {container_path(self.rootfs, target)}"
            )
        if existing is None:
            # The classic builder's MkdirAll: 0755 (or --chmod), never the mode of the
            # source root, which for a context is whatever directory the daemon unpacked into.
            make_dirs(
                self.rootfs,
                container_path(self.rootfs, target),
                owner=self.owner,
                mode=0o755 if self.chmod is None else self.chmod,
                created=self.created,
            )
        self._copy_tree(source, target)

    def copy_file_into(self, source: Source, dest_path: str) -> None:
        directory = make_dirs(self.rootfs, dest_path, owner=self.owner, created=self.created)
        name = posixpath.basename(source.rel.rstrip("/")) or source.path.name
        self._place(source.path, os.stat(source.path), directory / name)

    def copy_file_to(self, source: Path, dest_path: str) -> None:
        self._place(source, os.stat(source), self.prepare_file_target(dest_path))

    def prepare_file_target(self, dest_path: str) -> Path:
        if dest_path == "/":
            raise InvalidArgument("cannot replace to directory / with file")
        target = scoped_path(self.rootfs, dest_path, follow_final=True)
        make_dirs(
            self.rootfs,
            container_path(self.rootfs, target.parent),
            owner=self.owner,
            created=self.created,
        )
        return target

    def unpack(self, source: Source, dest_path: str) -> None:
        directory = make_dirs(self.rootfs, dest_path, owner=self.owner, created=self.created)
        self._flush()
        with open(source.path, "rb") as handle:
            paths = extract_tar(
                open_archive(handle),
                directory,
                owner=self.given_owner,
                implicit_owner=self.owner,
                allow_devices=True,
                what=f"archive {source.rel}",
            )
        self._written.extend(paths)

    # -- entries ---------------------------------------------------------------------------

    def _copy_tree(self, source: Path, target: Path) -> None:
        pending = [(source, target)]
        while pending:
            src_dir, dst_dir = pending.pop()
            with os.scandir(src_dir) as scan:
                entries = sorted(scan, key=lambda e: os.fsencode(e.name))
            subdirs: list[tuple[Path, Path]] = []
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                child = dst_dir / entry.name
                if stat.S_ISDIR(st.st_mode):
                    source_dir = Path(entry.path)
                    subdirs.append((source_dir, self._merge_dir(child, source_dir, st)))
                else:
                    self._place(Path(entry.path), st, child)
            pending.extend(reversed(subdirs))  # depth first, in name order

    def _merge_dir(self, path: Path, source: Path, st: os.stat_result) -> Path:
        existing = _lstat(path)
        if existing is None:
            self._new_dir(path, source, st)
            return path
        if stat.S_ISDIR(existing.st_mode):
            os.lchown(path, *self.owner)
            self._defer_dir(path, st)
            self._record(path)
            return path
        if stat.S_ISLNK(existing.st_mode):
            followed = scoped_path(
                self.rootfs, container_path(self.rootfs, path), follow_final=True
            )
            if followed.is_dir():
                return followed
        raise InvalidArgument(f"cannot copy to non-directory: {container_path(self.rootfs, path)}")

    def _new_dir(self, path: Path, source: Path, st: os.stat_result) -> None:
        os.mkdir(path, 0o700)
        fd = os.open(path, _DIR_FLAGS)
        try:
            os.fchown(fd, *self.owner)
            _copy_xattrs(source, fd)
        finally:
            os.close(fd)
        self._defer_dir(path, st)
        self._record(path)

    def _defer_dir(self, path: Path, st: os.stat_result) -> None:
        mode = stat.S_IMODE(st.st_mode) if self.chmod is None else self.chmod
        self._dirs[path] = (mode, st.st_atime_ns, st.st_mtime_ns)

    def make_room_for_file(self, path: Path) -> None:
        existing = _lstat(path)
        if existing is None:
            return
        if stat.S_ISDIR(existing.st_mode):
            raise InvalidArgument(
                f"cannot replace to directory {container_path(self.rootfs, path)} with file"
            )
        os.unlink(path)

    def _place(self, source: Path, st: os.stat_result, path: Path) -> None:
        """Write the non-directory ``source`` (described by ``st``) at ``path``."""
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFSOCK:
            return  # sockets are not copied, as in Docker
        self.make_room_for_file(path)
        times = (st.st_atime_ns, st.st_mtime_ns)
        mode = stat.S_IMODE(st.st_mode) if self.chmod is None else self.chmod
        if kind == stat.S_IFREG:
            key = (st.st_dev, st.st_ino)
            first = self._links.get(key) if st.st_nlink > 1 else None
            if first is not None and _lstat(first) is not None:
                os.link(first, path, follow_symlinks=False)
            else:
                self._copy_file(source, path, mode, times)
                if st.st_nlink > 1:
                    self._links[key] = path
        elif kind == stat.S_IFLNK:
            os.symlink(os.readlink(source), path)
            os.lchown(path, *self.owner)
            os.utime(path, ns=times, follow_symlinks=False)
        else:
            if kind == stat.S_IFIFO:
                os.mkfifo(path, 0o600)
            else:
                os.mknod(path, kind | 0o600, st.st_rdev)
            fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                # O_PATH fds take no fchown/fchmod; the /proc link names exactly this node.
                node = f"/proc/self/fd/{fd}"
                os.chown(node, *self.owner)
                os.chmod(node, mode)
                os.utime(node, ns=times)
            finally:
                os.close(fd)
        self._record(path)

    def _copy_file(self, source: Path, path: Path, mode: int, times: tuple[int, int]) -> None:
        src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            dst = os.open(path, _NEW_FILE, 0o600)
            try:
                _copy_data(src, dst)
                os.fchown(dst, *self.owner)  # before chmod: chown clears setuid/setgid
                os.fchmod(dst, mode)
                _copy_xattrs(source, dst)
                os.utime(dst, ns=times)
            finally:
                os.close(dst)
        finally:
            os.close(src)

    def finish(self) -> None:
        for path, (mode, atime, mtime) in self._dirs.items():
            try:
                fd = os.open(path, _DIR_FLAGS)
            except OSError:
                continue
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(atime, mtime))
            finally:
                os.close(fd)
        self._flush()


def _copy_data(src: int, dst: int) -> None:
    try:
        while os.copy_file_range(src, dst, _CHUNK * 64):
            pass
        return
    except OSError as exc:
        if exc.errno not in _NO_COPY_RANGE:
            raise
    # Both offsets advanced by what was copied; go on from there.
    while chunk := os.read(src, _CHUNK):
        _write_all(dst, chunk)


def _copy_xattrs(source: Path, fd: int) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if is_overlay_xattr(name) or name in SKIPPED_XATTRS:
            continue
        try:
            value = os.getxattr(source, name, follow_symlinks=False)
        except OSError:
            continue
        set_xattr(fd, name, value, follow_symlinks=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _wrap(exc: WharfError | OSError, command: str) -> WharfError:
    if isinstance(exc, WharfError):
        return exc
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP):
        return InvalidArgument(f"{command} failed:{where}: {reason}")
    return EngineFailure(f"{command} failed:{where}: {reason}")
