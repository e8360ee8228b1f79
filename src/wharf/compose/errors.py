"""The one error type of compose file loading.

Imports: ``wharf.errdefs`` only.

Every message has the shape ``<file>: <key path>: <reason>``; the file is left out when
the fault belongs to the merged model rather than to one file (``services.web: depends on
undefined service "db"``), and the key path when the fault has no single key
(``dependency cycle detected: a -> b -> a``). Key paths are dotted mapping keys with
``[i]`` for list items: ``services.web.ports[0]``.
"""

from __future__ import annotations

from wharf.errdefs import InvalidArgument


class ComposeError(InvalidArgument):
    """A compose file (or the project merged from several) is invalid."""

    def __init__(self, reason: str, *, file: str | None = None, path: str = "") -> None:
        self.file = file
        self.path = path
        self.reason = reason
        super().__init__(": ".join(part for part in (file, path, reason) if part))


def join_path(path: str, key: str) -> str:
    """``services`` + ``web`` -> ``services.web``; the root path is empty."""
    return f"{path}.{key}" if path else key


def index_path(path: str, index: int) -> str:
    return f"{path}[{index}]"
