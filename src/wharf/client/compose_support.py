"""Image pull and push by reference, with the user's registry credentials: the two calls
``wharf compose pull``/``push`` need beyond ``EngineClient``'s own, kept here so the client
class itself does not grow.

- ``pull_reference``: ``POST /images/create?fromImage=<name>&tag=<tag or digest>``;
- ``push_reference``: ``POST /images/<name>/push?tag=<tag>``;

both with ``X-Registry-Auth`` from ``client.credentials`` (config.json, credential helpers),
as ``wharf pull``/``push`` send it. A reference is normalised first (``busybox`` ->
``docker.io/library/busybox:latest``). Each returns the daemon's progress lines; an error line
raises ``StreamError``.

Imports the standard library, ``wharf.errdefs``, ``wharf.oci.reference`` and ``wharf.client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from wharf.errdefs import InvalidArgument

if TYPE_CHECKING:
    from wharf.client.api import EngineClient
    from wharf.client.models import JSONMessage


def _target(reference: str) -> tuple[str, str, str]:
    """(repository name, tag or digest, registry domain) of ``reference``."""
    from wharf.oci.reference import parse_normalized

    try:
        parsed = parse_normalized(reference)
    except InvalidArgument as exc:
        raise InvalidArgument(f"invalid reference format: {reference}: {exc.message}") from None
    if parsed.digest is not None:
        return parsed.name, str(parsed.digest), parsed.domain
    return parsed.name, parsed.tag or "latest", parsed.domain


def _auth(domain: str) -> str:
    from wharf.client import credentials

    return credentials.registry_auth_header(credentials.load(domain))


def pull_reference(
    client: EngineClient, reference: str, *, platform: str = ""
) -> Iterator[JSONMessage]:
    name, tag, domain = _target(reference)
    return client.image_pull(name, tag, platform=platform, registry_auth=_auth(domain))


def push_reference(client: EngineClient, reference: str) -> Iterator[JSONMessage]:
    from wharf.client.api import _json_messages

    name, tag, domain = _target(reference)
    response = client.request(
        "POST",
        f"/images/{name}/push",
        query=[("tag", tag)],
        headers=[("X-Registry-Auth", _auth(domain))],
    )
    return _json_messages(response)
