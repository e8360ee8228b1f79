"""Errors the Engine API client raises, on top of ``wharf.errdefs``.

- A daemon reply with an error status becomes a ``DaemonError`` that is *also* the matching
  errdefs category (``DaemonNotFound`` is a ``NotFound``), so callers catch by category and the
  CLI can still say "Error response from daemon: ..." for exactly the errors the daemon sent.
  The status -> category table lives here and only here (the client's half of the mapping in
  ``wharf.api.errors``).
- ``DaemonUnreachable`` (an ``Unavailable``): nothing answers at the address; its ``reason``
  tells an absent or refusing socket (worth starting a daemon) from a permission problem.
- ``StreamError`` (an ``EngineFailure``): an ``{"error": ...}`` line inside a 200 JSON stream
  (load, import): the daemon failed after it had already answered.

Imports only ``wharf.errdefs`` and the standard library.
"""

from __future__ import annotations

import enum
import json

from wharf import errdefs


class DaemonError(errdefs.WharfError):
    """The daemon answered with an error status; ``message`` is the daemon's own text."""

    status: int = 500


class DaemonInvalidArgument(errdefs.InvalidArgument, DaemonError):
    status = 400


class DaemonUnauthorized(errdefs.Unauthorized, DaemonError):
    status = 401


class DaemonForbidden(errdefs.Forbidden, DaemonError):
    status = 403


class DaemonNotFound(errdefs.NotFound, DaemonError):
    status = 404


class DaemonConflict(errdefs.Conflict, DaemonError):
    status = 409


class DaemonNotModified(errdefs.NotModified, DaemonError):
    status = 304


class DaemonUnsupported(errdefs.Unsupported, DaemonError):
    status = 501


class DaemonUnavailable(errdefs.Unavailable, DaemonError):
    status = 503


class DaemonFailure(errdefs.EngineFailure, DaemonError):
    status = 500


_BY_STATUS: dict[int, type[DaemonError]] = {
    cls.status: cls
    for cls in (
        DaemonInvalidArgument,
        DaemonUnauthorized,
        DaemonForbidden,
        DaemonNotFound,
        DaemonConflict,
        DaemonNotModified,
        DaemonUnsupported,
        DaemonUnavailable,
        DaemonFailure,
    )
}


def error_for_status(status: int, message: str) -> DaemonError:
    """The typed error for a daemon reply; unknown 4xx are invalid requests, the rest failures."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        # dockerd sends 405/406/413/416... for malformed requests: the caller's fault.
        cls = DaemonInvalidArgument if 400 <= status < 500 else DaemonFailure
    error = cls(message)
    error.status = status
    return error


def error_message(status: int, reason: str, body: bytes) -> str:
    """The daemon's message from an error body: ``{"message": ...}``, else the text itself."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
            return str(decoded["message"]).strip()
    if text:
        return text
    return f"{status} {reason}".strip() if reason else f"HTTP status {status}"


class UnreachableReason(enum.Enum):
    MISSING = "missing"  # no socket file: no daemon was ever started here
    REFUSED = "refused"  # a socket file nobody listens on (a daemon died)
    PERMISSION = "permission"  # the socket exists but we may not connect
    OTHER = "other"


class DaemonUnreachable(errdefs.Unavailable):
    """No daemon answers at the address."""

    def __init__(self, message: str, *, reason: UnreachableReason, host: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.host = host


class StreamError(errdefs.EngineFailure):
    """An error line in a JSON progress stream; ``message`` is the daemon's text."""
