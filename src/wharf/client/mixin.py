"""``ClientMixin``: the plumbing every call group of ``EngineClient`` shares.

The call groups (``client.volumes``, ``client.build``, ``client.networks``, ``client.events``)
are mixins of ``EngineClient``; ``request`` and ``_json`` are defined by ``client.api``, which
imports the mixins, so they are only declared here for the type checker. What the groups
build on top of them (a JSON POST, a ``filters`` query) lives here once.

Imports only the standard library, ``wharf.errdefs`` and ``wharf.client.transport`` (types).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wharf.errdefs import EngineFailure

if TYPE_CHECKING:
    from wharf.client.transport import Body, Response

Filters = Mapping[str, Sequence[str]]

JSON_HEADER = ("Content-Type", "application/json")


def encode_filters(filters: Filters | None) -> str | None:
    """Docker's ``filters`` query value: ``{"key": {"value": true}}``, understood by every API."""
    if not filters:
        return None
    encoded = {key: dict.fromkeys(values, True) for key, values in filters.items() if values}
    return json.dumps(encoded, separators=(",", ":"), sort_keys=True) if encoded else None


def filters_query(filters: Filters | None) -> list[tuple[str, str]]:
    """The ``filters`` query pair, or none when no filter has a value."""
    encoded = encode_filters(filters)
    return [("filters", encoded)] if encoded is not None else []


class ClientMixin:
    """Base of the ``EngineClient`` call groups; relies on its ``request``/``_json``."""

    if TYPE_CHECKING:

        def request(
            self,
            method: str,
            path: str,
            *,
            query: Sequence[tuple[str, str]] = (),
            headers: Sequence[tuple[str, str]] = (),
            body: Body = None,
        ) -> Response: ...

        def _json(
            self, method: str, path: str, *, query: Sequence[tuple[str, str]] = ()
        ) -> Any: ...

    def _post_json(
        self, path: str, payload: object, *, query: Sequence[tuple[str, str]] = ()
    ) -> Any:
        """POST ``payload`` as JSON; the decoded reply, or None when the body is empty."""
        with self.request(
            "POST",
            path,
            query=query,
            headers=[JSON_HEADER],
            body=json.dumps(payload, separators=(",", ":")).encode(),
        ) as response:
            data = response.read()
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise EngineFailure(f"malformed daemon response to POST {path}: not JSON") from exc
