"""The snapshotter seam: stacked filesystem snapshots for layers and container root filesystems.

Imports: stdlib and ``wharf.errdefs`` only; backends (``overlay.py``) implement the Protocol and
are checked by ``testsuite.py``.

Model (containerd's): a snapshot is COMMITTED (immutable; an unpacked layer, keyed by its
chainID hex) or ACTIVE (writable; a layer being unpacked, or a container's upper dir). An
active snapshot is prepared on top of an optional committed parent and is either committed
under a new name (unpacking) or removed (container deleted). A snapshot with children cannot
be removed. Keys match ``[a-zA-Z0-9_.-]{1,128}``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wharf.errdefs import InvalidArgument

KEY_PATTERN = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


class SnapshotKind(enum.Enum):
    COMMITTED = "committed"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    key: str
    parent: str | None
    kind: SnapshotKind
    size: int | None = None
    """Disk usage in bytes, recorded at commit; None for active snapshots (see ``usage``)."""


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount(2) call: ``mount -t <type> -o <options> <source> <target>``."""

    type: str
    source: str
    options: tuple[str, ...]


class Snapshotter(Protocol):
    def prepare(self, key: str, parent: str | None) -> Path:
        """Create an ACTIVE snapshot on top of committed ``parent``; return the directory to
        fill (its upper dir). Conflict if ``key`` exists, NotFound if ``parent`` does not."""
        ...

    def commit(self, name: str, key: str) -> None:
        """Turn ACTIVE ``key`` into COMMITTED ``name``; ``key`` is gone afterwards. It must not
        be mounted. Conflict if ``name`` exists or ``key`` is not active."""
        ...

    def stat(self, key: str) -> SnapshotInfo:
        """NotFound if there is no such snapshot."""
        ...

    def exists(self, key: str) -> bool: ...

    def remove(self, key: str) -> None:
        """NotFound if missing, Conflict if another snapshot has it as parent. Unmount first."""
        ...

    def walk(self) -> list[SnapshotInfo]:
        """Every snapshot, sorted by key."""
        ...

    def mounts(self, key: str) -> list[Mount]:
        """How to mount ``key``: read-write for ACTIVE, read-only for COMMITTED."""
        ...

    def mount(self, key: str, target: Path) -> None:
        """Mount ``key`` on the existing directory ``target``."""
        ...

    def unmount(self, target: Path) -> None: ...

    def usage(self, key: str) -> int:
        """Bytes of disk the snapshot's own files use (hardlinks counted once)."""
        ...

    def cleanup(self) -> None:
        """Remove what a crash left half-made; call at daemon start, before any other use."""
        ...


def validate_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidArgument(f"invalid snapshot key {key!r}: expected [a-zA-Z0-9_.-]{{1,128}}")
    return key
