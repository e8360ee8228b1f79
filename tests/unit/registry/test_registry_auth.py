"""htpasswd, access rules, tokens and the Authenticator, without HTTP."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path

import pytest

from wharf.distribution.errors import ErrorCode, RegistryError
from wharf.distribution.scopes import Action, Scope
from wharf.errdefs import InvalidArgument
from wharf.registry.auth import (
    ANONYMOUS,
    AccessPolicy,
    Authenticator,
    Htpasswd,
    Principal,
    TokenService,
    TokenSigner,
    hash_password,
    load_token_key,
)
from wharf.registry.config import AccessRule, AuthConfig, AuthMode

PULL = Scope.repository("team/app", Action.PULL)
PUSH = Scope.repository("team/app", Action.PUSH)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text(f"# comment\nalice:{hash_password('pw', rounds=4)}\nmd5user:$apr1$x$y\n")
    return path


def test_htpasswd_verify_cache_and_reload(htpasswd: Path) -> None:
    users = Htpasswd(htpasswd)
    assert users.verify("alice", "pw")
    assert users.verify("alice", "pw")  # cached
    assert not users.verify("alice", "wrong")
    assert not users.verify("md5user", "anything")  # only bcrypt entries count
    assert not users.verify("nobody", "pw")
    htpasswd.write_text(f"alice:{hash_password('new', rounds=4)}\n")
    os.utime(htpasswd, (time.time() + 5, time.time() + 5))
    assert not users.verify("alice", "pw")
    assert users.verify("alice", "new")


def test_htpasswd_accepts_2y(tmp_path: Path) -> None:
    path = tmp_path / "h"
    path.write_text("u:" + hash_password("pw", rounds=4).replace("$2b$", "$2y$", 1) + "\n")
    assert Htpasswd(path).verify("u", "pw")


def test_policy() -> None:
    rules = (
        AccessRule("alice", "team/*", frozenset({"pull", "push"})),
        AccessRule("*", "public/*", frozenset({"pull"})),
        AccessRule("", "open/*", frozenset({"pull"})),
    )
    policy = AccessPolicy(rules, anonymous_pull=False)
    alice, bob = Principal("alice"), Principal("bob")
    assert policy.granted(alice, Scope.parse("repository:team/app:pull,push,delete")) == {
        "pull",
        "push",
    }
    assert policy.granted(bob, Scope.parse("repository:team/app:pull")) == set()
    assert policy.granted(bob, Scope.parse("repository:public/x:pull,push")) == {"pull"}
    assert policy.granted(ANONYMOUS, Scope.parse("repository:open/x:pull")) == {"pull"}
    assert policy.granted(ANONYMOUS, Scope.parse("repository:public/x:pull")) == set()
    assert policy.granted(alice, Scope.catalog()) == set()  # no "*" repository rule
    assert policy.granted(alice, Scope.parse("repository:team/app:*")) == {"pull", "push"}
    default = AccessPolicy((), anonymous_pull=True)
    assert default.granted(bob, Scope.parse("repository:any:*")) == {"*"}
    assert default.granted(ANONYMOUS, Scope.parse("repository:any:pull,push")) == {"pull"}
    assert default.granted(bob, Scope.catalog()) == {"*"}


def test_tokens_roundtrip_and_rejections() -> None:
    signer = TokenSigner(b"k" * 32, issuer="iss", service="svc", expires_in=10)
    assert signer.expires_in == 60  # never less than a minute
    issued = signer.issue(
        Principal("alice"), [PULL, Scope("repository", "empty", frozenset())], now=1000
    )
    claims = signer.verify(issued.token, now=1010)
    assert claims.account == "alice"
    assert claims.access == (PULL,)
    with pytest.raises(InvalidArgument, match="expired"):
        signer.verify(issued.token, now=2000)
    other = TokenSigner(b"x" * 32, issuer="iss", service="svc", expires_in=60)
    with pytest.raises(InvalidArgument, match="signature"):
        other.verify(issued.token, now=1010)
    other_service = TokenSigner(b"k" * 32, issuer="iss", service="else", expires_in=60)
    with pytest.raises(InvalidArgument, match="another service"):
        other_service.verify(issued.token, now=1010)
    with pytest.raises(InvalidArgument):
        signer.verify("a.b", now=1010)
    refresh = signer.issue(Principal("alice"), [], with_refresh=True, now=1000).refresh_token
    assert refresh is not None and signer.verify(refresh, now=5000).refresh
    with pytest.raises(InvalidArgument):
        TokenSigner(b"short", issuer="i", service="s", expires_in=60)


def test_token_key_created_once(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "token.key"
    key = load_token_key(path)
    assert len(key) == 32 and load_token_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600


def test_authenticator_basic(htpasswd: Path) -> None:
    auth = Authenticator(
        AuthConfig(mode=AuthMode.HTPASSWD, htpasswd=htpasswd), htpasswd=Htpasswd(htpasswd)
    )

    def run(header: str | None, required: list[Scope]) -> Principal:
        return asyncio.run(auth.authorize(header, required, realm="r"))[0]

    assert run(basic("alice", "pw"), [PUSH]) == Principal("alice")
    with pytest.raises(RegistryError) as info:
        run(None, [PULL])
    assert info.value.status == 401 and info.value.headers["WWW-Authenticate"].startswith("Basic ")
    with pytest.raises(RegistryError) as info:
        run(basic("alice", "no"), [])
    assert info.value.code is ErrorCode.UNAUTHORIZED


def test_authenticator_bearer_and_token_service(htpasswd: Path) -> None:
    signer = TokenSigner(b"k" * 32, issuer="i", service="svc", expires_in=60)
    config = AuthConfig(mode=AuthMode.TOKEN, htpasswd=htpasswd, anonymous_pull=True)
    auth = Authenticator(config, htpasswd=Htpasswd(htpasswd), signer=signer)
    service = TokenService(auth)
    # Anonymous pull is allowed without a token; push is a challenge with the scope.
    assert asyncio.run(auth.authorize(None, [PULL], realm="http://r/token"))[0] == ANONYMOUS
    with pytest.raises(RegistryError) as info:
        asyncio.run(auth.authorize(None, [PUSH], realm="http://r/token"))
    assert info.value.headers["WWW-Authenticate"] == (
        'Bearer realm="http://r/token",service="svc",scope="repository:team/app:push"'
    )
    anonymous = asyncio.run(service.token(authorization=None, scopes=[PUSH, PULL], service="svc"))
    assert signer.verify(anonymous.token).access == (PULL,)  # push not granted
    issued = asyncio.run(
        service.token(authorization=basic("alice", "pw"), scopes=[PUSH], service="svc")
    )
    principal, extra = asyncio.run(
        auth.authorize(f"Bearer {issued.token}", [PUSH], realm="r", optional=[PULL])
    )
    assert principal == Principal("alice") and extra == []
    with pytest.raises(RegistryError) as info:
        asyncio.run(service.token(authorization=basic("alice", "bad"), scopes=[], service="svc"))
    assert info.value.status == 401
    with pytest.raises(RegistryError) as info:
        asyncio.run(service.token(authorization=None, scopes=[], service="other"))
    assert info.value.status == 400
    with pytest.raises(RegistryError) as info:
        asyncio.run(service.oauth({"grant_type": "client_credentials"}, []))
    assert info.value.status == 400
