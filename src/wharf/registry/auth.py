"""Who may do what: htpasswd (bcrypt) accounts, access rules, bearer tokens.

Layer L3. Imports: stdlib, ``bcrypt``, ``wharf.errdefs``, ``wharf.distribution``,
``wharf.registry.config``. Sans-IO apart from reading the htpasswd and key files: the
HTTP layer passes the ``Authorization`` header in and turns ``RegistryError`` out.

Modes (``config.AuthMode``):

- ``none``: everyone may do everything (the default, meant for loopback).
- ``htpasswd``: HTTP Basic on every request, checked against bcrypt entries; a missing or
  wrong password is 401 with ``WWW-Authenticate: Basic``, an action the rules do not grant
  is 403 ``DENIED``.
- ``token``: the docker token flow. Requests carry ``Authorization: Bearer <token>``; without
  one (or with one that lacks the scope) the answer is 401 with
  ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``. The built-in token endpoint
  (``TokenService``) authenticates with Basic against the same htpasswd and grants the
  requested actions the rules allow (possibly none: the token is still issued, as the
  reference token servers do).

Tokens are compact JWS (HS256, key in ``<root>/auth/token.key``) with the claims of the
docker token spec: ``iss``, ``sub``, ``aud`` (= service), ``exp``, ``nbf``, ``iat``, ``jti``,
``access: [{type, name, actions}]``. Refresh tokens (OAuth2 ``grant_type=refresh_token``)
are the same format with ``"typ": "refresh"`` and no access.

Verified passwords are cached for ``PASSWORD_CACHE_SECONDS`` under a hash of
``user:password``, because bcrypt costs ~50-250 ms and clients authenticate every request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import fnmatch
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from wharf.distribution.errors import (
    ErrorCode,
    RegistryError,
    token_request_invalid,
    unauthorized,
)
from wharf.distribution.scopes import Scope, basic_challenge, bearer_challenge
from wharf.errdefs import InvalidArgument
from wharf.registry.config import AccessRule, AuthConfig, AuthMode

PASSWORD_CACHE_SECONDS = 300.0
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
_ANONYMOUS = ""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an account name, or anonymous (``account is None``)."""

    account: str | None

    @property
    def label(self) -> str:
        return self.account or "-"


ANONYMOUS = Principal(None)


class Htpasswd:
    """bcrypt entries of an htpasswd file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._entries: dict[str, bytes] = {}
        self._mtime = -1.0
        self._cache: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            st = os.stat(self._path)
            if st.st_mtime == self._mtime:
                return
            text = self._path.read_text()
        except OSError as exc:
            raise InvalidArgument(
                f"cannot read htpasswd file {self._path}: {exc.strerror}"
            ) from exc
        entries = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or ":" not in line:
                continue
            user, _, hashed = line.partition(":")
            if hashed.startswith(("$2a$", "$2b$", "$2y$")):
                entries[user] = hashed.encode()
        with self._lock:
            self._entries = entries
            self._mtime = st.st_mtime
            self._cache.clear()

    def verify(self, user: str, password: str) -> bool:
        """Check a password (slow: run it in a worker thread)."""
        self._load()
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        now = time.monotonic()
        with self._lock:
            expiry = self._cache.get(key)
            hashed = self._entries.get(user)
        if expiry is not None and expiry > now:
            return True
        if hashed is None:
            return False
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            with self._lock:
                self._cache[key] = now + PASSWORD_CACHE_SECONDS
        return ok


def hash_password(password: str, rounds: int = 10) -> str:
    """A bcrypt hash for an htpasswd line (``user:<hash>``)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


class AccessPolicy:
    """Which actions an account gets on a resource (``config.AccessRule`` list)."""

    def __init__(self, rules: Iterable[AccessRule], *, anonymous_pull: bool) -> None:
        self._rules = tuple(rules)
        self._anonymous_pull = anonymous_pull

    def granted(self, principal: Principal, scope: Scope) -> frozenset[str]:
        """The subset of ``scope.actions`` this principal may perform."""
        wanted = scope.actions
        allowed: set[str] = set()
        if scope.type == "registry" and scope.name == "catalog":
            if principal.account is not None and (
                not self._rules
                or any(self._matches(r, principal) and r.repository == "*" for r in self._rules)
            ):
                allowed.add("*")
            if principal.account is None and self._anonymous_pull:
                allowed.add("*")
            return frozenset(wanted if "*" in allowed else ())
        if scope.type != "repository":
            return frozenset()
        if principal.account is not None and not self._rules:
            allowed |= {"pull", "push", "delete", "*"}
        for rule in self._rules:
            if self._matches(rule, principal) and fnmatch.fnmatchcase(scope.name, rule.repository):
                allowed |= rule.actions
        if principal.account is None and self._anonymous_pull:
            allowed.add("pull")
        if "*" in allowed:
            return frozenset(wanted)
        if "*" in wanted:
            return frozenset(allowed & {"pull", "push", "delete"})
        return frozenset(wanted & allowed)

    @staticmethod
    def _matches(rule: AccessRule, principal: Principal) -> bool:
        if principal.account is None:
            return rule.account == _ANONYMOUS
        return rule.account in ("*", principal.account)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: float
    refresh_token: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "token": self.token,
            "access_token": self.token,
            "expires_in": self.expires_in,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.issued_at)),
        }
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        return out


