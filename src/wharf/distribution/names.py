"""Repository names, tags and manifest references as the distribution spec defines them.

Layer L0. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.distribution.errors``.

Grammar (distribution-spec 1.1, "Pulling manifests")::

    name       := component ("/" component)*          at most 255 characters
    component  := [a-z0-9]+ ((\\.|_|__|-+) [a-z0-9]+)*
    tag        := [a-zA-Z0-9_] [a-zA-Z0-9._-]{0,127}
    reference  := tag | digest

Invariants: a valid name never has a component starting with ``_`` or ``.`` and a valid
tag never starts with ``.`` or ``-``, so the registry may use such names for its own files
and routes (``_catalog``, ``_layers``, ``.tmp-*``) without clashing with user names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wharf.distribution.errors import ErrorCode, RegistryError
from wharf.errdefs import InvalidArgument
from wharf.oci.digest import Digest

NAME_MAX_LENGTH = 255

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", re.ASCII)


def is_valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX_LENGTH and _NAME_RE.fullmatch(name) is not None


def is_valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None


def validate_name(name: str) -> str:
    """``name`` itself, or ``RegistryError(NAME_INVALID)``."""
    if not is_valid_name(name):
        raise RegistryError(
            ErrorCode.NAME_INVALID,
            f"invalid repository name {name[:300]!r}",
            detail={"name": name[:300]},
        )
    return name


def validate_tag(tag: str) -> str:
    """``tag`` itself, or ``RegistryError(TAG_INVALID)``."""
    if not is_valid_tag(tag):
        raise RegistryError(
            ErrorCode.TAG_INVALID, f"invalid tag {tag[:200]!r}", detail={"tag": tag[:200]}
        )
    return tag


def parse_digest(text: str) -> Digest:
    """A digest from a URL or query parameter, or ``RegistryError(DIGEST_INVALID)``."""
    try:
        return Digest.parse(text)
    except InvalidArgument as exc:
        raise RegistryError(
            ErrorCode.DIGEST_INVALID, exc.message, detail={"digest": text[:200]}
        ) from exc


@dataclass(frozen=True, slots=True)
class ManifestReference:
    """The ``<reference>`` of a manifest URL: exactly one of a tag or a digest."""

    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if (self.tag is None) == (self.digest is None):
            raise InvalidArgument("a manifest reference is a tag or a digest")

    def __str__(self) -> str:
        return self.tag if self.tag is not None else str(self.digest)

    @classmethod
    def parse(cls, text: str) -> ManifestReference:
        """A digest when ``text`` has a colon (tags cannot), else a tag."""
        if ":" in text:
            return cls(digest=parse_digest(text))
        return cls(tag=validate_tag(text))
