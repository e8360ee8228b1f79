"""Typed error categories, raised by every layer and mapped to HTTP status in one place per server.

The tree::

    WharfError
    ├── InvalidArgument      bad input from the caller (400)
    ├── NotFound             no such image, container, blob... (404)
    ├── Conflict             name in use, image in use, wrong state (409)
    ├── Unauthorized         credentials missing or refused (401)
    ├── Forbidden            not allowed for this caller (403)
    ├── NotModified          already in the requested state (304)
    ├── Unavailable          a peer or resource cannot be reached now (503)
    ├── Unsupported          a feature or endpoint we do not support (501)
    └── EngineFailure        the engine itself failed: disk, runtime, bug (500)

Imports nothing from wharf: every layer may import this module.
Raise with context: ``raise NotFound(f"no such image: {ref}") from exc``.
"""

from __future__ import annotations


class WharfError(Exception):
    """Base of every error Wharf raises on purpose; carries a one-line user message."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class InvalidArgument(WharfError):
    """The caller's input is malformed or out of range."""


class NotFound(WharfError):
    """The named object does not exist."""


class Conflict(WharfError):
    """The request conflicts with the current state (name in use, object in use)."""


class Unauthorized(WharfError):
    """Credentials are missing or were refused."""


class Forbidden(WharfError):
    """The caller is known but not allowed to do this."""


class NotModified(WharfError):
    """The object is already in the requested state."""


class Unavailable(WharfError):
    """A peer or resource cannot be reached now; retrying later may work."""


class Unsupported(WharfError):
    """The feature or endpoint is not supported by this version of Wharf."""


class EngineFailure(WharfError):
    """The engine itself failed (disk, runtime, bug)."""
