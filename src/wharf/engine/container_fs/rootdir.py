"""RootDir: resolve container paths inside a directory as if chroot'ed into it.

Imports: stdlib only.

The root is a container's rootfs on the host: the overlay merged dir of a stopped container,
or ``/proc/<pid>/root`` of a running one (which also shows its volumes and tmpfs mounts).
Everything in it is under the container's control, so the kernel is never asked to follow a
symlink on our behalf:

- Paths are first cleaned lexically, as Docker cleans them (``/a/../b`` is ``/b``).
- Components are opened one at a time with ``openat(O_DIRECTORY|O_NOFOLLOW)`` from a held
  directory fd. A symlink is read and its target walked by hand: an absolute target restarts
  at the root, ``..`` pops the resolved path and stops at the root, at most 40 links. So no
  path, however crafted, resolves outside the root, and a directory swapped for a symlink
  while we walk is caught by ``O_NOFOLLOW`` and resolved by the same rules.
- ``..`` is applied to the *resolved* path (kernel semantics: ``link/..`` is the parent of the
  link's target), and never by opening ``..``, so a directory moved out from under us cannot
  lead above the root.

Only the final component may stay unfollowed (``follow_final=False``): callers that archive,
stat or replace "the thing at this path" see a symlink as a symlink.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["Located", "RootDir", "clean_path"]

MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class CleanPath:
    """A container path after lexical cleaning.

    ``parts`` are the components below the root; ``follow_final`` is true when the path ends
    in ``/`` or ``/.`` (or is the root): Docker then resolves the last symlink too.
    ``base`` is Go's ``filepath.Base`` of the cleaned path with its trailing ``/.`` kept:
    ``"."`` for ``/a/.``, ``"a"`` for ``/a/``, ``"/"`` for the root.
    """

    text: str
    parts: tuple[str, ...]
    follow_final: bool
    base: str


def clean_path(path: str) -> CleanPath:
    """Clean ``path`` (relative paths are taken from the root) the way Docker does."""
    if "\0" in path:
        raise ValueError("path contains a NUL byte")
    cleaned = posixpath.normpath("/" + path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    parts = tuple(p for p in cleaned.split("/") if p)
    dot = path.endswith("/.") or path == "."
    slash = path.endswith("/")
    if not parts:
        return CleanPath("/." if dot else "/", (), True, "." if dot else "/")
    if dot:
        return CleanPath(cleaned + "/.", parts, True, ".")
    if slash:
        return CleanPath(cleaned + "/", parts, True, parts[-1])
    return CleanPath(cleaned, parts, False, parts[-1])


@dataclass(frozen=True, slots=True)
class Located:
    """Where a path landed: the directory fd ``parent`` (owned by the caller, who closes it)
    holds ``name``; ``name`` is None when the path is the root itself (``parent`` is then the
    root). ``parts`` is the canonical path inside the root, free of symlinks and ``..``."""

    parent: int
    name: str | None
    parts: tuple[str, ...]

    def lstat(self) -> os.stat_result:
        if self.name is None:
            return os.fstat(self.parent)
        return os.stat(self.name, dir_fd=self.parent, follow_symlinks=False)

    def close(self) -> None:
        os.close(self.parent)


class RootDir:
    """A directory fd treated as ``/``; use as a context manager (it holds one fd)."""

    def __init__(self, path: Path) -> None:
        # The root itself is followed on purpose: /proc/<pid>/root is a magic link.
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RootDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def locate(
        self,
        parts: Sequence[str],
        *,
        follow_final: bool,
        create_parents: bool = False,
        must_exist: bool = True,
    ) -> Located:
        """Resolve ``parts`` inside the root.

        Raises FileNotFoundError for a missing component (a missing final one only when
        ``must_exist``), NotADirectoryError when a parent is not a directory, and
        OSError(ELOOP) past 40 symlinks. ``create_parents`` makes missing parent directories
        (0755, owned by the caller's uid/gid).
        """
        pending = deque(parts)
        names: list[str] = []
        fds: list[int] = []  # fds[i] is the directory names[: i + 1]
        hops = 0
        try:
            while pending:
                component = pending.popleft()
                if component in ("", "."):
                    continue
                if component == "..":
                    if names:
                        names.pop()
                        os.close(fds.pop())
                    continue
                current = fds[-1] if fds else self.fd
                if all(rest in ("", ".") for rest in pending):
                    try:
                        found = os.stat(component, dir_fd=current, follow_symlinks=False)
                    except FileNotFoundError:
                        if must_exist:
                            raise
                        return Located(os.dup(current), component, (*names, component))
                    if not (follow_final and stat.S_ISLNK(found.st_mode)):
                        return Located(os.dup(current), component, (*names, component))
                    hops = self._expand(component, current, pending, names, fds, hops)
                    continue
                try:
                    fd = os.open(component, DIR_FLAGS, dir_fd=current)
                except FileNotFoundError:
                    if not create_parents:
                        raise
                    fd = _make_dir(component, current)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    found = os.stat(component, dir_fd=current, follow_symlinks=False)
                    if not stat.S_ISLNK(found.st_mode):
                        where = "/" + "/".join((*names, component))
                        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", where) from exc
                    hops = self._expand(component, current, pending, names, fds, hops)
                    continue
                names.append(component)
                fds.append(fd)
            # The path ended on a directory reached through "..", "." or a symlink.
            if not names:
                return Located(os.dup(self.fd), None, ())
            parent = fds[-2] if len(fds) > 1 else self.fd
            return Located(os.dup(parent), names[-1], tuple(names))
        finally:
            for fd in fds:
                os.close(fd)

    def open_dir(
        self, parts: Sequence[str], *, create: bool = False
    ) -> tuple[int, tuple[str, ...]]:
        """An fd of the directory ``parts`` resolves to (every symlink followed) and its
        canonical path; with ``create``, missing directories on the way are made.
        NotADirectoryError when it is something else."""
        located = self.locate(
            parts, follow_final=True, create_parents=create, must_exist=not create
        )
        try:
            if located.name is None:
                return os.dup(located.parent), ()
            try:
                fd = os.open(located.name, DIR_FLAGS, dir_fd=located.parent)
            except FileNotFoundError:
                if not create:
                    raise
                fd = _make_dir(located.name, located.parent)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotADirectoryError(
                        errno.ENOTDIR, "Not a directory", "/" + "/".join(located.parts)
                    ) from exc
                raise
            return fd, located.parts
        finally:
            located.close()

    @staticmethod
    def _expand(
        component: str,
        current: int,
        pending: deque[str],
        names: list[str],
        fds: list[int],
        hops: int,
    ) -> int:
        """Replace the symlink ``component`` by its target in ``pending``."""
        hops += 1
        if hops > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, "Too many levels of symbolic links", component)
        target = os.readlink(component, dir_fd=current)
        if target.startswith("/"):
            names.clear()
            while fds:
                os.close(fds.pop())
        pending.extendleft(reversed(target.split("/")))
        return hops


def _make_dir(name: str, parent: int) -> int:
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
        created = True
    except FileExistsError:
        created = False  # made meanwhile; the open below checks what it is
    fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    if created:
        try:
            os.fchmod(fd, 0o755)  # the umask must not decide a container's directory modes
        except BaseException:
            os.close(fd)
            raise
    return fd
