"""``EngineClient``: the Docker Engine API, spoken over a ``Transport``, returning typed results.

Version negotiation is the docker CLI's: unless a version is fixed, the first request is
preceded by ``HEAD /_ping`` (``GET`` if the daemon refuses HEAD); the ``Api-Version`` header
gives the daemon's version, and every later path is prefixed ``/v<min(ours, theirs)>``.
A daemon that sends no version is taken to speak 1.24, the oldest Docker still serves.

Errors: a reply with status >= 400 raises the ``client.errors.DaemonError`` of its category
(404 -> ``DaemonNotFound``, a ``wharf.errdefs.NotFound``...) carrying the daemon's message.
Streaming calls (save, load, import) send their request and check its status before they
return, so a bad name fails at the call; what follows is read lazily from the iterator.

Imports only the standard library, ``wharf`` and ``wharf.client``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wharf import __version__
from wharf.client.build import BuildMixin
from wharf.client.containers import ContainersMixin
from wharf.client.errors import DaemonError, StreamError, error_for_status, error_message
from wharf.client.events import EventsMixin
from wharf.client.mixin import encode_filters as encode_filters
from wharf.client.networks import NetworksMixin
from wharf.client.ping import Ping
from wharf.client.transport import Body, Request, Response, Transport, quote_path
from wharf.client.volumes import VolumesMixin
from wharf.errdefs import EngineFailure, InvalidArgument

if TYPE_CHECKING:
    # Defining the result types costs start-up time: each call imports the ones it returns.
    from wharf.client.disk_usage import DiskUsage
    from wharf.client.models import (
        HistoryEntry,
        ImageDeleted,
        ImageInspect,
        ImageSummary,
        JSONMessage,
        PruneReport,
        ServerVersion,
        SystemInfo,
    )

API_VERSION = "1.45"
"""The newest Engine API version this client speaks."""

FALLBACK_API_VERSION = "1.24"
"""What a daemon that sends no ``Api-Version`` is assumed to speak."""

USER_AGENT = f"Wharf-Client/{__version__} (linux)"

Query = Sequence[tuple[str, str]]
Filters = Mapping[str, Sequence[str]]


def parse_api_version(text: str) -> tuple[int, int]:
    major, sep, minor = text.strip().removeprefix("v").partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise InvalidArgument(f"invalid API version {text!r}: expected MAJOR.MINOR")
    return int(major), int(minor)


def negotiate(ours: str, theirs: str) -> str:
    """The version to speak: the older of the two; ours when the daemon's is unusable."""
    if not theirs:
        return FALLBACK_API_VERSION
    try:
        return theirs if parse_api_version(theirs) < parse_api_version(ours) else ours
    except InvalidArgument:
        return ours


