"""Deterministic root filesystem tarballs for base images, built from the host's own binaries.

One implementation for two callers: scripts/base-images runs this file by path
(``.venv/bin/python tests/support/rootfs.py busybox OUT.tar``) and the integration fixtures import
it (``support.rootfs``). It imports the standard library only, so it runs by path.

Invariant: the same busybox binary always gives a byte-identical tar (entries sorted by path,
fixed mtime, uid/gid 0, plain ustar headers, no compression), so the layer that
``wharf import`` makes from it has the same diff ID on every run and machine. (The image ID
still changes per import: the config records the import time, as Docker's does.)

The busybox rootfs::

    bin/busybox              the host's static busybox (0755)
    bin/<applet>             symlink -> busybox, one per line of `busybox --list`
    dev/ proc/ sys/          empty mount points for the runtime (0755)
    etc/passwd etc/group     root (0) and nobody (65534)
    home/ var/               empty (0755)
    root/                    root's home (0700)
    tmp/                     sticky, world-writable (1777)
    usr/bin/env              symlink -> ../../bin/busybox, for `#!/usr/bin/env` scripts
"""

from __future__ import annotations

import argparse
import enum
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BUSYBOX = Path("/bin/busybox")
BUSYBOX_REF = "busybox:latest"
DEBIAN_REF = "debian:bookworm-slim"
# Where scripts/base-images caches the debootstrapped tree (built once per machine).
DEBIAN_TARBALL = (
    Path(os.environ.get("WHARF_CACHE_DIR", "/var/cache/wharf"))
    / "debootstrap-bookworm-minbase.tar.gz"
)
# 2000-01-01T00:00:00Z: any constant works; a non-zero one keeps tools that treat 0 as "unset" calm.
FIXED_MTIME = 946684800

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\n"


class EntryKind(enum.Enum):
    DIR = "dir"
    FILE = "file"
    SYMLINK = "symlink"


@dataclass(frozen=True, slots=True)
class Entry:
    """One member of a rootfs tar; ``path`` is relative, without a leading ``./`` or ``/``."""

    path: str
    kind: EntryKind
    mode: int
    data: bytes = b""
    target: str = ""


@dataclass(frozen=True, slots=True)
class BaseImageTars:
    """Rootfs tars ready for ``wharf import``."""

    busybox: Path
    debian: Path | None  # None until scripts/base-images has built the cache on this machine


def busybox_applets(busybox: Path = DEFAULT_BUSYBOX) -> list[str]:
    """The applet names the binary was built with (``busybox --list``), without busybox itself."""
    out = subprocess.run(
        [str(busybox), "--list"], check=True, capture_output=True, text=True
    ).stdout
    return sorted({name for name in out.split() if name and name != "busybox" and "/" not in name})


def busybox_entries(busybox: Path = DEFAULT_BUSYBOX) -> list[Entry]:
    """Every entry of the busybox rootfs drawn in the module docstring."""
    dirs = {
        "bin": 0o755,
        "dev": 0o755,
        "etc": 0o755,
        "home": 0o755,
        "proc": 0o755,
        "root": 0o700,
        "sys": 0o755,
        "tmp": 0o1777,
        "usr": 0o755,
        "usr/bin": 0o755,
        "var": 0o755,
    }
    entries = [Entry(path, EntryKind.DIR, mode) for path, mode in dirs.items()]
    entries += [
        Entry("bin/busybox", EntryKind.FILE, 0o755, data=busybox.read_bytes()),
        Entry("etc/passwd", EntryKind.FILE, 0o644, data=PASSWD),
        Entry("etc/group", EntryKind.FILE, 0o644, data=GROUP),
        Entry("usr/bin/env", EntryKind.SYMLINK, 0o777, target="../../bin/busybox"),
    ]
    entries += [
        Entry(f"bin/{applet}", EntryKind.SYMLINK, 0o777, target="busybox")
        for applet in busybox_applets(busybox)
    ]
    return entries


def write_rootfs_tar(entries: Iterable[Entry], out: Path) -> Path:
    """Write ``entries`` as an uncompressed tar at ``out`` (atomically: temp file, then rename).

    Sorting by path puts every directory before its children, because a parent's path is a
    prefix of its children's.
    """
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for entry in sorted(entries, key=lambda e: e.path):
                info = tarfile.TarInfo(entry.path)
                info.mode = entry.mode
                info.mtime = FIXED_MTIME
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if entry.kind is EntryKind.DIR:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif entry.kind is EntryKind.SYMLINK:
                    info.type = tarfile.SYMTYPE
                    info.linkname = entry.target
                    tar.addfile(info)
                else:
                    info.size = len(entry.data)
                    tar.addfile(info, io.BytesIO(entry.data))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def build_busybox_rootfs(out: Path, *, busybox: Path = DEFAULT_BUSYBOX) -> Path:
    """Build the busybox rootfs tar at ``out`` and return ``out``."""
    return write_rootfs_tar(busybox_entries(busybox), out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a deterministic rootfs tar.")
    sub = parser.add_subparsers(dest="kind", required=True)
    bb = sub.add_parser("busybox", help="static busybox with one symlink per applet")
    bb.add_argument("out", type=Path, help="where to write the (uncompressed) tar")
    bb.add_argument("--busybox", type=Path, default=DEFAULT_BUSYBOX, help="busybox binary")
    args = parser.parse_args(argv)
    build_busybox_rootfs(args.out, busybox=args.busybox)
    return 0


if __name__ == "__main__":
    sys.exit(main())
