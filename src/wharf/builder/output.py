"""Build output in Dockerfile order while stages run in parallel.

Imports: stdlib only.

The classic builder's text (``Step 3/9 : ...``) reads as one sequence. Stages run
concurrently here, so each stage writes to its own channel: the earliest unfinished stage
(in Dockerfile order) streams live; the others are buffered and flushed, in order, as the
ones before them finish. A failure flushes everything, so the failing step's output is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


class OrderedOutput:
    def __init__(self, order: Sequence[int], emit: Callable[[str], None]) -> None:
        self._order = list(order)
        self._emit = emit
        self._lock = threading.Lock()
        self._head = 0
        self._buffers: dict[int, list[str]] = {index: [] for index in self._order}
        self._done: set[int] = set()

    def writer(self, stage: int) -> Callable[[str], None]:
        def write(text: str) -> None:
            if not text:
                return
            with self._lock:
                if self._head >= len(self._order) or self._order[self._head] == stage:
                    self._emit(text)
                else:
                    self._buffers[stage].append(text)

        return write

    def finish(self, stage: int) -> None:
        """``stage`` wrote its last line: the next unfinished stage takes the stream."""
        with self._lock:
            self._done.add(stage)
            while self._head < len(self._order) and self._order[self._head] in self._done:
                self._head += 1
                if self._head < len(self._order):
                    self._flush(self._order[self._head])

    def flush_all(self) -> None:
        with self._lock:
            for stage in self._order[self._head :]:
                self._flush(stage)
            self._head = len(self._order)

    def _flush(self, stage: int) -> None:
        pending = self._buffers[stage]
        if pending:
            self._emit("".join(pending))
            pending.clear()
