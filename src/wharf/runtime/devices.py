"""Device nodes: the host's list (for ``--privileged``) and Docker's default device cgroup rules.

Imports: stdlib only.

Docker gives an unprivileged container only the runtime's standard nodes (null, zero, full,
random, urandom, tty, console, ptmx, pts) and the cgroup rules in ``DEFAULT_DEVICE_RULES``; a
privileged one gets a node for every host device and a rule allowing all. The host walk
follows containerd's ``HostDevices``: ``/dev`` recursively, without ``pts``, ``shm``, ``fd``,
``mqueue`` and the lxc/udev bookkeeping dirs, and without ``/dev/console`` (the runtime makes
its own for a terminal).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class HostDevice:
    """A device node as OCI ``linux.devices`` lists it."""

    path: str
    type: str  # "c" or "b"
    major: int
    minor: int
    file_mode: int
    uid: int
    gid: int

    def to_oci(self) -> dict[str, object]:
        return {
            "path": self.path,
            "type": self.type,
            "major": self.major,
            "minor": self.minor,
            "fileMode": self.file_mode,
            "uid": self.uid,
            "gid": self.gid,
        }


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """One device cgroup rule; ``None`` major/minor mean any (``*``)."""

    allow: bool
    access: str = "rwm"
    type: str | None = None  # "c", "b", or None for all ("a")
    major: int | None = None
    minor: int | None = None

    def to_oci(self) -> dict[str, object]:
        rule: dict[str, object] = {"allow": self.allow}
        if self.type is not None:
            rule["type"] = self.type
        if self.major is not None:
            rule["major"] = self.major
        if self.minor is not None:
            rule["minor"] = self.minor
        rule["access"] = self.access
        return rule


# moby oci/defaults.go: deny all, then the standard character devices; /dev/fuse stays denied.
DEFAULT_DEVICE_RULES: tuple[DeviceRule, ...] = (
    DeviceRule(False),
    DeviceRule(True, "rwm", "c", 1, 5),  # zero
    DeviceRule(True, "rwm", "c", 1, 3),  # null
    DeviceRule(True, "rwm", "c", 1, 9),  # urandom
    DeviceRule(True, "rwm", "c", 1, 8),  # random
    DeviceRule(True, "rwm", "c", 5, 0),  # tty
    DeviceRule(True, "rwm", "c", 5, 1),  # console
    DeviceRule(False, "rwm", "c", 10, 229),  # fuse
)
PRIVILEGED_DEVICE_RULES: tuple[DeviceRule, ...] = (DeviceRule(True),)

_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def host_devices(root: Path = Path("/dev")) -> tuple[HostDevice, ...]:
    """Every character and block device under ``root``, sorted by path; paths are given as
    the container sees them (``/dev/...``) whatever ``root`` is."""
    found: list[HostDevice] = []
    _walk(root, root, found)
    return tuple(sorted(found, key=lambda d: d.path))


def _walk(root: Path, directory: Path, found: list[HostDevice]) -> None:
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if entry.name not in _SKIP_DIRS:
                _walk(root, Path(entry.path), found)
            continue
        if entry.name == "console":
            continue
        if stat.S_ISCHR(st.st_mode):
            kind = "c"
        elif stat.S_ISBLK(st.st_mode):
            kind = "b"
        else:
            continue
        found.append(
            HostDevice(
                path="/dev/" + os.path.relpath(entry.path, root),
                type=kind,
                major=os.major(st.st_rdev),
                minor=os.minor(st.st_rdev),
                file_mode=stat.S_IMODE(st.st_mode),
                uid=st.st_uid,
                gid=st.st_gid,
            )
        )
