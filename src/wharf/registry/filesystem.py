"""FilesystemDriver: registry metadata as small files under a local directory.

Layer L3. Imports: stdlib, ``wharf.errdefs``, ``wharf.registry.driver``.

Invariants (see ``driver.StorageDriver``): a write goes to ``<dir>/.tmp-<random>`` in the
target's directory, is fsynced, renamed over the target and the directory fsynced, so after
a crash a key holds its old or its new content. Valid repository names and tags never start
with ``.``, so temporary files never collide with keys; ``list`` hides them and stale ones
(a crash between write and rename) are removed by ``remove_stale_temporaries``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path

from wharf.errdefs import EngineFailure, InvalidArgument, NotFound
from wharf.registry.driver import FileInfo

_TMP_PREFIX = ".tmp-"


class FilesystemDriver:
    """A ``StorageDriver`` rooted at a local directory."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = Path(root)
        self._durable = durable
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgument(f"cannot create {self.root}: {exc.strerror}") from exc

    def __repr__(self) -> str:
        return f"FilesystemDriver({str(self.root)!r})"

    def _full(self, path: str) -> Path:
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") for p in parts):
            raise InvalidArgument(f"invalid storage path {path!r}")
        return self.root.joinpath(*parts)

    def read(self, path: str) -> bytes:
        try:
            return self._full(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"{path} not found") from exc
        except OSError as exc:
            raise EngineFailure(f"read {path}: {exc.strerror}") from exc

    def write(self, path: str, data: bytes) -> None:
        target = self._full(path)
        tmp = target.with_name(f"{_TMP_PREFIX}{secrets.token_hex(8)}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self._durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
            if self._durable:
                _fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise EngineFailure(f"write {path}: {exc.strerror}") from exc

    def delete(self, path: str) -> bool:
        try:
            os.unlink(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise EngineFailure(f"delete {path}: {exc.strerror}") from exc
        return True

    def delete_tree(self, path: str) -> None:
        full = self._full(path)
        try:
            shutil.rmtree(full)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise EngineFailure(f"delete {path}: {exc.strerror}") from exc

    def list(self, path: str) -> list[str]:
        full = self._full(path) if path else self.root
        try:
            with os.scandir(full) as entries:
                return sorted(e.name for e in entries if not e.name.startswith(_TMP_PREFIX))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise EngineFailure(f"list {path}: {exc.strerror}") from exc

    def stat(self, path: str) -> FileInfo:
        try:
            st = os.stat(self._full(path))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(f"{path} not found") from exc
        except OSError as exc:
            raise EngineFailure(f"stat {path}: {exc.strerror}") from exc
        return FileInfo(path, st.st_size, st.st_mtime, os.path.isdir(self._full(path)))

    def exists(self, path: str) -> bool:
        return self._full(path).exists()

    def remove_stale_temporaries(self, older_than_seconds: float = 3600.0) -> int:
        """Remove temporaries a crash left behind; returns how many."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(_TMP_PREFIX):
                    continue
                full = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    if os.stat(full).st_mtime < cutoff:
                        os.unlink(full)
                        removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