@dataclass(frozen=True, slots=True)
class TokenClaims:
    account: str | None
    access: tuple[Scope, ...]
    refresh: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies HS256 tokens for one service."""

    def __init__(self, key: bytes, *, issuer: str, service: str, expires_in: int) -> None:
        if len(key) < 16:
            raise InvalidArgument("token key must be at least 16 bytes")
        self._key = key
        self.issuer = issuer
        self.service = service
        self.expires_in = max(60, expires_in)  # clients assume at least 60 s

    def _sign(self, claims: dict[str, object]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def issue(
        self,
        principal: Principal,
        access: Iterable[Scope],
        *,
        with_refresh: bool = False,
        now: float | None = None,
    ) -> IssuedToken:
        now = time.time() if now is None else now
        claims: dict[str, object] = {
            "iss": self.issuer,
            "sub": principal.account or "",
            "aud": self.service,
            "exp": int(now) + self.expires_in,
            "nbf": int(now) - 1,
            "iat": int(now),
            "jti": secrets.token_hex(12),
            "access": [
                {"type": s.type, "name": s.name, "actions": sorted(s.actions)}
                for s in access
                if s.actions
            ],
        }
        refresh = None
        if with_refresh and principal.account:
            refresh = self._sign(
                {
                    "iss": self.issuer,
                    "sub": principal.account,
                    "aud": self.service,
                    "exp": int(now) + REFRESH_TOKEN_SECONDS,
                    "iat": int(now),
                    "jti": secrets.token_hex(12),
                    "typ": "refresh",
                }
            )
        return IssuedToken(self._sign(claims), self.expires_in, now, refresh)

    def verify(self, token: str, *, now: float | None = None) -> TokenClaims:
        """The claims of a valid token; ``InvalidArgument`` saying why otherwise."""
        now = time.time() if now is None else now
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidArgument("malformed token")
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            signature = _unb64(parts[2])
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error) as exc:
            raise InvalidArgument("malformed token") from exc
        if not hmac.compare_digest(signature, expected):
            raise InvalidArgument("bad token signature")
        if (
            not isinstance(header, dict)
            or header.get("alg") != "HS256"
            or not isinstance(claims, dict)
        ):
            raise InvalidArgument("unsupported token")
        if claims.get("iss") != self.issuer or claims.get("aud") != self.service:
            raise InvalidArgument("token is for another service")
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or exp < now or (isinstance(nbf, int) and nbf > now + 60):
            raise InvalidArgument("token expired")
        access = []
        for item in claims.get("access") or []:
            try:
                access.append(
                    Scope(
                        str(item["type"]), str(item["name"]), frozenset(map(str, item["actions"]))
                    )
                )
            except (KeyError, TypeError) as exc:
                raise InvalidArgument("malformed token access") from exc
        account = claims.get("sub") or None
        return TokenClaims(
            str(account) if account else None, tuple(access), refresh=claims.get("typ") == "refresh"
        )


def load_token_key(path: Path) -> bytes:
    """The HMAC key at ``path``, created (32 random bytes, mode 0600) if missing."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".tmp-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replace a key another process created meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from ``Basic <base64>``; None if not a Basic header."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def parse_bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


