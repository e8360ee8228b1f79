from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import Unauthorized
from wharf.remotes.auth import (
    AuthScheme,
    Challenge,
    Credentials,
    Token,
    TokenCache,
    build_token_request,
    load_credentials,
    parse_challenges,
    parse_token_response,
)


def test_parse_bearer_challenge() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull,push"'
    )
    [challenge] = parse_challenges(header)
    assert challenge.scheme is AuthScheme.BEARER
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.params["service"] == "registry.docker.io"
    assert challenge.params["scope"] == "repository:library/alpine:pull,push"


def test_parse_basic_and_several() -> None:
    got = parse_challenges('Basic realm="Registry Realm", Bearer realm=https://a/t, service=x')
    assert [c.scheme for c in got] == [AuthScheme.BASIC, AuthScheme.BEARER]
    assert got[0].realm == "Registry Realm"
    assert got[1].params == {"realm": "https://a/t", "service": "x"}


def test_unknown_scheme_skipped() -> None:
    assert parse_challenges('Negotiate, Bearer realm="r"') == [
        Challenge(AuthScheme.BEARER, {"realm": "r"})
    ]


@given(st.text(max_size=60))
def test_parse_challenges_never_crashes_unexpectedly(text: str) -> None:
    try:
        parse_challenges(text)
    except Exception as exc:  # only InvalidArgument is allowed
        assert type(exc).__name__ == "InvalidArgument"


def test_token_request_anonymous_and_basic() -> None:
    challenge = Challenge(AuthScheme.BEARER, {"realm": "https://auth/token", "service": "reg"})
    anon = build_token_request(challenge, ["repository:a/b:pull", "repository:c:pull"], None)
    assert anon.method == "GET" and "Authorization" not in anon.headers
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(anon.url).query)
    assert query == {"service": ["reg"], "scope": ["repository:a/b:pull", "repository:c:pull"]}
    creds = Credentials("alice", "s3cret")
    req = build_token_request(challenge, ["repository:a/b:pull"], creds)
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert "s3cret" not in repr(req) and "s3cret" not in repr(creds)


def test_token_request_identity_token_is_oauth_post() -> None:
    challenge = Challenge(AuthScheme.BEARER, {"realm": "https://auth/token", "service": "reg"})
    req = build_token_request(challenge, ["repository:x:pull"], Credentials(identity_token="rt"))
    assert req.method == "POST" and req.body is not None
    form = urllib.parse.parse_qs(req.body.decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["rt"]


def test_token_response_and_cache() -> None:
    token = parse_token_response(b'{"access_token":"abc"}', now=1000.0)
    assert token == Token("abc", 1060.0)
    assert parse_token_response(b'{"token":"t","expires_in":300}', now=0).expires_at == 300
    assert parse_token_response(b'{"token":"t","expires_in":5}', now=0).expires_at == 60
    with pytest.raises(Unauthorized):
        parse_token_response(b'{"nothing":1}')
    cache = TokenCache()
    cache.put("reg", ["s1", "s2"], Token("v", 100.0))
    assert cache.get("reg", ["s2", "s1"], now=50.0) == "v"
    assert cache.get("reg", ["s1"], now=50.0) is None
    assert cache.get("other", ["s1", "s2"], now=50.0) is None
    assert cache.get("reg", ["s1", "s2"], now=99.0) is None


def write_config(tmp: Path, doc: object) -> dict[str, str]:
    (tmp / "config.json").write_text(json.dumps(doc))
    return {"DOCKER_CONFIG": str(tmp), "PATH": f"{tmp}:/usr/bin:/bin"}


def test_config_inline_auths(tmp_path: Path) -> None:
    auth = base64.b64encode(b"bob:pw:with:colons").decode()
    env = write_config(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": auth},
                "https://ghcr.io": {"auth": auth, "identitytoken": "idt"},
            }
        },
    )
    assert load_credentials("docker.io", env=env) == Credentials("bob", "pw:with:colons")
    assert load_credentials("ghcr.io", env=env) == Credentials("bob", identity_token="idt")
    assert load_credentials("quay.io", env=env) is None


def test_config_missing(tmp_path: Path) -> None:
    assert load_credentials("x.io", env={"DOCKER_CONFIG": str(tmp_path)}) is None
    assert load_credentials("x.io", env={"HOME": str(tmp_path)}) is None


def fake_helper(tmp: Path, name: str, answers: dict[str, dict[str, str]]) -> None:
    script = tmp / f"docker-credential-{name}"
    script.write_text(
        "#!/usr/bin/python3\nimport json, sys\n"
        f"answers = {answers!r}\n"
        "assert sys.argv[1] == 'get'\n"
        "server = sys.stdin.read().strip()\n"
        "if server not in answers:\n"
        "    print('credentials not found in native keychain'); sys.exit(1)\n"
        "print(json.dumps(answers[server]))\n"
    )
    script.chmod(0o755)


def test_cred_helpers_and_store(tmp_path: Path) -> None:
    fake_helper(tmp_path, "ecr", {"reg.example": {"Username": "AWS", "Secret": "pw1"}})
    fake_helper(
        tmp_path, "store", {"https://index.docker.io/v1/": {"Username": "<token>", "Secret": "idt"}}
    )
    inline = base64.b64encode(b"u:p").decode()
    env = write_config(
        tmp_path,
        {
            "credHelpers": {"reg.example": "ecr"},
            "credsStore": "store",
            "auths": {"other.example": {"auth": inline}},
        },
    )
    assert load_credentials("reg.example", env=env) == Credentials("AWS", "pw1")
    assert load_credentials("docker.io", env=env) == Credentials(identity_token="idt")
    # the store knows nothing of other.example: the inline entry answers
    assert load_credentials("other.example", env=env) == Credentials("u", "p")
