"""Tar member metadata, both ways: headers made from files (``member_info``,
``xattr_headers``) and metadata applied to extracted ones (owner, mode, xattrs, nanosecond
times parsed from PAX text). Xattrs travel as PAX ``SCHILY.xattr.*``, never the overlay's own
nor SELinux labels. Shared by layers (``archive.create``/``extract``) and ``docker cp``
(``engine.container_fs``). Also the strict reading every tar consumer shares: member
names as root-relative components (``entry_parts``) and stream-mode members where a tar cut
short is an error (``strict_members``). Imports: stdlib, ``wharf.errdefs``,
``archive.whiteouts``.
"""

from __future__ import annotations

import errno
import lzma
import os
import stat
import tarfile
from collections.abc import Iterator

from wharf.archive.whiteouts import is_overlay_xattr
from wharf.errdefs import InvalidArgument

IGNORED_XATTR_ERRNOS = (errno.ENOTSUP, errno.EPERM)
XATTR_PREFIX = "SCHILY.xattr."
# Labels belong to the host that wrote the file, not to the image.
SKIPPED_XATTRS = frozenset({"security.selinux"})


def set_xattr(target: int | str, name: str, value: bytes, *, follow_symlinks: bool) -> None:
    try:
        os.setxattr(target, name, value, follow_symlinks=follow_symlinks)
    except OSError as exc:
        if exc.errno not in IGNORED_XATTR_ERRNOS:
            raise


def member_xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PREFIX):
            name = key[len(XATTR_PREFIX) :]
            if name and not is_overlay_xattr(name):
                # tarfile decodes PAX values with surrogateescape; this restores the bytes
                # of binary values such as security.capability.
                found.append((name, value.encode("utf-8", "surrogateescape")))
    return found


def member_times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in nanoseconds; PAX times are parsed from text, not via float."""
    mtime = pax_time_ns(member.pax_headers.get("mtime"))
    if mtime is None:
        mtime = int(member.mtime) * 1_000_000_000
    atime = pax_time_ns(member.pax_headers.get("atime"))
    return (mtime if atime is None else atime), mtime


def pax_time_ns(text: str | None) -> int | None:
    if not text:
        return None
    negative = text.startswith("-")
    seconds, _, fraction = text.lstrip("+-").partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        return None
    value = int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])
    return -value if negative else value


def apply_metadata_fd(fd: int, member: tarfile.TarInfo, owner: tuple[int, int]) -> None:
    """Owner, mode, xattrs and (for non-directories) times of an extracted file or dir."""
    os.fchown(fd, *owner)
    os.fchmod(fd, member.mode & 0o7777)
    for name, value in member_xattrs(member):
        set_xattr(fd, name, value, follow_symlinks=True)
    if not member.isdir():
        os.utime(fd, ns=member_times(member))


def apply_metadata_at(
    parent: int, name: str, member: tarfile.TarInfo, owner: tuple[int, int], *, symlink: bool
) -> None:
    """The same for an entry opened by no fd (symlink, device, fifo), never following it."""
    os.chown(name, *owner, dir_fd=parent, follow_symlinks=False)
    if not symlink:
        # The node was just created by mknod/mkfifo, so following it is safe; Linux has
        # no fchmodat(AT_SYMLINK_NOFOLLOW) before 6.6 anyway.
        os.chmod(name, member.mode & 0o7777, dir_fd=parent)
    xattrs = member_xattrs(member)
    if xattrs:
        # No *xattrat syscall before Linux 6.13: /proc/self/fd/N resolves to exactly the
        # parent directory, and follow_symlinks=False stops at the entry itself.
        path = f"/proc/self/fd/{parent}/{name}"
        for key, value in xattrs:
            set_xattr(path, key, value, follow_symlinks=False)
    os.utime(name, ns=member_times(member), dir_fd=parent, follow_symlinks=False)


def member_info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    """A header with a file's mode, numeric owner and whole-second mtime (no names)."""
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = st.st_uid
    info.gid = st.st_gid
    info.uname = ""
    info.gname = ""
    info.mtime = st.st_mtime_ns // 1_000_000_000
    return info


def xattr_headers(target: int | str) -> dict[str, str]:
    """PAX headers for a file's xattrs, sorted; an fd is followed, a path is not."""
    follow = isinstance(target, int)
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError:
        return {}
    headers: dict[str, str] = {}
    for name in sorted(names):
        if is_overlay_xattr(name) or name in SKIPPED_XATTRS:
            continue
        try:
            value = os.getxattr(target, name, follow_symlinks=follow)
        except OSError:
            continue
        # tarfile re-encodes with surrogateescape under hdrcharset=BINARY, so binary
        # values (security.capability) survive the round trip.
        headers[XATTR_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return headers


def entry_parts(name: str) -> tuple[str, ...] | None:
    """A tar entry name as components relative to the root (``()`` is the root itself), with
    ``.`` and ``..`` resolved lexically; None when ``..`` would climb above the root."""
    parts: list[str] = []
    for component in name.split("/"):
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(component)
    return tuple(parts)


def strict_members(archive: tarfile.TarFile, what: str) -> Iterator[tarfile.TarInfo]:
    """The members of a stream-mode archive, strictly; errors read ``invalid <what>: ...``.

    ``TarFile.next`` treats a missing end-of-archive block, a truncated header or a bad
    checksum after the first member as a clean end; a tar cut short must not read as a
    smaller valid one. This loop reads headers itself and accepts only a zero block as the
    end. It keeps no list of members (``TarFile.members`` grows without bound).
    """
    try:
        first = archive.next()  # already read by TarFile's constructor, with strict errors
    except (tarfile.TarError, EOFError, lzma.LZMAError) as exc:
        raise InvalidArgument(f"invalid {what}: {exc}") from exc
    if first is None:
        return
    yield first
    stream = archive.fileobj
    assert stream is not None
    while True:
        try:
            stream.seek(archive.offset)  # skip what the consumer did not read, and padding
            member = tarfile.TarInfo.fromtarfile(archive)
        except tarfile.EOFHeaderError:  # type: ignore[attr-defined]
            return
        except (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError) as exc:  # type: ignore[attr-defined]
            raise InvalidArgument(f"invalid {what}: unexpected end of data") from exc
        except tarfile.TarError as exc:
            raise InvalidArgument(f"invalid {what}: {exc}") from exc
        except (EOFError, lzma.LZMAError) as exc:
            raise InvalidArgument(f"invalid {what}: corrupt compressed stream") from exc
        yield member
