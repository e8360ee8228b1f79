"""API version negotiation, as dockerd does it.

Requests may carry a ``/v1.NN`` prefix; the server accepts any version between
``MIN_API_VERSION`` and ``API_VERSION`` and answers ``/_ping`` with ``Api-Version`` so that
clients downgrade to it. Pure logic, no aiohttp.
"""

from __future__ import annotations

import re

from wharf.errdefs import InvalidArgument

API_VERSION = "1.50"
MIN_API_VERSION = "1.24"

_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def parse_version(text: str) -> tuple[int, int]:
    try:
        major, minor = text.split(".")
        return int(major), int(minor)
    except ValueError as exc:
        raise InvalidArgument(f"invalid API version {text!r}") from exc


def split_versioned_path(path: str) -> tuple[str | None, str]:
    """``/v1.45/images/json`` -> ("1.45", "/images/json"); unversioned paths keep None."""
    match = _VERSION_PREFIX.match(path)
    if match is None:
        return None, path
    return f"{match.group(1)}.{match.group(2)}", match.group(3)


def check_supported(version: str) -> None:
    """Refuse versions outside our range with dockerd's wording."""
    wanted = parse_version(version)
    if wanted < parse_version(MIN_API_VERSION):
        raise InvalidArgument(
            f"client version {version} is too old. "
            f"Minimum supported API version is {MIN_API_VERSION}, "
            "please upgrade your client to a newer version"
        )
    if wanted > parse_version(API_VERSION):
        raise InvalidArgument(
            f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )
