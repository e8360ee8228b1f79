"""LocalVolumes: Docker's ``local`` volume driver, one directory per volume.

Layer L1. Imports: stdlib and ``wharf.errdefs`` only (never ``wharf.metadata``: the engine keeps
the records and calls this module for the files).

Layout (under ``<data-root>/volumes``, created 0701 as Docker does, so that only root can list
the volume names while a container's non-root user can still reach a mounted ``_data``)::

    volumes/
      <name>/                 0701 root:root
        _data/                0755 root:root when created; the volume's files, bind-mounted
                              into containers (copy-up gives it the image directory's owner
                              and mode). With mount options it is a mount point instead.
      .tmp-<random>/          a volume being created or removed: never a volume, deleted by
                              cleanup() (names cannot start with ".")

Names follow Docker's rule ``[a-zA-Z0-9][a-zA-Z0-9_.-]+`` (so never ``.``, ``..`` or a path),
at most 255 bytes (one directory entry). Anonymous volumes get 64 random hex digits.

Mount options (``docker volume create -o type=... -o device=... -o o=...``, compose's
``driver_opts``) are checked as Docker's local driver checks them: only ``type``, ``device``,
``o`` and ``size``; ``type`` and ``device`` need each other and ``o`` needs both; ``size``
needs quota support, which this driver does not have. Such a volume is mounted on its
``_data`` with mount(8) (which parses ``o`` into flags and data exactly as ``mount -o`` does).

Invariants:
- A volume directory appears complete or not at all: it is built under ``.tmp-*`` and renamed.
- Removal never follows a mount into someone else's files: ``_data`` is unmounted first, and a
  volume with anything still mounted at or below it is refused, not deleted; the directory is
  renamed to ``.tmp-*`` before the tree is deleted (fd-relative, never following symlinks).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound

__all__ = [
    "DATA_DIR",
    "LocalVolumes",
    "MountOptions",
    "random_name",
    "validate_name",
]

DATA_DIR = "_data"
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_MAX_NAME_BYTES = 255
_TMP_PREFIX = ".tmp-"
_VALID_OPTIONS = ("type", "device", "o", "size")
_REQUIRED_WITH = {"device": ("type",), "type": ("device",), "o": ("device", "type")}
_MOUNT_TIMEOUT = 120.0  # network filesystems can be slow; a hung server must not hang us forever
_PASSWORD = re.compile(r"(password=)[^,]*")


def validate_name(name: str) -> None:
    """Refuse a name Docker's local driver refuses (it becomes a directory name)."""
    if not _NAME.fullmatch(name) or len(name.encode()) > _MAX_NAME_BYTES:
        raise InvalidArgument(
            f'"{name}" includes invalid characters for a local volume name, only'
            f' "{NAME_CHARS}" are allowed. If you intended to pass a host directory,'
            " use absolute path"
        )


def random_name() -> str:
    """A name for an anonymous volume: 64 random hex digits, as Docker's."""
    return secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class MountOptions:
    """What to mount on a volume's ``_data``: ``mount -t type -o o device _data``."""

    type: str
    device: str
    o: str = ""

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> MountOptions | None:
        """Check driver options as Docker's local driver does; None when there are none."""
        if not options:
            return None
        for key in sorted(options):
            if key not in _VALID_OPTIONS:
                raise InvalidArgument(f'invalid option: "{key}"')
        if "size" in options:
            raise InvalidArgument("quota size requested but no quota support")
        for key, needed in _REQUIRED_WITH.items():
            if key in options:
                for other in needed:
                    if other not in options:
                        raise InvalidArgument(f'missing required option: "{other}"')
        if not options["device"]:
            raise InvalidArgument("missing device in volume options")
        return cls(type=options["type"], device=options["device"], o=options.get("o", ""))


class LocalVolumes:
    """The volume directories under ``root`` (``<data-root>/volumes``)."""

    def __init__(self, root: Path) -> None:
        self._root = root.absolute()
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            os.chmod(self._root, 0o701)
        except OSError as exc:
            raise EngineFailure(
                f"cannot create the volumes directory {self._root}: {exc.strerror or exc}"
            ) from exc

    @property
    def root(self) -> Path:
        return self._root

    def data_path(self, name: str) -> Path:
        """Where the volume's files are (Docker's ``Mountpoint``)."""
        validate_name(name)
        return self._root / name / DATA_DIR

    def exists(self, name: str) -> bool:
        return self.data_path(name).is_dir()

    def names(self) -> list[str]:
        """Every volume directory on disk, sorted; leftovers and stray files are not volumes."""
        found = []
        for entry in os.scandir(self._root):
            if entry.is_dir(follow_symlinks=False) and _NAME.fullmatch(entry.name):
                found.append(entry.name)
        return sorted(found)

    def created_at(self, name: str) -> float:
        """When the volume directory was made (its ctime, as Docker reports it)."""
        try:
            return os.stat(self._root / name, follow_symlinks=False).st_ctime
        except FileNotFoundError as exc:
            raise NotFound(f"no such volume: {name}") from exc

    # -- lifecycle -----------------------------------------------------------------------

    def create(self, name: str) -> Path:
        """Make the volume's directories unless they exist; return ``data_path(name)``."""
        data = self.data_path(name)
        if data.is_dir():
            return data
        staging = self._root / (_TMP_PREFIX + secrets.token_hex(8))
        try:
            staging.mkdir(0o700)
            os.chmod(staging, 0o701)
            (staging / DATA_DIR).mkdir(0o700)
            os.chmod(staging / DATA_DIR, 0o755)
            try:
                os.rename(staging, self._root / name)
            except OSError as exc:
                # Someone made it meanwhile (or a stray file took the name).
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not data.is_dir():
                    raise
                shutil.rmtree(staging)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise EngineFailure(f"cannot create volume {name}: {exc.strerror or exc}") from exc
        return data

    def remove(self, name: str) -> None:
        """Delete the volume's files (unmounting ``_data`` first); a missing volume is fine."""
        validate_name(name)
        directory = self._root / name
        if not os.path.lexists(directory):
            return
        if self.is_mounted(name):
            self.unmount(name)
        busy = _mount_points_under(directory)
        if busy:
            raise Conflict(
                f"remove {name}: volume is still mounted at {', '.join(busy)}; not deleting it"
            )
        doomed = self._root / (_TMP_PREFIX + secrets.token_hex(8))
        try:
            os.rename(directory, doomed)
        except OSError as exc:
            raise EngineFailure(f"cannot remove volume {name}: {exc.strerror or exc}") from exc
        self._delete_tree(doomed)

    def cleanup(self) -> None:
        """Delete what a crash left of volumes being created or removed."""
        for entry in os.scandir(self._root):
            if entry.name.startswith(_TMP_PREFIX) and entry.is_dir(follow_symlinks=False):
                doomed = Path(entry.path)
                if not _mount_points_under(doomed):
                    self._delete_tree(doomed)

    def _delete_tree(self, path: Path) -> None:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise EngineFailure(f"cannot delete {path}: {exc.strerror or exc}") from exc

    # -- contents ------------------------------------------------------------------------

    def is_empty(self, name: str) -> bool:
        with os.scandir(self.data_path(name)) as entries:
            return next(entries, None) is None

    def usage(self, name: str) -> int:
        """Bytes used by the volume's files: apparent sizes, each hardlinked inode once, not
        following symlinks (Docker's measure for ``system df`` and prune reports)."""
        data = self.data_path(name)
        if not data.is_dir():
            raise NotFound(f"no such volume: {name}")
        seen: set[tuple[int, int]] = set()
        total = 0
        pending = [str(data)]
        while pending:
            directory = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue  # removed meanwhile or unreadable: measure what can be measured
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    pending.append(entry.path)
                elif st.st_size and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        return total

    # -- mounts --------------------------------------------------------------------------

    def is_mounted(self, name: str) -> bool:
        return str(self.data_path(name)) in _mount_points()

    def mount(self, name: str, options: MountOptions) -> Path:
        """Mount ``options`` on the volume's ``_data`` unless something is mounted there."""
        data = self.data_path(name)
        if not data.is_dir():
            raise NotFound(f"no such volume: {name}")
        if self.is_mounted(name):
            return data
        argv = ["mount", "-n", "-t", options.type]
        if options.o:
            argv += ["-o", options.o]
        argv += ["--", options.device, str(data)]
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, check=False, timeout=_MOUNT_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineFailure(f"failed to mount local volume: {exc}") from exc
        if result.returncode != 0:
            reason = _PASSWORD.sub(r"\1********", result.stderr.strip() or str(result.returncode))
            raise EngineFailure(f"failed to mount local volume: {reason}")
        return data

    def unmount(self, name: str) -> None:
        """Unmount the volume's ``_data``; nothing mounted there is fine."""
        data = self.data_path(name)
        if not self.is_mounted(name):
            return
        result = subprocess.run(["umount", str(data)], capture_output=True, text=True, check=False)
        if result.returncode != 0 and self.is_mounted(name):
            raise Conflict(f"cannot unmount volume {name}: {result.stderr.strip()}")


def _unescape_mountinfo(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mount_points() -> set[str]:
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError as exc:
        raise EngineFailure(f"cannot read /proc/self/mountinfo: {exc.strerror}") from exc
    points = set()
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            points.add(_unescape_mountinfo(fields[4]))
    return points


def _mount_points_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, sorted."""
    top = str(directory)
    return sorted(p for p in _mount_points() if p == top or p.startswith(top + "/"))
