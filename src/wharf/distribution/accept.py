"""Content negotiation for manifest GET/HEAD by ``Accept``.

Layer L0. Imports: stdlib, ``wharf.oci.mediatypes``.

The registry never converts manifests, so negotiation only decides whether the stored
manifest may be served: yes when the request has no ``Accept`` (or only blank ones), when
one of its entries is the manifest's media type or a wildcard covering it, with ``q`` > 0.
Go clients send several ``Accept`` headers; they are all read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wharf.oci.mediatypes import base_media_type


@dataclass(frozen=True, slots=True)
class AcceptEntry:
    media_type: str
    q: float


def parse_accept(values: Iterable[str]) -> list[AcceptEntry]:
    """Every entry of every ``Accept`` header, in order; malformed ``q`` reads as 1."""
    entries: list[AcceptEntry] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            media_type = base_media_type(part)
            q = 1.0
            for param in part.split(";")[1:]:
                key, _, raw = param.partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(raw.strip())
                    except ValueError:
                        q = 1.0
            if media_type:
                entries.append(AcceptEntry(media_type, q))
    return entries


def accepts(media_type: str, accept_values: Iterable[str]) -> bool:
    """Whether a manifest of ``media_type`` may answer a request with these ``Accept``s."""
    entries = parse_accept(accept_values)
    if not entries:
        return True
    major = media_type.split("/", 1)[0]
    for entry in entries:
        if entry.q <= 0:
            continue
        if entry.media_type in (media_type, "*/*", f"{major}/*"):
            return True
    return False
