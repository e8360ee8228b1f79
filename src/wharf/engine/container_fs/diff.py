"""changes and commit_diff: what a container changed, from its overlay upper dir.

Imports: stdlib, ``wharf.archive`` (``write_tar``, whiteout names), ``wharf.oci.digest``.

The upper dir holds everything the container wrote: new and modified files (whole, copied
up), whiteouts (char devices 0:0) for what it deleted from the image, and directories marked
``trusted.overlay.opaque=y`` when it replaced a directory of the image wholesale. The lower
dirs are the image's layers, top first, in the same overlay format.

``changes`` (``docker diff``), walking the upper dir in byte order of names, parent first:

- an entry absent from the merged lower view is ``A`` (and so is everything below it);
- one present below is ``C``; a whiteout of something present below is ``D``;
- a directory present below is ``C`` when its mode or owner changed, when it became opaque, or
  when anything below it is reported: so the parents of every change show as ``C``, as Docker
  shows them, while a directory copied up only for an ignored path does not;
- for an opaque directory, what the image had there and the container does not is ``D``
  (Docker's overlay diff misses these deletions; the user did delete them).

"Present below" is decided the way overlayfs decides it: layers are searched top first, a
whiteout hides the name in every layer beneath, a non-directory hides lower directories of
the same name, and an opaque directory stops the search for its children.

Everything is read through fds opened with ``O_NOFOLLOW``; a container cannot redirect the
walk with symlinks.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wharf.archive.compression import WritableStream
from wharf.archive.create import write_tar
from wharf.archive.whiteouts import OVERLAY_OPAQUE_VALUE, OVERLAY_OPAQUE_XATTR
from wharf.engine.container_fs.rootdir import DIR_FLAGS, clean_path
from wharf.errdefs import EngineFailure
from wharf.oci.digest import Digest

__all__ = ["Change", "ChangeKind", "changes", "commit_diff"]


class ChangeKind(enum.Enum):
    """The kinds of ``GET /containers/{id}/changes``; values are Docker's ``Kind`` numbers."""

    MODIFIED = 0
    ADDED = 1
    DELETED = 2

    @property
    def letter(self) -> str:
        return "CAD"[self.value]


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    path: str

    def to_wire(self) -> dict[str, object]:
        return {"Path": self.path, "Kind": self.kind.value}


def commit_diff(upper: Path, out: WritableStream) -> Digest:
    """Write the layer tar of a container's changes (its upper dir, whiteouts as ``.wh.``
    entries) to ``out``; return its DiffID."""
    return write_tar(upper, out, overlay_whiteouts=True)


def changes(
    upper: Path, lower_dirs: Sequence[Path], *, ignore: Collection[str] = ()
) -> list[Change]:
    """What the container with ``upper`` over ``lower_dirs`` (top first) changed.

    ``ignore`` names container paths that are not the user's doing (mount points the runtime
    made, such as ``/etc/hostname``); they and everything below them are left out.
    """
    ignored = frozenset(clean_path(p).parts for p in ignore)
    try:
        return _Walk(upper, lower_dirs, ignored).run()
    except OSError as exc:
        raise EngineFailure(f"cannot read the changes in {upper}: {exc.strerror or exc}") from exc


@dataclass(slots=True)
class _Frame:
    fd: int
    parts: tuple[str, ...]
    lowers: list[int]
    entries: list[tuple[str, bool]]  # (name, only a deletion visible from below)
    placeholder: int | None  # index of this directory's own "C" slot in the results
    changed: bool = False
    position: int = field(default=0)

    def close(self) -> None:
        os.close(self.fd)
        for fd in self.lowers:
            os.close(fd)


