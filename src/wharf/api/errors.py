"""The one place where typed errors become HTTP statuses for the Engine API.

Docker's error body is ``{"message": "..."}``; the status follows moby's errdefs mapping.
"""

from __future__ import annotations

from wharf import errdefs

_STATUS_BY_ERROR: tuple[tuple[type[errdefs.WharfError], int], ...] = (
    (errdefs.InvalidArgument, 400),
    (errdefs.Unauthorized, 401),
    (errdefs.Forbidden, 403),
    (errdefs.NotFound, 404),
    (errdefs.Conflict, 409),
    (errdefs.NotModified, 304),
    (errdefs.Unsupported, 501),
    (errdefs.Unavailable, 503),
    (errdefs.EngineFailure, 500),
)


def status_for(error: errdefs.WharfError) -> int:
    """HTTP status for a typed error; an unclassified WharfError is a 500."""
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 500


def error_body(message: str) -> dict[str, str]:
    return {"message": message}
