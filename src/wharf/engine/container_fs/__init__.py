"""Filesystem operations on a container: ``diff``, ``cp`` (both ways), ``export``, ``commit``.

Layer L2 (part of ``wharf.engine``). Imports: stdlib, ``wharf.errdefs``, ``wharf.archive``,
``wharf.oci.digest``; nothing else of the engine, so the container and volume services can
both use it. Pure functions over two host directories:

- ``rootfs``: the container's root as a directory: the overlay merged dir of a stopped
  container, or ``/proc/<pid>/root`` of a running one (then volumes and tmpfs mounts inside it
  are seen too, as Docker's ``cp`` sees them).
- ``upper`` (and the image's ``lower_dirs``, top first): the overlay dirs behind it.

Modules: ``rootdir`` (chroot-style path resolution: the safety core), ``pathstat``
(``stat_path``, Docker's path-stat header), ``tarout`` (``archive_path``, ``export_rootfs``),
``tarin`` (``extract_to``), ``diff`` (``changes``, ``commit_diff``).

Invariant: nothing here reads or writes outside ``rootfs`` (or ``upper``), whatever symlinks
the container has planted: every path is resolved inside the root as if chroot'ed.
"""

from __future__ import annotations

from wharf.engine.container_fs.diff import Change, ChangeKind, changes, commit_diff
from wharf.engine.container_fs.pathstat import (
    ContainerPathNotFound,
    PathStat,
    go_file_mode,
    stat_path,
)
from wharf.engine.container_fs.tarin import extract_to
from wharf.engine.container_fs.tarout import archive_path, export_rootfs

__all__ = [
    "Change",
    "ChangeKind",
    "ContainerPathNotFound",
    "PathStat",
    "archive_path",
    "changes",
    "commit_diff",
    "export_rootfs",
    "extract_to",
    "go_file_mode",
    "stat_path",
]
