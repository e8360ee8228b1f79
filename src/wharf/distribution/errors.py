"""Registry error codes, their HTTP statuses, and the JSON error envelope.

Layer L0. Imports: stdlib, ``wharf.errdefs``.

This module is the only place that decides which HTTP status a registry error gets
(STYLE.md §4). Each ``ErrorCode`` carries its usual status; the few cases where the spec
asks for another status with the same code (a chunk out of order is a 416, a manifest over
the size limit a 413, a write in read-only mode a 405) are named constructors below, so
they too are decided here.

Envelope (distribution-spec "Error Codes")::

    {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                 "detail": {...}}]}

``from_exception`` turns any exception into a ``RegistryError``: a ``RegistryError``
passes through, the ``errdefs`` categories get a generic code, anything else is an
``UNKNOWN`` 500 whose message does not leak internals.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field

from wharf import errdefs


class ErrorCode(enum.Enum):
    """A distribution-spec error code (plus the few the reference registry adds)."""

    BLOB_UNKNOWN = ("blob unknown to registry", 404)
    BLOB_UPLOAD_INVALID = ("blob upload invalid", 400)
    BLOB_UPLOAD_UNKNOWN = ("blob upload unknown to registry", 404)
    DIGEST_INVALID = ("provided digest did not match uploaded content", 400)
    MANIFEST_BLOB_UNKNOWN = ("manifest references a manifest or blob unknown to registry", 400)
    MANIFEST_INVALID = ("manifest invalid", 400)
    MANIFEST_UNKNOWN = ("manifest unknown to registry", 404)
    NAME_INVALID = ("invalid repository name", 400)
    NAME_UNKNOWN = ("repository name not known to registry", 404)
    SIZE_INVALID = ("provided length did not match content length", 400)
    UNAUTHORIZED = ("authentication required", 401)
    DENIED = ("requested access to the resource is denied", 403)
    UNSUPPORTED = ("the operation is unsupported", 405)
    TOOMANYREQUESTS = ("too many requests", 429)
    # Not in the OCI list, but the reference registry sends them and clients know them.
    TAG_INVALID = ("manifest tag did not match URI", 400)
    RANGE_INVALID = ("invalid content range", 416)
    PAGINATION_NUMBER_INVALID = ("invalid number of results requested", 400)
    NOT_FOUND = ("no such route", 404)
    UNKNOWN = ("unknown error", 500)
    UNAVAILABLE = ("service unavailable", 503)

    def __init__(self, message: str, status: int) -> None:
        self.default_message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One entry of the envelope."""

    code: ErrorCode
    message: str
    detail: object = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code.name, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


class RegistryError(errdefs.WharfError):
    """An error the registry answers with; ``status`` and ``entries`` make the response.

    ``headers`` carries response headers that belong to the error (``Range`` on a 416,
    ``WWW-Authenticate`` on a 401).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        detail: object = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        text = message or code.default_message
        super().__init__(text)
        self.code = code
        self.detail = detail
        self.status = status if status is not None else code.status
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def entries(self) -> tuple[ErrorEntry, ...]:
        return (ErrorEntry(self.code, self.message, self.detail),)

    def body(self) -> bytes:
        return envelope(self.entries)


def envelope(entries: tuple[ErrorEntry, ...] | list[ErrorEntry]) -> bytes:
    """The JSON error body."""
    return json.dumps({"errors": [e.to_json() for e in entries]}).encode()


@dataclass(frozen=True, slots=True)
class ParsedError:
    """An error entry read back from a response (clients and tests)."""

    code: str
    message: str
    detail: object = field(default=None)


def parse_envelope(body: bytes) -> list[ParsedError]:
    """Read an envelope; raises ``InvalidArgument`` if ``body`` is not one."""
    try:
        doc = json.loads(body)
        items = doc["errors"]
        return [
            ParsedError(str(i["code"]), str(i.get("message", "")), i.get("detail")) for i in items
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise errdefs.InvalidArgument(f"not a registry error envelope: {body[:200]!r}") from exc


# The statuses that differ from a code's usual one, decided here and nowhere else.


def chunk_out_of_order(offset: int, start: int) -> RegistryError:
    """A chunk that does not start where the upload ends: 416 with the current ``Range``."""
    return RegistryError(
        ErrorCode.BLOB_UPLOAD_INVALID,
        f"chunk starts at {start} but the upload holds {offset} bytes",
        status=416,
        headers={"Range": upload_range(offset)},
    )


def range_not_satisfiable(size: int) -> RegistryError:
    """A blob ``Range`` request past the end of the blob."""
    return RegistryError(
        ErrorCode.RANGE_INVALID,
        f"requested range not satisfiable for a blob of {size} bytes",
        headers={"Content-Range": f"bytes */{size}"},
    )


def manifest_too_large(limit: int) -> RegistryError:
    return RegistryError(
        ErrorCode.SIZE_INVALID,
        f"manifest is larger than the registry's limit of {limit} bytes",
        status=413,
    )


def read_only() -> RegistryError:
    return RegistryError(ErrorCode.UNSUPPORTED, "the registry is in read-only mode")


def method_not_allowed(method: str, path: str) -> RegistryError:
    return RegistryError(ErrorCode.UNSUPPORTED, f"{method} is not supported on {path}")


def deletes_disabled() -> RegistryError:
    return RegistryError(ErrorCode.UNSUPPORTED, "deletes are disabled on this registry")


def unauthorized(
    challenge: str, message: str | None = None, detail: object = None
) -> RegistryError:
    return RegistryError(
        ErrorCode.UNAUTHORIZED, message, detail=detail, headers={"WWW-Authenticate": challenge}
    )


def token_request_invalid(message: str) -> RegistryError:
    """A token request the endpoint cannot serve (unknown grant type or service)."""
    return RegistryError(ErrorCode.UNSUPPORTED, message, status=400)


def upload_range(offset: int) -> str:
    """The ``Range`` header of an upload holding ``offset`` bytes (``0-0`` when empty, as
    the reference registry sends it)."""
    return f"0-{max(offset - 1, 0)}"


_GENERIC: tuple[tuple[type[errdefs.WharfError], ErrorCode], ...] = (
    (errdefs.InvalidArgument, ErrorCode.MANIFEST_INVALID),
    (errdefs.NotFound, ErrorCode.NAME_UNKNOWN),
    (errdefs.Unauthorized, ErrorCode.UNAUTHORIZED),
    (errdefs.Forbidden, ErrorCode.DENIED),
    (errdefs.Unsupported, ErrorCode.UNSUPPORTED),
    (errdefs.Unavailable, ErrorCode.UNAVAILABLE),
)


def from_exception(exc: BaseException) -> RegistryError:
    """The registry error to answer ``exc`` with (see the module docstring)."""
    if isinstance(exc, RegistryError):
        return exc
    if isinstance(exc, errdefs.Conflict):
        # A ref lock held by a concurrent request on the same upload.
        return RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, exc.message, status=409)
    if isinstance(exc, errdefs.WharfError):
        for error_type, code in _GENERIC:
            if isinstance(exc, error_type):
                return RegistryError(code, exc.message)
        return RegistryError(ErrorCode.UNKNOWN, exc.message)
    return RegistryError(ErrorCode.UNKNOWN, "internal server error")
