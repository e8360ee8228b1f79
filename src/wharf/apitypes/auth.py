"""``X-Registry-Auth``: the credentials API clients send with pull and push, decoded.

The header is base64url JSON (``{"username","password","serveraddress","identitytoken",
"registrytoken"}``; ``e30=`` is ``{}``). Padding is optional, as the docker CLI omits it.
The password never appears in ``repr`` (credentials are never logged).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from wharf.errdefs import InvalidArgument


@dataclass(frozen=True, slots=True)
class RegistryAuth:
    username: str = ""
    password: str = field(default="", repr=False)
    server_address: str = ""
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    @classmethod
    def from_header(cls, header: str | None) -> RegistryAuth:
        if not header:
            return cls()
        padded = header + "=" * (-len(header) % 4)
        try:
            raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (binascii.Error, ValueError) as exc:
            raise InvalidArgument("invalid X-Registry-Auth header: not base64 JSON") from exc
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid X-Registry-Auth header: not a JSON object")

        def text(key: str) -> str:
            value = raw.get(key) or ""
            if not isinstance(value, str):
                raise InvalidArgument(f"invalid X-Registry-Auth header: {key} is not a string")
            return value

        return cls(
            username=text("username"),
            password=text("password"),
            server_address=text("serveraddress"),
            identity_token=text("identitytoken"),
            registry_token=text("registrytoken"),
        )
