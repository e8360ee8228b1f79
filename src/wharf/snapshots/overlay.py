"""OverlaySnapshotter: snapshots as overlayfs layers, one directory per snapshot.

Imports: stdlib, ``wharf.errdefs``, ``wharf.snapshots.snapshotter``, ``wharf.snapshots.mount``.

Layout (schema 1)::

    <root>/
      <id>/                 one per snapshot; id = first 16 hex digits of sha256(key)
        info.json           {"schema": 1, "key": "<key>", "parent": "<key>" | null,
                             "kind": "committed" | "active", "size": <bytes> | null}
        fs/                 committed: the layer's files as an overlay lower dir (whiteouts are
                            char devices 0:0, opaque dirs carry trusted.overlay.opaque=y);
                            active: the overlay upperdir, or the whole rootfs when there is
                            no parent (then mounted with a bind mount)
        work/               overlay workdir (active only)
      .tmp-<random>/        a snapshot being prepared, committed or removed: never read,
                            deleted by cleanup()

Why hashed ids: keys run to 128 characters (chainIDs are 64), and overlay's mount options
must fit in a page; ``<id>/fs`` is 19 characters, so lowerdir lists of ~190 layers fit when
given relative to ``<root>`` (Docker's own limit is 128 layers). Absolute paths are used when
they fit. A hash prefix collision is detected (info.json names its key) and refused.

Invariants:
- A snapshot directory appears and disappears only by rename(2) of a complete directory:
  prepare builds under ``.tmp-*``; commit moves the active dir to ``.tmp-*``, rewrites
  info.json and moves it to the new id; remove moves it to ``.tmp-*`` and then deletes it.
  A crash at any point leaves either the old state or a ``.tmp-*`` dir for cleanup().
- Committed snapshots never change; their SnapshotInfo (with the disk usage measured at
  commit) is cached in memory.
- Mutations hold one lock; info.json is not fsynced (a dir whose info.json is lost to a power
  cut is incomplete, and cleanup() removes it).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
from pathlib import Path

from wharf.errdefs import Conflict, EngineFailure, NotFound
from wharf.snapshots import mount as mountlib
from wharf.snapshots.snapshotter import Mount, SnapshotInfo, SnapshotKind, validate_key

SCHEMA_VERSION = 1
_ID_LENGTH = 16
_TMP_PREFIX = ".tmp-"
_INFO = "info.json"
_MAX_DEPTH = 500  # a cycle guard; no real image stacks this many layers
_UNSAFE_PATH_CHARS = frozenset(",:\\")  # separators in overlay's option syntax


class OverlaySnapshotter:
    def __init__(self, root: Path) -> None:
        self._root = root.absolute()  # mounts() hands out absolute paths
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._committed: dict[str, SnapshotInfo] = {}

    @property
    def root(self) -> Path:
        return self._root

    # -- lifecycle -----------------------------------------------------------------------

    def prepare(self, key: str, parent: str | None) -> Path:
        validate_key(key)
        if parent is not None:
            validate_key(parent)
        with self._lock:
            if self._read_info(key) is not None:
                raise Conflict(f"snapshot {key} already exists")
            if parent is not None:
                parent_info = self._read_info(parent)
                if parent_info is None:
                    raise NotFound(f"parent snapshot {parent} not found")
                if parent_info.kind is not SnapshotKind.COMMITTED:
                    raise Conflict(f"parent snapshot {parent} is not committed")
            staging = self._staging_dir()
            try:
                (staging / "fs").mkdir(mode=0o755)
                (staging / "work").mkdir(mode=0o700)
                _write_info(staging, SnapshotInfo(key, parent, SnapshotKind.ACTIVE))
                final = self._dir(key)
                os.rename(staging, final)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                if self._dir(key).exists():
                    raise Conflict(f"snapshot {key} collides with an existing one") from exc
                raise EngineFailure(f"cannot prepare snapshot {key}: {exc.strerror}") from exc
            return final / "fs"

    def commit(self, name: str, key: str) -> None:
        validate_key(name)
        validate_key(key)
        with self._lock:
            info = self._read_info(key)
            if info is None:
                raise NotFound(f"no such snapshot: {key}")
            if info.kind is not SnapshotKind.ACTIVE:
                raise Conflict(f"snapshot {key} is not active")
            if name != key and self._read_info(name) is not None:
                raise Conflict(f"snapshot {name} already exists")
            staging = self._staging_path()
            try:
                os.rename(self._dir(key), staging)
            except OSError as exc:
                raise EngineFailure(f"cannot commit snapshot {key}: {exc.strerror}") from exc
            try:
                shutil.rmtree(staging / "work")
                committed = SnapshotInfo(
                    name, info.parent, SnapshotKind.COMMITTED, disk_usage(staging / "fs")
                )
                _write_info(staging, committed)
                os.rename(staging, self._dir(name))
            except OSError as exc:
                self._restore_active(staging, info)
                raise EngineFailure(f"cannot commit snapshot {key}: {exc.strerror}") from exc
            self._committed[name] = committed

    def _restore_active(self, staging: Path, info: SnapshotInfo) -> None:
        """Best effort to put a half-committed active snapshot back under its key."""
        try:
            (staging / "work").mkdir(mode=0o700, exist_ok=True)
            _write_info(staging, info)
            os.rename(staging, self._dir(info.key))
        except OSError:
            pass  # left in .tmp-*: cleanup() reclaims it

    def remove(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            info = self._read_info(key)
            if info is None:
                raise NotFound(f"no such snapshot: {key}")
            # Only committed snapshots are parents (prepare refuses others), so removing an
            # active one (a container's upper dir) need not read every snapshot's info.
            children = (
                [child.key for child in self.walk() if child.parent == key]
                if info.kind is SnapshotKind.COMMITTED
                else []
            )
            if children:
                shown = ", ".join(children[:3]) + (", ..." if len(children) > 3 else "")
                raise Conflict(f"snapshot {key} has children: {shown}")
            staging = self._staging_path()
            try:
                os.rename(self._dir(key), staging)
            except OSError as exc:
                raise EngineFailure(f"cannot remove snapshot {key}: {exc.strerror}") from exc
            self._committed.pop(key, None)
        try:
            shutil.rmtree(staging)
        except OSError as exc:
            raise EngineFailure(
                f"snapshot {key} removed but its files remain until cleanup: {exc.strerror}"
            ) from exc

    def cleanup(self) -> None:
        with self._lock:
            self._committed.clear()
            for entry in os.scandir(self._root):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                incomplete = _is_id(entry.name) and _load_info(Path(entry.path), entry.name) is None
                if entry.name.startswith(_TMP_PREFIX) or incomplete:
                    shutil.rmtree(entry.path)

    # -- queries -------------------------------------------------------------------------

    def stat(self, key: str) -> SnapshotInfo:
        validate_key(key)
        info = self._read_info(key)
        if info is None:
            raise NotFound(f"no such snapshot: {key}")
        return info

    def exists(self, key: str) -> bool:
        validate_key(key)
        return self._read_info(key) is not None

    def walk(self) -> list[SnapshotInfo]:
        found = []
        for entry in os.scandir(self._root):
            if _is_id(entry.name):
                info = _load_info(Path(entry.path), entry.name)
                if info is not None:
                    found.append(info)
        return sorted(found, key=lambda info: info.key)

    def usage(self, key: str) -> int:
        info = self.stat(key)
        if info.size is not None:
            return info.size
        return disk_usage(self._dir(key) / "fs")

    def mounts(self, key: str) -> list[Mount]:
        return [self._mount_for(key, relative=False)]

    # -- mounting ------------------------------------------------------------------------

    def mount(self, key: str, target: Path) -> None:
        spec = self._mount_for(key, relative=False)
        if spec.type == "bind":
            mountlib.bind_mount(Path(spec.source), target, readonly="ro" in spec.options)
            return
        options = ",".join(spec.options)
        unsafe = not _UNSAFE_PATH_CHARS.isdisjoint(str(self._root.absolute()))
        if unsafe or len(os.fsencode(options)) > mountlib.MAX_OPTIONS:
            relative = self._mount_for(key, relative=True)
            mountlib.mount(
                "overlay", target, "overlay", options=",".join(relative.options), cwd=self._root
            )
        else:
            mountlib.mount("overlay", target, "overlay", options=options)

    def unmount(self, target: Path) -> None:
        mountlib.unmount(target)

    def _mount_for(self, key: str, *, relative: bool) -> Mount:
        info = self.stat(key)
        chain = self._parents(info)

        def fs(snapshot: str) -> str:
            return f"{self._id(snapshot)}/fs" if relative else str(self._dir(snapshot) / "fs")

        if info.kind is SnapshotKind.ACTIVE:
            if not chain:
                return Mount("bind", fs(key), ("rbind", "rw"))
            work = f"{self._id(key)}/work" if relative else str(self._dir(key) / "work")
            lowers = ":".join(fs(parent) for parent in chain)
            options = ("index=off", f"lowerdir={lowers}", f"upperdir={fs(key)}", f"workdir={work}")
            return Mount("overlay", "overlay", options)
        if not chain:
            return Mount("bind", fs(key), ("rbind", "ro"))
        lowers = ":".join(fs(snapshot) for snapshot in [key, *chain])
        return Mount("overlay", "overlay", ("index=off", f"lowerdir={lowers}", "ro"))

    def _parents(self, info: SnapshotInfo) -> list[str]:
        """The parent chain of ``info``, nearest first."""
        chain: list[str] = []
        parent = info.parent
        while parent is not None:
            if len(chain) >= _MAX_DEPTH:
                raise EngineFailure(f"snapshot {info.key}: parent chain too deep or cyclic")
            parent_info = self._read_info(parent)
            if parent_info is None:
                raise EngineFailure(f"snapshot {info.key}: parent {parent} is missing")
            chain.append(parent)
            parent = parent_info.parent
        return chain

    # -- storage -------------------------------------------------------------------------

    @staticmethod
    def _id(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:_ID_LENGTH]

    def _dir(self, key: str) -> Path:
        return self._root / self._id(key)

    def _staging_path(self) -> Path:
        return self._root / f"{_TMP_PREFIX}{secrets.token_hex(8)}"

    def _staging_dir(self) -> Path:
        path = self._staging_path()
        path.mkdir(mode=0o700)
        return path

    def _read_info(self, key: str) -> SnapshotInfo | None:
        cached = self._committed.get(key)
        if cached is not None:
            return cached
        info = _load_info(self._dir(key), self._id(key))
        if info is None or info.key != key:
            return None
        if info.kind is SnapshotKind.COMMITTED:
            self._committed[key] = info
        return info


def disk_usage(top: Path) -> int:
    """Bytes of disk used by the files under ``top`` (st_blocks; hardlinks counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [os.fspath(top)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif st.st_nlink > 1:
                    inode = (st.st_dev, st.st_ino)
                    if inode in seen:
                        continue
                    seen.add(inode)
                total += st.st_blocks * 512
    return total


def _is_id(name: str) -> bool:
    return len(name) == _ID_LENGTH and all(c in "0123456789abcdef" for c in name)


def _write_info(directory: Path, info: SnapshotInfo) -> None:
    document = {
        "schema": SCHEMA_VERSION,
        "key": info.key,
        "parent": info.parent,
        "kind": info.kind.value,
        "size": info.size,
    }
    (directory / _INFO).write_text(json.dumps(document, sort_keys=True))


def _load_info(directory: Path, snapshot_id: str) -> SnapshotInfo | None:
    """The info of the snapshot in ``directory``, or None if it is missing or damaged."""
    try:
        document = json.loads((directory / _INFO).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION:
        return None
    key, parent = document.get("key"), document.get("parent")
    kind, size = document.get("kind"), document.get("size")
    if not isinstance(key, str) or OverlaySnapshotter._id(key) != snapshot_id:
        return None
    if parent is not None and not isinstance(parent, str):
        return None
    if kind not in ("committed", "active") or not (size is None or isinstance(size, int)):
        return None
    return SnapshotInfo(key, parent, SnapshotKind(kind), size)