class Authenticator:
    """Decides, per request, who the caller is and whether the route's scopes are granted."""

    def __init__(
        self,
        config: AuthConfig,
        *,
        htpasswd: Htpasswd | None = None,
        signer: TokenSigner | None = None,
    ) -> None:
        self.config = config
        self.mode = config.mode
        self.htpasswd = htpasswd
        self.signer = signer
        self.policy = AccessPolicy(config.access, anonymous_pull=config.anonymous_pull)
        if self.mode is not AuthMode.NONE and htpasswd is None:
            raise InvalidArgument(f"auth mode {self.mode.value} needs an htpasswd file")
        if self.mode is AuthMode.TOKEN and signer is None:
            raise InvalidArgument("token auth needs a token signer")

    async def login(self, authorization: str | None) -> Principal | None:
        """The account of valid Basic credentials; ANONYMOUS without any; None if wrong."""
        if not authorization:
            return ANONYMOUS
        credentials = parse_basic(authorization)
        if credentials is None or self.htpasswd is None:
            return None
        ok = await asyncio.to_thread(self.htpasswd.verify, *credentials)
        return Principal(credentials[0]) if ok else None

    async def authorize(
        self,
        authorization: str | None,
        required: list[Scope],
        *,
        realm: str,
        optional: list[Scope] | None = None,
    ) -> tuple[Principal, list[Scope]]:
        """The caller, and which of ``optional`` scopes it also holds; raises 401/403."""
        optional = optional or []
        if self.mode is AuthMode.NONE:
            return ANONYMOUS, optional
        if self.mode is AuthMode.HTPASSWD:
            return await self._authorize_basic(authorization, required, optional)
        return self._authorize_bearer(authorization, required, optional, realm)

    async def _authorize_basic(
        self, authorization: str | None, required: list[Scope], optional: list[Scope]
    ) -> tuple[Principal, list[Scope]]:
        challenge = basic_challenge(self.config.realm)
        principal = await self.login(authorization)
        if principal is None:
            raise unauthorized(challenge, "invalid username or password")
        if principal.account is None and not (
            required and all(self.policy.granted(principal, s) == s.actions for s in required)
        ):
            raise unauthorized(challenge)
        for scope in required:
            if self.policy.granted(principal, scope) != scope.actions:
                raise RegistryError(
                    ErrorCode.DENIED,
                    f"{principal.label} may not {','.join(sorted(scope.actions))} {scope.name}",
                    detail={"scope": str(scope)},
                )
        extra = [s for s in optional if self.policy.granted(principal, s) == s.actions]
        return principal, extra

    def _authorize_bearer(
        self, authorization: str | None, required: list[Scope], optional: list[Scope], realm: str
    ) -> tuple[Principal, list[Scope]]:
        assert self.signer is not None
        service = self.signer.service
        token = parse_bearer(authorization) if authorization else None
        if token is None:
            if (
                not authorization
                and required
                and all(self.policy.granted(ANONYMOUS, s) == s.actions for s in required)
            ):
                return ANONYMOUS, []
            raise unauthorized(bearer_challenge(realm, service, required))
        try:
            claims = self.signer.verify(token)
        except InvalidArgument as exc:
            raise unauthorized(
                bearer_challenge(realm, service, required, "invalid_token"), exc.message
            ) from exc
        if claims.refresh:
            raise unauthorized(
                bearer_challenge(realm, service, required, "invalid_token"),
                "refresh token used as access token",
            )
        missing = [s for s in required if not any(g.covers(s) for g in claims.access)]
        if missing:
            raise unauthorized(
                bearer_challenge(realm, service, required, "insufficient_scope"),
                "insufficient scope",
                detail=[
                    {"Type": s.type, "Name": s.name, "Action": a}
                    for s in missing
                    for a in sorted(s.actions)
                ],
            )
        extra = [s for s in optional if any(g.covers(s) for g in claims.access)]
        return Principal(claims.account), extra


class TokenService:
    """The built-in token endpoint's logic (the HTTP handler only parses and encodes)."""

    def __init__(self, authenticator: Authenticator) -> None:
        if authenticator.signer is None:
            raise InvalidArgument("token service needs a token signer")
        self._auth = authenticator
        self._signer = authenticator.signer

    async def token(
        self,
        *,
        authorization: str | None,
        scopes: list[Scope],
        service: str | None,
        offline: bool = False,
    ) -> IssuedToken:
        """GET /token: Basic (or anonymous) credentials → a token for the allowed scopes."""
        principal = await self._auth.login(authorization)
        if principal is None:
            raise unauthorized(
                basic_challenge(self._auth.config.realm), "invalid username or password"
            )
        return self._grant(principal, scopes, service, offline)

    async def oauth(self, form: dict[str, str], scopes: list[Scope]) -> IssuedToken:
        """POST /token (OAuth2 password or refresh_token grant)."""
        grant = form.get("grant_type", "")
        service = form.get("service")
        if grant == "password":
            user, password = form.get("username", ""), form.get("password", "")
            assert self._auth.htpasswd is not None
            ok = await asyncio.to_thread(self._auth.htpasswd.verify, user, password)
            if not ok:
                raise unauthorized(
                    basic_challenge(self._auth.config.realm), "invalid username or password"
                )
            return self._grant(
                Principal(user), scopes, service, form.get("access_type") == "offline"
            )
        if grant == "refresh_token":
            try:
                claims = self._signer.verify(form.get("refresh_token", ""))
            except InvalidArgument as exc:
                raise unauthorized(basic_challenge(self._auth.config.realm), exc.message) from exc
            if not claims.refresh or claims.account is None:
                raise unauthorized(basic_challenge(self._auth.config.realm), "not a refresh token")
            return self._grant(Principal(claims.account), scopes, service, True)
        raise token_request_invalid(f"unsupported grant_type {grant[:40]!r}")

    def _grant(
        self, principal: Principal, scopes: list[Scope], service: str | None, offline: bool
    ) -> IssuedToken:
        if service and service != self._signer.service:
            raise token_request_invalid(f"unknown service {service[:100]!r}")
        granted = [Scope(s.type, s.name, self._auth.policy.granted(principal, s)) for s in scopes]
        return self._signer.issue(principal, granted, with_refresh=offline)
