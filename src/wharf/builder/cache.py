"""Build cache keys, and the reasons a step missed.

Imports: stdlib, ``wharf.builder.backend``.

A key is the sha256 of a canonical JSON document::

    {"v": 1, "parent": "<parent image id>", "instruction": "<expanded instruction text>",
     "sources": [["<source>", "<checksum>"], ...], "args": ["NAME=value", ...]}

- ``parent`` is the config digest of the image the step stands on: a cache hit gives the
  same image ID, so the next key repeats; a rebuilt step gives a new ID and every later
  step misses, as it must.
- ``instruction`` is the instruction after variable expansion (so an ARG's value that a
  COPY or ENV line uses is part of it), with RUN's mounts and network.
- ``sources`` are the checksums (contents and modes, never mtimes) of what COPY/ADD read.
- ``args`` are the build args a RUN step sees in its environment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from wharf.builder.backend import CacheRecord

KEY_VERSION = 1


def cache_key(
    parent_id: str,
    instruction: str,
    *,
    sources: Sequence[tuple[str, str]] = (),
    args: Sequence[str] = (),
) -> CacheRecord:
    document = {
        "v": KEY_VERSION,
        "parent": parent_id,
        "instruction": instruction,
        "sources": [list(pair) for pair in sources],
        "args": list(args),
    }
    blob = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return CacheRecord(
        key="sha256:" + hashlib.sha256(blob).hexdigest(),
        parent_id=parent_id,
        instruction=instruction,
        sources=tuple((str(a), str(b)) for a, b in sources),
        args=tuple(args),
    )


def explain_miss(wanted: CacheRecord, candidates: list[CacheRecord]) -> str:
    """Why no cached step matched ``wanted``, said against the nearest recorded entry."""
    if not candidates:
        return "no cached step over this parent (the previous step was rebuilt or is new)"
    same_instruction = [c for c in candidates if c.instruction == wanted.instruction]
    if not same_instruction:
        return "the instruction changed (or is new at this point of the Dockerfile)"
    nearest = same_instruction[-1]
    reasons: list[str] = []
    before = dict(nearest.sources)
    changed = [name for name, digest in wanted.sources if before.get(name, digest) != digest]
    added = [name for name, _ in wanted.sources if name not in before]
    if changed:
        reasons.append("files changed: " + ", ".join(changed))
    if added:
        reasons.append("new sources: " + ", ".join(added))
    if not changed and not added and nearest.sources != wanted.sources:
        reasons.append("the set of source files changed")
    old_args = set(nearest.args)
    new_args = set(wanted.args)
    if old_args != new_args:
        names = sorted({a.split("=", 1)[0] for a in old_args ^ new_args})
        reasons.append("build args changed: " + ", ".join(names))
    return "; ".join(reasons) or "the cached result is gone (pruned)"
