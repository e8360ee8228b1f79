"""URL paths of the distribution API, matched to typed routes.

Layer L0. Imports: stdlib, ``wharf.oci.digest``, ``wharf.distribution.*``.

Paths (distribution-spec 1.1 endpoints end-1 ... end-13, plus ``_catalog``)::

    /v2/                                   BASE
    /v2/_catalog                           CATALOG
    /v2/<name>/tags/list                   TAGS
    /v2/<name>/manifests/<reference>       MANIFEST      (tag or digest)
    /v2/<name>/blobs/uploads/              UPLOADS       (start an upload)
    /v2/<name>/blobs/uploads/<id>          UPLOAD        (one upload session)
    /v2/<name>/blobs/<digest>              BLOB
    /v2/<name>/referrers/<digest>          REFERRERS

``<name>`` may contain ``/``; it is everything before the last route keyword, which is
unambiguous because references, digests and upload ids never contain ``/``. Names, tags and
digests are validated after matching, so a bad one gives ``NAME_INVALID`` /
``TAG_INVALID`` / ``DIGEST_INVALID`` rather than "no such route".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from wharf.distribution.errors import ErrorCode, RegistryError, method_not_allowed
from wharf.distribution.names import ManifestReference, parse_digest, validate_name
from wharf.oci.digest import Digest

UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=-]{0,127}", re.ASCII)


class RouteKind(enum.Enum):
    BASE = "base"
    CATALOG = "catalog"
    TAGS = "tags"
    MANIFEST = "manifest"
    UPLOADS = "uploads"
    UPLOAD = "upload"
    BLOB = "blob"
    REFERRERS = "referrers"


ALLOWED_METHODS: dict[RouteKind, frozenset[str]] = {
    RouteKind.BASE: frozenset({"GET", "HEAD"}),
    RouteKind.CATALOG: frozenset({"GET"}),
    RouteKind.TAGS: frozenset({"GET"}),
    RouteKind.MANIFEST: frozenset({"GET", "HEAD", "PUT", "DELETE"}),
    RouteKind.UPLOADS: frozenset({"POST"}),
    RouteKind.UPLOAD: frozenset({"GET", "PATCH", "PUT", "DELETE"}),
    RouteKind.BLOB: frozenset({"GET", "HEAD", "DELETE"}),
    RouteKind.REFERRERS: frozenset({"GET"}),
}

_PATTERNS: tuple[tuple[RouteKind, re.Pattern[str]], ...] = (
    (RouteKind.BASE, re.compile(r"/v2/?")),
    (RouteKind.CATALOG, re.compile(r"/v2/_catalog")),
    (RouteKind.TAGS, re.compile(r"/v2/(?P<name>.+)/tags/list")),
    (RouteKind.MANIFEST, re.compile(r"/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)")),
    (RouteKind.UPLOADS, re.compile(r"/v2/(?P<name>.+)/blobs/uploads/?")),
    (RouteKind.UPLOAD, re.compile(r"/v2/(?P<name>.+)/blobs/uploads/(?P<id>[^/]+)")),
    (RouteKind.BLOB, re.compile(r"/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)")),
    (RouteKind.REFERRERS, re.compile(r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)")),
)


@dataclass(frozen=True, slots=True)
class Route:
    """A matched, validated request path."""

    kind: RouteKind
    name: str | None = None
    reference: ManifestReference | None = None
    digest: Digest | None = None
    upload_id: str | None = None

    @property
    def repository(self) -> str:
        """The repository name; only for routes that have one."""
        if self.name is None:
            raise RegistryError(ErrorCode.NAME_INVALID, f"{self.kind.value} has no repository")
        return self.name


def match(path: str) -> Route:
    """The route of ``path`` (already percent-decoded); ``RegistryError`` if none or invalid."""
    for kind, pattern in _PATTERNS:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        groups = found.groupdict()
        name = validate_name(groups["name"]) if "name" in groups else None
        if kind is RouteKind.MANIFEST:
            return Route(kind, name, reference=ManifestReference.parse(groups["ref"]))
        if kind in (RouteKind.BLOB, RouteKind.REFERRERS):
            return Route(kind, name, digest=parse_digest(groups["digest"]))
        if kind is RouteKind.UPLOAD:
            upload_id = groups["id"]
            if UPLOAD_ID_RE.fullmatch(upload_id) is None:
                raise RegistryError(
                    ErrorCode.BLOB_UPLOAD_UNKNOWN, f"invalid upload id {upload_id[:200]!r}"
                )
            return Route(kind, name, upload_id=upload_id)
        return Route(kind, name)
    raise RegistryError(ErrorCode.NOT_FOUND, f"no such route: {path[:300]}")


def check_method(route: Route, method: str, path: str) -> None:
    """``UNSUPPORTED`` (405) when ``method`` is not served on this route."""
    if method not in ALLOWED_METHODS[route.kind]:
        raise method_not_allowed(method, path)


def manifest_path(name: str, reference: str) -> str:
    return f"/v2/{name}/manifests/{reference}"


def blob_path(name: str, digest: Digest) -> str:
    return f"/v2/{name}/blobs/{digest}"


def upload_path(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def tags_path(name: str) -> str:
    return f"/v2/{name}/tags/list"


CATALOG_PATH = "/v2/_catalog"
