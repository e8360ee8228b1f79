"""Resolve ``--user`` (``name``, ``uid``, ``name:group``, ``uid:gid``) against a container's rootfs.

Imports: stdlib and ``wharf.errdefs`` only.

Rules (runc's ``GetExecUser``, which Docker uses):

- ``""`` means uid 0; the user part matches a passwd entry by name, or by uid when numeric.
  A numeric uid or gid needs no entry: with none, the gid stays 0.
- A matched passwd entry gives the gid; its supplementary groups are the group entries that
  list the user's name, unless a group was given explicitly (then that group alone).
- An unknown name: ``unable to find user NAME: no matching entries in passwd file`` (and the
  same for groups with ``group file``), InvalidArgument. Ids must be in 0..2147483647.

Safety invariant: ``etc/passwd`` and ``etc/group`` are read *as if chroot'ed* into the rootfs.
Every component is opened relative to a directory fd with ``O_NOFOLLOW``; symlinks are read
and walked by hand inside the root (an absolute target restarts at the root, ``..`` stops at
it), so an image whose ``/etc/passwd`` points at ``/etc/shadow`` or ``../../../etc/passwd``
reads the rootfs' own file, never the host's. Only regular files are read (a FIFO cannot
hang us), and at most ``MAX_FILE_SIZE`` bytes.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from wharf.errdefs import InvalidArgument

MAX_ID = 2**31 - 1
MAX_FILE_SIZE = 16 << 20
MAX_SYMLINKS = 40


class ExecUser(NamedTuple):
    """Unpacks as ``uid, gid, additional_gids = resolve_user(...)``."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


def parse_passwd(text: str) -> list[PasswdEntry]:
    """Entries of a passwd file; comments, blank and malformed lines are skipped, as libc does."""
    entries = []
    for fields in _lines(text):
        if len(fields) < 4:
            continue
        uid, gid = _int_or_none(fields[2]), _int_or_none(fields[3])
        if uid is None or gid is None:
            continue
        home = fields[5] if len(fields) > 5 else ""
        shell = fields[6] if len(fields) > 6 else ""
        entries.append(PasswdEntry(fields[0], uid, gid, home, shell))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    """Entries of a group file, same tolerance as ``parse_passwd``."""
    entries = []
    for fields in _lines(text):
        if len(fields) < 3:
            continue
        gid = _int_or_none(fields[2])
        if gid is None:
            continue
        members = tuple(m for m in fields[3].split(",") if m) if len(fields) > 3 else ()
        entries.append(GroupEntry(fields[0], gid, members))
    return entries


def resolve_user(rootfs: Path, user: str, *, group_add: Sequence[str] = ()) -> ExecUser:
    """The ids the container's process runs with for ``--user user`` (see the module rules).
    ``group_add`` (``--group-add``) names or numbers extra groups, appended last."""
    user_part, _, group_part = user.partition(":")
    user_num = _parse_id(user_part, "uid") if user_part else None
    group_num = _parse_id(group_part, "gid") if group_part else None
    passwd = parse_passwd(_read_text(rootfs, "/etc/passwd"))
    if not user_part:
        match = next((p for p in passwd if p.uid == 0), None)
    elif user_num is not None:
        match = next((p for p in passwd if p.uid == user_num), None)
    else:
        match = next((p for p in passwd if p.name == user_part), None)
        if match is None:
            raise InvalidArgument(
                f"unable to find user {user_part}: no matching entries in passwd file"
            )
    uid = match.uid if match is not None else (user_num or 0)
    gid = match.gid if match is not None else 0

    groups: list[GroupEntry] | None = None
    sgids: list[int] = []
    if group_part or match is not None or group_add:
        groups = parse_group(_read_text(rootfs, "/etc/group"))
    if group_part:
        assert groups is not None
        gid = _find_group(groups, group_part, group_num)
    elif match is not None and groups is not None:
        sgids = [g.gid for g in groups if match.name in g.members]
    for extra in group_add:
        assert groups is not None
        sgids.append(_find_group(groups, extra, _parse_id(extra, "gid", strict=False)))
    return ExecUser(uid, gid, tuple(dict.fromkeys(sgids)))


def _find_group(groups: list[GroupEntry], name: str, number: int | None) -> int:
    if number is not None:
        return number
    for entry in groups:
        if entry.name == name:
            return entry.gid
    raise InvalidArgument(f"unable to find group {name}: no matching entries in group file")


def _parse_id(text: str, what: str, *, strict: bool = True) -> int | None:
    """A number when ``text`` is all digits (range-checked), else None (a name)."""
    if not text.isdigit() or not text.isascii():
        if strict and text.startswith("-") and text[1:].isdigit():
            raise InvalidArgument(
                f"invalid {what} {text}: uids and gids must be in range 0-{MAX_ID}"
            )
        return None
    value = int(text)
    if value > MAX_ID:
        raise InvalidArgument(f"invalid {what} {text}: uids and gids must be in range 0-{MAX_ID}")
    return value


def _lines(text: str) -> Iterator[list[str]]:
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        yield line.split(":")


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and text.isascii() else None


# ---- reading a file inside a root, as if chroot'ed --------------------------------------


def _read_text(rootfs: Path, path: str) -> str:
    data = read_file_in_root(rootfs, path)
    return "" if data is None else data.decode("utf-8", errors="replace")


def read_file_in_root(rootfs: Path, path: str, *, limit: int = MAX_FILE_SIZE) -> bytes | None:
    """The contents of ``path`` as a process chroot'ed into ``rootfs`` would see it; None when
    it does not exist or is not a regular file. Symlink loops raise InvalidArgument."""
    try:
        fd = _open_in_root(rootfs, path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    if fd is None:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _open_in_root(rootfs: Path, path: str) -> int | None:
    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack: list[int] = [root_fd]  # fds of the directories walked, root first
    try:
        todo = deque(p for p in path.split("/") if p)
        links = 0
        while todo:
            name = todo.popleft()
            if name == ".":
                continue
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise InvalidArgument(
                        f"too many levels of symbolic links resolving {path} in the container"
                    )
                target = os.readlink(name, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo.extendleft(reversed([p for p in target.split("/") if p]))
                continue
            if todo:
                if not stat.S_ISDIR(st.st_mode):
                    return None
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                stack.append(os.open(name, flags, dir_fd=stack[-1]))
                continue
            if not stat.S_ISREG(st.st_mode):
                return None
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            return os.open(name, flags, dir_fd=stack[-1])
        return None
    finally:
        for fd in stack:
            os.close(fd)
