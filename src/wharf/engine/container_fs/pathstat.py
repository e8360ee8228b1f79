"""stat_path and PathStat: what ``HEAD``/``GET /containers/{id}/archive`` say about a path.

Imports: stdlib, ``wharf.errdefs``, ``container_fs.rootdir``.

Docker sends the stat in the ``X-Docker-Container-Path-Stat`` header as base64 (standard
alphabet) of ``{"name", "size", "mode", "mtime", "linkTarget"}``, where ``mode`` is Go's
``os.FileMode`` (permission bits plus type flags in the high bits: dir 1<<31, symlink 1<<27,
device 1<<26, named pipe 1<<25, socket 1<<24, setuid 1<<23, setgid 1<<22, char device 1<<21,
sticky 1<<20), ``mtime`` is RFC 3339 with nanoseconds (trailing zeros dropped, local zone) and
``linkTarget`` is, for a symlink, the absolute path it resolves to inside the container.

Resolution follows Docker's ``ResolvePath``: the parent is resolved inside the rootfs, the
last component is not followed unless the path ends in ``/`` or ``/.``.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from wharf.engine.container_fs.rootdir import CleanPath, Located, RootDir, clean_path
from wharf.errdefs import InvalidArgument, NotFound

__all__ = ["ContainerPathNotFound", "PathStat", "go_file_mode", "stat_path"]

GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20


class ContainerPathNotFound(NotFound):
    """A path that does not exist in the container. The container service re-raises it
    with the container's name: ``Could not find the file /x in container c``."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Could not find the file {path} in container")
        self.path = path


def go_file_mode(st_mode: int) -> int:
    """``st_mode`` as Go's ``os.FileMode`` (what Docker puts in the ``mode`` field)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    if kind == stat.S_IFDIR:
        mode |= GO_MODE_DIR
    elif kind == stat.S_IFLNK:
        mode |= GO_MODE_SYMLINK
    elif kind == stat.S_IFBLK:
        mode |= GO_MODE_DEVICE
    elif kind == stat.S_IFCHR:
        mode |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE
    elif kind == stat.S_IFIFO:
        mode |= GO_MODE_NAMED_PIPE
    elif kind == stat.S_IFSOCK:
        mode |= GO_MODE_SOCKET
    if st_mode & stat.S_ISUID:
        mode |= GO_MODE_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_MODE_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_MODE_STICKY
    return mode


def rfc3339_nano(mtime_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in the local zone."""
    seconds, nanos = divmod(mtime_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds).astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    if fraction:
        text += "." + fraction
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    if minutes == 0:
        return text + "Z"
    sign = "+" if minutes > 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


@dataclass(frozen=True, slots=True)
class PathStat:
    name: str
    size: int
    mode: int
    """Go ``os.FileMode`` bits (see ``go_file_mode``)."""
    mtime_ns: int
    link_target: str = ""

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & GO_MODE_DIR)

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "mode": self.mode,
            "mtime": rfc3339_nano(self.mtime_ns),
            "linkTarget": self.link_target,
        }

    def header_value(self) -> str:
        """The ``X-Docker-Container-Path-Stat`` header."""
        return base64.b64encode(json.dumps(self.to_wire()).encode()).decode("ascii")


def stat_path(rootfs: Path, path: str) -> PathStat:
    """Stat ``path`` inside the container whose root filesystem is ``rootfs``."""
    clean = parse_path(path)
    with RootDir(rootfs) as root:
        located = locate_path(root, clean)
        try:
            return path_stat(root, clean, located, located.lstat())
        finally:
            located.close()


def parse_path(path: str) -> CleanPath:
    try:
        return clean_path(path)
    except ValueError as exc:
        raise InvalidArgument(f"invalid path {path!r}: {exc}") from exc


def locate_path(root: RootDir, clean: CleanPath) -> Located:
    """Resolve as Docker's ``ResolvePath`` and check the object exists (and is a directory
    when the path ends in ``/``); errors become typed ones naming ``clean.text``."""
    try:
        located = root.locate(clean.parts, follow_final=clean.follow_final)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ContainerPathNotFound(clean.text) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgument(f"{clean.text}: too many levels of symbolic links") from exc
        raise
    if clean.follow_final and located.name is not None:
        try:
            found = located.lstat()
        except BaseException:
            located.close()
            raise
        if not stat.S_ISDIR(found.st_mode):
            located.close()
            raise ContainerPathNotFound(clean.text)
    return located


def path_stat(root: RootDir, clean: CleanPath, located: Located, st: os.stat_result) -> PathStat:
    link_target = ""
    if stat.S_ISLNK(st.st_mode):
        link_target = _link_target(root, located)
    return PathStat(
        name=clean.base,
        size=st.st_size,
        mode=go_file_mode(st.st_mode),
        mtime_ns=st.st_mtime_ns,
        link_target=link_target,
    )


def _link_target(root: RootDir, located: Located) -> str:
    """Where a symlink leads inside the container (Docker evaluates it fully, in scope); a
    dangling or looping link reports the path as far as it could be resolved."""
    try:
        target = root.locate(located.parts, follow_final=True, must_exist=False)
    except OSError:
        assert located.name is not None
        text = os.readlink(located.name, dir_fd=located.parent)
        if not text.startswith("/"):
            text = "/".join((*located.parts[:-1], text))
        return "/" + "/".join(clean_path(text).parts)
    try:
        return "/" + "/".join(target.parts)
    finally:
        target.close()
