"""Build calls of ``EngineClient`` (a mixin): ``POST /build`` and ``POST /build/prune``.

``image_build`` sends the context tar as a chunked body with the query and secrets header
that ``apitypes.build.BuildOptions`` encodes, checks the status (a refused build raises the
daemon's error at the call) and returns the stream of ``BuildMessage`` lines as they arrive.
An error line raises ``BuildFailed`` (a ``StreamError``) carrying the failing step's exit
code, after every line before it was yielded.

Imports the standard library, ``wharf.errdefs``, ``wharf.client`` and ``wharf.apitypes.build``
(lazily, as the other result types: importing this module stays cheap for the CLI).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from wharf.client.errors import StreamError
from wharf.client.mixin import ClientMixin, filters_query
from wharf.errdefs import EngineFailure, InvalidArgument

if TYPE_CHECKING:
    from wharf.apitypes.build import BuildMessage, BuildOptions, BuildPruneReport
    from wharf.client.transport import Response

Filters = Mapping[str, Sequence[str]]


class BuildFailed(StreamError):
    """The build's error line; ``code`` is the failing step's exit code (1 when not given)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code if code else 1


class BuildMixin(ClientMixin):
    """The build half of ``EngineClient``; relies on its ``request``/``_json`` plumbing."""

    def image_build(
        self, context: Iterable[bytes] | bytes, options: BuildOptions
    ) -> Iterator[BuildMessage]:
        """Build from the tar ``context`` (streamed as given); yields the build's lines."""
        from wharf.apitypes.build import SECRETS_HEADER, SECRETS_HEADER_LIMIT

        headers = [("Content-Type", "application/x-tar")]
        secrets = options.secrets_header()
        if secrets is not None:
            if len(secrets) > SECRETS_HEADER_LIMIT:
                raise InvalidArgument(
                    f"build secrets too large to send: {len(secrets)} bytes encoded, the "
                    f"daemon reads at most {SECRETS_HEADER_LIMIT}"
                )
            headers.append((SECRETS_HEADER, secrets))
        response = self.request(
            "POST", "/build", query=options.to_query(), headers=headers, body=context
        )
        return _build_messages(response)

    def build_cache_prune(
        self, *, all: bool = False, filters: Filters | None = None, keep_storage: int = 0
    ) -> BuildPruneReport:
        """``POST /build/prune``: dangling cache only unless ``all``."""
        from wharf.apitypes.build import BuildPruneReport

        query: list[tuple[str, str]] = [("all", "1")] if all else []
        query += filters_query(filters)
        if keep_storage:
            query.append(("keep-storage", str(keep_storage)))
        raw = self._json("POST", "/build/prune", query=query)
        try:
            return BuildPruneReport.from_wire(raw)
        except InvalidArgument as exc:
            raise EngineFailure(f"malformed daemon response to build prune: {exc}") from exc


def _build_messages(response: Response) -> Iterator[BuildMessage]:
    from wharf.apitypes.build import BuildMessage

    with response:
        for line in response.iter_lines():
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                message = BuildMessage.from_wire(json.loads(text))
            except (ValueError, InvalidArgument) as exc:
                raise EngineFailure(
                    f"malformed build output from the daemon: {text[:200]!r}"
                ) from exc
            if message.error:
                if message.stream:
                    yield BuildMessage(stream=message.stream)
                raise BuildFailed(message.error, message.error_code)
            yield message
