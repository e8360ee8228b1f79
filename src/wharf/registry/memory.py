"""MemoryDriver: a ``StorageDriver`` in a dict, for tests and as a second implementation
that keeps the driver contract honest (``driver.StorageDriver``).

Layer L3. Imports: stdlib, ``wharf.errdefs``, ``wharf.registry.driver``.
"""

from __future__ import annotations

import threading
import time

from wharf.errdefs import InvalidArgument, NotFound
from wharf.registry.driver import FileInfo


class MemoryDriver:
    def __init__(self) -> None:
        self._files: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _check(path: str) -> str:
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") for p in parts):
            raise InvalidArgument(f"invalid storage path {path!r}")
        return path

    def read(self, path: str) -> bytes:
        with self._lock:
            try:
                return self._files[self._check(path)][0]
            except KeyError:
                raise NotFound(f"{path} not found") from None

    def write(self, path: str, data: bytes) -> None:
        with self._lock:
            self._files[self._check(path)] = (bytes(data), time.time())

    def delete(self, path: str) -> bool:
        with self._lock:
            return self._files.pop(self._check(path), None) is not None

    def delete_tree(self, path: str) -> None:
        prefix = self._check(path) + "/"
        with self._lock:
            for key in [k for k in self._files if k.startswith(prefix) or k == path]:
                del self._files[key]

    def list(self, path: str) -> list[str]:
        prefix = self._check(path) + "/" if path else ""
        with self._lock:
            names = {k[len(prefix) :].split("/", 1)[0] for k in self._files if k.startswith(prefix)}
        return sorted(names)

    def stat(self, path: str) -> FileInfo:
        key = self._check(path)
        with self._lock:
            if key in self._files:
                data, modified = self._files[key]
                return FileInfo(path, len(data), modified, False)
            children = [m for k, (_, m) in self._files.items() if k.startswith(key + "/")]
        if not children:
            raise NotFound(f"{path} not found")
        return FileInfo(path, 0, max(children), True)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except NotFound:
            return False
        return True
