"""Registry authentication, sans-IO: challenges, token requests and replies, credentials.

Layer L1b. Imports: stdlib, ``wharf.errdefs``. No sockets here: the client drives the flow
(challenge -> ``build_token_request`` -> its own HTTP call -> ``parse_token_response``), so
every step is testable without a network. Credentials come from docker's config.json::

    $DOCKER_CONFIG/config.json (else ~/.docker/config.json)
    {"auths": {"<host>" | "https://index.docker.io/v1/": {"auth": b64(user:pass),
               "username", "password", "identitytoken"}},
     "credsStore": "<name>", "credHelpers": {"<host>": "<name>"}}
    lookup: credHelpers[host] -> credsStore -> auths[host]; helpers are
    ``docker-credential-<name> get`` (server URL on stdin, {"Username","Secret"} on stdout).

Invariants: secrets never appear in ``repr`` or messages; a token is reused only for the
same (registry, scope set) and only until it expires.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wharf.errdefs import InvalidArgument, Unauthorized

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
MIN_EXPIRES_IN = 60
HELPER_TIMEOUT = 30.0


class AuthScheme(enum.Enum):
    BASIC = "basic"
    BEARER = "bearer"


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge; parameter names are lowercased."""

    scheme: AuthScheme
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password, or an identity (refresh) token. Secrets stay out of repr."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What to send to the token endpoint: ``method`` ``url`` with ``headers`` and ``body``."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    expires_at: float


def _parse_params(text: str, pos: int) -> tuple[dict[str, str], int]:
    params: dict[str, str] = {}
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t,":
            pos += 1
        start = pos
        while pos < n and text[pos] not in "= \t,":
            pos += 1
        name = text[start:pos].lower()
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n or text[pos] != "=":
            # a bare token: the next challenge's scheme begins here
            return params, start
        pos += 1
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos < n and text[pos] == '"':
            pos += 1
            chars: list[str] = []
            while pos < n and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < n:
                    pos += 1
                chars.append(text[pos])
                pos += 1
            if pos >= n:
                raise InvalidArgument(f"unterminated quoted string in challenge: {text!r}")
            pos += 1
            value = "".join(chars)
        else:
            start = pos
            while pos < n and text[pos] not in ", \t":
                pos += 1
            value = text[start:pos]
        if name:
            params[name] = value
    return params, pos


def parse_challenges(header: str) -> list[Challenge]:
    """Challenges in a ``WWW-Authenticate`` value; unknown schemes are skipped."""
    challenges: list[Challenge] = []
    pos, n = 0, len(header)
    while pos < n:
        while pos < n and header[pos] in " \t,":
            pos += 1
        start = pos
        while pos < n and header[pos] not in " \t,":
            pos += 1
        scheme = header[start:pos].lower()
        if not scheme:
            break
        params, pos = _parse_params(header, pos)
        try:
            kind = AuthScheme(scheme)
        except ValueError:
            continue
        challenges.append(Challenge(kind, params))
    return challenges


def build_token_request(
    challenge: Challenge, scopes: Iterable[str], credentials: Credentials | None
) -> TokenRequest:
    """The request for a bearer token answering ``challenge`` for ``scopes``.

    With an identity token it is the OAuth2 refresh-token POST; otherwise a GET carrying
    Basic credentials when we have them, anonymous when not.
    """
    if challenge.scheme is not AuthScheme.BEARER or not challenge.realm:
        raise InvalidArgument("a token request needs a bearer challenge with a realm")
    service = challenge.params.get("service", "")
    wanted = sorted(set(scopes))
    if credentials is not None and credentials.identity_token:
        form = [("grant_type", "refresh_token"), ("refresh_token", credentials.identity_token)]
        form += [("service", service), ("client_id", "wharf")]
        form += [("scope", " ".join(wanted))] if wanted else []
        return TokenRequest(
            "POST",
            challenge.realm,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urllib.parse.urlencode(form).encode(),
        )
    query = ([("service", service)] if service else []) + [("scope", s) for s in wanted]
    sep = "&" if "?" in challenge.realm else "?"
    url = challenge.realm + (sep + urllib.parse.urlencode(query) if query else "")
    headers: dict[str, str] = {}
    if credentials is not None and credentials.username:
        headers["Authorization"] = credentials.basic_header()
    return TokenRequest("GET", url, headers)


