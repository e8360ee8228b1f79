"""Leases: content being fetched that no name reaches yet, kept from garbage collection.

A pull takes a lease on its target (manifest or index) before downloading and drops it once
the name is recorded. If the pull is cut (network, kill -9 of the daemon), the lease stays,
so the layers already committed are not collected at the next start and the next pull only
fetches the rest. Leases expire after a day. Layout::

    <data-root>/leases/<random>.json   {"mediaType", "digest", "size", "created"}

Written by rename (never half-written). Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest


class Leases:
    def __init__(self, root: Path, *, max_age: float = 24 * 3600.0) -> None:
        self._root = root
        self._max_age = max_age
        root.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def hold(self, target: Descriptor) -> Iterator[None]:
        """Keep ``target``'s content for the block; released only when the block succeeds."""
        path = self._root / f"{uuid.uuid4().hex}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "mediaType": target.media_type,
                    "digest": str(target.digest),
                    "size": target.size,
                    "created": time.time(),
                }
            )
        )
        os.replace(tmp, path)
        yield
        path.unlink(missing_ok=True)

    def targets(self) -> list[Descriptor]:
        """Live leases' targets; expired and unreadable leases are removed."""
        found = []
        now = time.time()
        for path in self._root.glob("*"):
            try:
                raw = json.loads(path.read_text())
                if now - float(raw["created"]) > self._max_age:
                    path.unlink(missing_ok=True)
                    continue
                found.append(
                    Descriptor(
                        media_type=str(raw["mediaType"]),
                        digest=Digest.parse(str(raw["digest"])),
                        size=int(raw["size"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
            except Exception:
                path.unlink(missing_ok=True)
        return found
