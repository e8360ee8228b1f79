"""Tar member metadata applied to extracted files: xattrs (PAX ``SCHILY.xattr.*``, never the
overlay's own) and nanosecond times parsed from PAX text. Shared by layer extraction and by
``docker cp`` extraction into containers. Imports: stdlib and ``archive.whiteouts``.
"""

from __future__ import annotations

import errno
import os
import tarfile

from wharf.archive.whiteouts import is_overlay_xattr

IGNORED_XATTR_ERRNOS = (errno.ENOTSUP, errno.EPERM)
XATTR_PREFIX = "SCHILY.xattr."


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