def split_reference(reference: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a ``:`` before the last ``/`` is a registry port."""
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, ""


def _flag(on: bool) -> str:
    return "1" if on else "0"


class EngineClient(ContainersMixin, VolumesMixin, BuildMixin, NetworksMixin, EventsMixin):
    """A client of one daemon. Not thread-safe until the version is negotiated.

    Container, exec and pull calls come from ``client.containers``, volume calls from
    ``client.volumes``, build calls from ``client.build``, network calls from
    ``client.networks``, ``events`` from ``client.events``; this class holds the plumbing and
    the image and system calls.
    """

    def __init__(self, transport: Transport, api_version: str | None = None) -> None:
        if api_version is not None:
            parse_api_version(api_version)
        self.transport = transport
        self._fixed_version = api_version
        self._version: str | None = api_version
        self._ping: Ping | None = None

    # --- negotiation

    @property
    def api_version(self) -> str:
        """The version in use, negotiating with the daemon if that has not happened yet."""
        if self._version is None:
            self.ping()
        assert self._version is not None
        return self._version

    @property
    def negotiated(self) -> bool:
        return self._version is not None

    def ping(self) -> Ping:
        """``HEAD /_ping`` (``GET`` if HEAD is refused); negotiates the version as a side effect."""
        try:
            response = self._send(Request("HEAD", "/_ping", headers=self._headers()))
        except DaemonError:
            response = self._send(Request("GET", "/_ping", headers=self._headers()))
        response.close()
        ping = Ping.from_headers(response.headers)
        self._ping = ping
        if self._fixed_version is None:
            self._version = negotiate(API_VERSION, ping.api_version)
        return ping

    @property
    def last_ping(self) -> Ping | None:
        return self._ping

    # --- plumbing

    def _headers(self, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        return (("User-Agent", USER_AGENT), *extra)

    def _send(self, request: Request) -> Response:
        response = self.transport.send(request)
        if response.status >= 400:
            with response:
                body = response.read()
            raise error_for_status(
                response.status, error_message(response.status, response.reason, body)
            )
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        headers: Sequence[tuple[str, str]] = (),
        body: Body = None,
    ) -> Response:
        """Send ``method`` to the versioned ``path``; raise the daemon's error, else stream."""
        request = Request(
            method,
            f"/v{self.api_version}{path}",
            query=tuple(query),
            headers=self._headers(*headers),
            body=body,
        )
        return self._send(request)

    def _json(self, method: str, path: str, *, query: Query = ()) -> Any:
        with self.request(method, path, query=query) as response:
            data = response.read()
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise EngineFailure(f"malformed daemon response to {method} {path}: not JSON") from exc

    # --- system

    def version(self) -> ServerVersion:
        from wharf.client.models import ServerVersion

        return ServerVersion.from_wire(self._json("GET", "/version"))

    def info(self) -> SystemInfo:
        from wharf.client.models import SystemInfo

        return SystemInfo.from_wire(self._json("GET", "/info"))

    def disk_usage(self, types: Sequence[str] = ()) -> DiskUsage:
        """``GET /system/df``; ``types`` (container, image, volume, build-cache) narrows it."""
        from wharf.client.disk_usage import DiskUsage

        query = [("type", kind) for kind in types]
        return DiskUsage.from_wire(self._json("GET", "/system/df", query=query))

    # --- images

    def images(
        self, *, all: bool = False, digests: bool = False, filters: Filters | None = None
    ) -> list[ImageSummary]:
        from wharf.client.models import ImageSummary

        query: list[tuple[str, str]] = []
        if all:
            query.append(("all", "1"))
        if digests:
            query.append(("digests", "1"))
        if (encoded := encode_filters(filters)) is not None:
            query.append(("filters", encoded))
        return ImageSummary.list_from_wire(self._json("GET", "/images/json", query=query))

    def image_inspect(self, name: str) -> ImageInspect:
        from wharf.client.models import ImageInspect

        return ImageInspect.from_wire(self._json("GET", f"/images/{quote_path(name)}/json"))

    def image_history(self, name: str) -> list[HistoryEntry]:
        from wharf.client.models import HistoryEntry

        return HistoryEntry.list_from_wire(self._json("GET", f"/images/{quote_path(name)}/history"))

    def image_tag(self, name: str, repo: str, tag: str = "") -> None:
        query = [("repo", repo)]
        if tag:
            query.append(("tag", tag))
        self.request("POST", f"/images/{quote_path(name)}/tag", query=query).close()

    def image_remove(
        self, name: str, *, force: bool = False, noprune: bool = False
    ) -> list[ImageDeleted]:
        from wharf.client.models import ImageDeleted

        query = []
        if force:
            query.append(("force", "1"))
        if noprune:
            query.append(("noprune", "1"))
        raw = self._json("DELETE", f"/images/{quote_path(name)}", query=query)
        return ImageDeleted.list_from_wire(raw)

    def images_prune(
        self, *, dangling_only: bool = True, filters: Filters | None = None
    ) -> PruneReport:
        from wharf.client.models import PruneReport

        merged = {key: list(values) for key, values in (filters or {}).items()}
        merged["dangling"] = ["true" if dangling_only else "false"]
        query = [("filters", encode_filters(merged) or "{}")]
        return PruneReport.from_wire(self._json("POST", "/images/prune", query=query))

    def image_save(self, names: Sequence[str]) -> Iterator[bytes]:
        """The tar archive of ``names`` (``docker save`` format), as it streams in."""
        if not names:
            raise InvalidArgument("no image names given to save")
        response = self.request("GET", "/images/get", query=[("names", name) for name in names])
        return response.iter_chunks()

    def image_load(self, chunks: Iterable[bytes], *, quiet: bool = False) -> Iterator[JSONMessage]:
        """Upload an image archive; yields the daemon's progress, raising ``StreamError``."""
        response = self.request(
            "POST",
            "/images/load",
            query=[("quiet", _flag(quiet))],
            headers=[("Content-Type", "application/x-tar")],
            body=chunks,
        )
        return _json_messages(response)

    def image_import(
        self,
        chunks: Iterable[bytes] | None,
        *,
        repo: str = "",
        tag: str = "",
        changes: Sequence[str] = (),
        message: str = "",
        source: str = "-",
        platform: str = "",
    ) -> Iterator[JSONMessage]:
        """Create an image from a root filesystem tarball (``chunks``, or the URL ``source``).

        The last message's ``status`` is the new image's id.
        """
        if repo and not tag:
            repo, tag = split_reference(repo)
        query = [("fromSrc", source), ("repo", repo), ("tag", tag), ("message", message)]
        if platform:
            query.append(("platform", platform.lower()))
        query.extend(("changes", change) for change in changes)
        headers = [("Content-Type", "application/x-tar")] if chunks is not None else []
        response = self.request("POST", "/images/create", query=query, headers=headers, body=chunks)
        return _json_messages(response)


def _json_messages(response: Response) -> Iterator[JSONMessage]:
    """Decode a JSON-lines progress stream; an error line raises ``StreamError``."""
    from wharf.client.models import JSONMessage

    is_json = "json" in response.headers.get("content-type", "application/json")
    for line in response.iter_lines():
        text = line.decode("utf-8", "replace").strip()
        if not text:
            continue
        if not is_json:
            yield JSONMessage(stream=text + "\n")
            continue
        try:
            raw = json.loads(text)
        except ValueError as exc:
            response.close()
            raise EngineFailure(f"malformed progress line from the daemon: {text[:200]!r}") from exc
        message = JSONMessage.from_wire(raw)
        if message.error:
            response.close()
            raise StreamError(message.error)
        yield message