class _Walk:
    def __init__(
        self, upper: Path, lower_dirs: Sequence[Path], ignored: frozenset[tuple[str, ...]]
    ):
        self._upper = upper
        self._lower_dirs = lower_dirs
        self._ignored = ignored
        self._results: list[Change | None] = []

    def run(self) -> list[Change]:
        root = os.open(self._upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        lowers: list[int] = []
        try:
            for path in self._lower_dirs:
                lowers.append(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        except BaseException:
            os.close(root)
            for fd in lowers:
                os.close(fd)
            raise
        stack = [self._frame(root, (), lowers, None, opaque=False)]
        try:
            while stack:
                frame = stack[-1]
                if frame.position == len(frame.entries):
                    stack.pop()
                    frame.close()
                    self._finish(frame, stack[-1] if stack else None)
                    continue
                name, deleted_below = frame.entries[frame.position]
                frame.position += 1
                child = self._visit(frame, name, deleted_below)
                if child is not None:
                    stack.append(child)
        finally:
            for frame in stack:
                frame.close()
        return [change for change in self._results if change is not None]

    def _frame(
        self,
        fd: int,
        parts: tuple[str, ...],
        lowers: list[int],
        placeholder: int | None,
        *,
        opaque: bool,
    ) -> _Frame:
        try:
            names = {entry: False for entry in os.listdir(fd)}
            if opaque:
                for name in _visible_names(lowers):
                    names.setdefault(name, True)
        except BaseException:
            os.close(fd)
            for lower in lowers:
                os.close(lower)
            raise
        entries = sorted(names.items(), key=lambda item: os.fsencode(item[0]))
        return _Frame(fd, parts, lowers, entries, placeholder)

    def _record(self, frame: _Frame, kind: ChangeKind, parts: tuple[str, ...]) -> None:
        self._results.append(Change(kind, "/" + "/".join(parts)))
        frame.changed = True

    def _visit(self, frame: _Frame, name: str, deleted_below: bool) -> _Frame | None:
        parts = (*frame.parts, name)
        if parts in self._ignored:
            return None
        if deleted_below:
            self._record(frame, ChangeKind.DELETED, parts)
            return None
        try:
            st = os.stat(name, dir_fd=frame.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None  # removed while we read
        below = _lookup(frame.lowers, name)
        if _is_whiteout(st):
            if below is not None:
                self._record(frame, ChangeKind.DELETED, parts)
            return None
        if not stat.S_ISDIR(st.st_mode):
            self._record(frame, ChangeKind.ADDED if below is None else ChangeKind.MODIFIED, parts)
            return None
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=frame.fd)
        except FileNotFoundError:
            return None
        if below is None or not stat.S_ISDIR(below.st_mode):
            kind = ChangeKind.ADDED if below is None else ChangeKind.MODIFIED
            self._record(frame, kind, parts)
            return self._frame(fd, parts, [], None, opaque=False)
        try:
            opaque = _is_opaque(fd)
            lowers = _descend(frame.lowers, name)
        except BaseException:
            os.close(fd)
            raise
        placeholder = len(self._results)
        self._results.append(None)
        child = self._frame(fd, parts, lowers, placeholder, opaque=opaque)
        child.changed = opaque or (st.st_mode, st.st_uid, st.st_gid) != (
            below.st_mode,
            below.st_uid,
            below.st_gid,
        )
        return child

    def _finish(self, frame: _Frame, parent: _Frame | None) -> None:
        if frame.placeholder is None or not frame.changed:
            return
        self._results[frame.placeholder] = Change(ChangeKind.MODIFIED, "/" + "/".join(frame.parts))
        if parent is not None:
            parent.changed = True


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OVERLAY_OPAQUE_XATTR) == OVERLAY_OPAQUE_VALUE
    except OSError:
        return False


def _lstat(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _lookup(lowers: list[int], name: str) -> os.stat_result | None:
    """What the merged lower layers show for ``name`` in this directory, if anything."""
    for fd in lowers:
        found = _lstat(fd, name)
        if found is None:
            continue
        return None if _is_whiteout(found) else found
    return None


def _descend(lowers: list[int], name: str) -> list[int]:
    """The lower directories that make up the merged lower view of ``name``, top first."""
    found: list[int] = []
    try:
        for fd in lowers:
            st = _lstat(fd, name)
            if st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break  # a whiteout or a file hides every lower layer's directory
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            found.append(child)
            if _is_opaque(child):
                break
    except BaseException:
        for fd in found:
            os.close(fd)
        raise
    return found


def _visible_names(lowers: list[int]) -> list[str]:
    """Names the merged lower layers show in this directory."""
    seen: set[str] = set()
    visible: list[str] = []
    for fd in lowers:
        for name in os.listdir(fd):
            if name in seen:
                continue
            seen.add(name)
            st = _lstat(fd, name)
            if st is not None and not _is_whiteout(st):
                visible.append(name)
    return visible
