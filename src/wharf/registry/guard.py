"""CollectionGuard: keeps online garbage collection from racing pushes.

Layer L3. Imports: stdlib, ``wharf.oci.digest``.

The rule it enforces: a blob that some request is about to rely on is never swept.
Requests that make a blob reachable (upload commit, mount, manifest PUT) run their check
and their link writes inside ``shared()`` and report the digests with ``touch``. The
collector turns tracking on before it marks, and deletes each candidate inside
``exclusive()`` after checking ``touched``; so a blob is deleted only if no reachability
change involving it began after the mark started, and none is half-done while it deletes.
Within one process only (the server holds ``<root>/lock``, so there is one).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from wharf.oci.digest import Digest


class CollectionGuard:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._touched: set[Digest] | None = None

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            # Writers first: a steady stream of pushes must not starve the collector.
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()

    def touch(self, digests: Iterable[Digest]) -> None:
        with self._cond:
            if self._touched is not None:
                self._touched.update(digests)

    def start_tracking(self) -> None:
        with self._cond:
            self._touched = set()

    def stop_tracking(self) -> None:
        with self._cond:
            self._touched = None

    def touched(self, digest: Digest) -> bool:
        """Whether ``digest`` was touched since tracking started; call inside ``exclusive``."""
        with self._cond:
            return self._touched is not None and digest in self._touched