def parse_token_response(body: bytes, *, now: float | None = None) -> Token:
    """The token in a token endpoint's JSON reply; ``expires_in`` defaults to, and is at
    least, 60 s."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthorized("token endpoint returned invalid JSON") from exc
    if not isinstance(doc, dict):
        raise Unauthorized("token endpoint returned no JSON object")
    value = doc.get("token") or doc.get("access_token")
    if not isinstance(value, str) or not value:
        raise Unauthorized("token endpoint returned no token")
    expires_in = doc.get("expires_in")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool):
        expires_in = MIN_EXPIRES_IN
    start = time.time() if now is None else now
    return Token(value, start + max(expires_in, MIN_EXPIRES_IN))


class TokenCache:
    """Bearer tokens per (registry, scope set), thread-safe, dropped when expired."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, frozenset[str]], Token] = {}
        self._lock = threading.Lock()

    def get(self, registry: str, scopes: Iterable[str], *, now: float | None = None) -> str | None:
        key = (registry, frozenset(scopes))
        at = time.time() if now is None else now
        with self._lock:
            token = self._tokens.get(key)
            if token is None:
                return None
            # a small margin so a token does not expire in flight
            if token.expires_at - 5 <= at:
                del self._tokens[key]
                return None
            return token.value

    def put(self, registry: str, scopes: Iterable[str], token: Token) -> None:
        with self._lock:
            self._tokens[(registry, frozenset(scopes))] = token


def repository_scope(repository: str, *actions: str) -> str:
    return f"repository:{repository}:{','.join(actions or ('pull',))}"


# -- config.json -------------------------------------------------------------------------


def config_key(host: str) -> str:
    """The key a registry host has in config.json (Docker Hub keeps its v1 URL)."""
    return DOCKER_HUB_KEY if host in DOCKER_HUB_HOSTS else host


def docker_config_path(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    directory = environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".docker" / "config.json"


def _matches(key: str, host: str) -> bool:
    if key == host:
        return True
    # entries are often written as URLs: "https://host/v2/" or "http://host"
    parsed = urllib.parse.urlsplit(key if "://" in key else "//" + key)
    return parsed.netloc == host


def run_credential_helper(
    name: str, server: str, *, env: Mapping[str, str] | None = None
) -> Credentials | None:
    """``docker-credential-<name> get``; None when the helper knows no credentials."""
    try:
        result = subprocess.run(
            [f"docker-credential-{name}", "get"],
            input=server.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            env=None if env is None else dict(env),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unauthorized(f"credential helper docker-credential-{name} failed to run") from exc
    if result.returncode != 0:
        if b"credentials not found" in result.stdout.lower() + result.stderr.lower():
            return None
        raise Unauthorized(f"credential helper {name} exited {result.returncode}")
    try:
        doc = json.loads(result.stdout)
        username, secret = doc["Username"], doc["Secret"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized(f"credential helper {name} gave invalid output") from exc
    if not isinstance(username, str) or not isinstance(secret, str):
        raise Unauthorized(f"credential helper {name} gave invalid output")
    if username == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(username, secret)


def _inline(entry: object, host: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    identity = entry.get("identitytoken")
    username, password = entry.get("username"), entry.get("password")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            username, _, password = base64.b64decode(auth).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgument(f"config.json: invalid auth entry for {host}") from exc
    if isinstance(identity, str) and identity:
        return Credentials(username if isinstance(username, str) else "", identity_token=identity)
    if isinstance(username, str) and username and isinstance(password, str):
        return Credentials(username, password)
    return None


def load_credentials(host: str, *, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``host`` from docker's config.json; None when there are none."""
    path = docker_config_path(env)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.__class__.__name__}") from exc
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: not a JSON object")
    key = config_key(host)
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for name, helper in helpers.items():
            if isinstance(helper, str) and _matches(name, key):
                return run_credential_helper(helper, key, env=env)
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        found = run_credential_helper(store, key, env=env)
        if found is not None:
            return found
    auths = doc.get("auths")
    if isinstance(auths, dict):
        for name, entry in auths.items():
            if _matches(name, key):
                creds = _inline(entry, host)
                if creds is not None:
                    return creds
    return None
