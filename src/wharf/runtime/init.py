"""Find the init binary ``--init`` bind-mounts at ``/sbin/docker-init`` (Docker's path).

Imports: stdlib only.

The binary runs inside any image, so it must be statically linked: a dynamic ``tini`` needs
the host's libc, which a busybox or distroless image does not have. Candidates, first found
wins: ``docker-init``, ``tini-static`` (Debian package tini), ``catatonit`` (Debian package
catatonit, also under /usr/libexec/podman), then ``tini`` itself, each only if it is a
static ELF (no ``PT_INTERP`` program header). None found: the caller provides its own.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Sequence
from pathlib import Path

IN_CONTAINER_PATH = "/sbin/docker-init"
CANDIDATES: tuple[str, ...] = ("docker-init", "tini-static", "catatonit", "tini")
EXTRA_DIRS: tuple[str, ...] = ("/usr/libexec/podman", "/usr/libexec/docker", "/usr/local/bin")

_PT_INTERP = 3


def find_init(
    candidates: Sequence[str] = CANDIDATES,
    *,
    path: str | None = None,
    extra_dirs: Sequence[str] = EXTRA_DIRS,
) -> Path | None:
    """The first statically linked candidate on ``path`` (default ``$PATH``) or in
    ``extra_dirs``; None when there is none."""
    search = os.pathsep.join(
        [path if path is not None else os.environ.get("PATH", os.defpath), *extra_dirs]
    )
    for name in candidates:
        found = shutil.which(name, path=search)
        if found is not None and is_static_elf(Path(found)):
            return Path(found).resolve()
    return None


def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without an interpreter (statically linked)."""
    try:
        with path.open("rb") as f:
            ident = f.read(64)
            if len(ident) < 52 or ident[:4] != b"\x7fELF":
                return False
            is64 = ident[4] == 2
            endian = "<" if ident[5] == 1 else ">"
            if is64:
                (phoff,) = struct.unpack_from(endian + "Q", ident, 32)
                phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
            else:
                (phoff,) = struct.unpack_from(endian + "I", ident, 28)
                phentsize, phnum = struct.unpack_from(endian + "HH", ident, 42)
            if phnum == 0 or phentsize < 4 or phnum > 4096:
                return False
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except (OSError, struct.error):
        return False
    if len(table) < phentsize * phnum:
        return False
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == _PT_INTERP:
            return False
    return True
