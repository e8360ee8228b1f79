"""``Ping``: what ``/_ping`` says, which every command needs to negotiate the API version.

It lives apart from ``client.models`` so that negotiating does not define every result type
(each frozen dataclass costs start-up time; Ping itself is a NamedTuple, cheaper still to
define); ``client.models`` re-exports it.

Imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Ping(NamedTuple):
    """What ``/_ping`` says in its headers."""

    api_version: str
    os_type: str = ""
    experimental: bool = False
    builder_version: str = ""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Ping:
        return cls(
            api_version=headers.get("api-version", "").strip(),
            os_type=headers.get("ostype", "").strip(),
            experimental=headers.get("docker-experimental", "").strip().lower() == "true",
            builder_version=headers.get("builder-version", "").strip(),
        )
