"""Registry credentials on the client side, in Docker's ``config.json`` (as the docker CLI
keeps them): ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``; entries under
``auths`` keyed by registry (Docker Hub: ``https://index.docker.io/v1/``), or in a
``docker-credential-<helper>`` named by ``credHelpers[host]`` or ``credsStore``.

The CLI reads them to build ``X-Registry-Auth`` for push and pull, and writes them after a
successful ``login``. Secrets are never printed or logged.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from wharf.errdefs import InvalidArgument

HUB_KEY = "https://index.docker.io/v1/"
_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io", HUB_KEY)


class Credentials(NamedTuple):
    username: str
    secret: str  # a password, or an identity token when username is "<token>"
    server: str


def config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("DOCKER_CONFIG") or str(Path(env.get("HOME", "/root")) / ".docker")
    return Path(base) / "config.json"


def server_key(host: str) -> str:
    """The config.json key for a registry host (Docker Hub keeps its historical URL)."""
    return HUB_KEY if host in _HUB_HOSTS or not host else host


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from exc
    return raw if isinstance(raw, dict) else {}


def _save(path: Path, config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent="\t")
    os.replace(tmp, path)


def _helper_for(config: dict[str, Any], key: str) -> str:
    helpers = config.get("credHelpers") or {}
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return str(helpers[key])
    store = config.get("credsStore")
    return store if isinstance(store, str) else ""


def _run_helper(helper: str, action: str, payload: str) -> str:
    try:
        done = subprocess.run(
            [f"docker-credential-{helper}", action],
            input=payload,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidArgument(
            f"credential helper docker-credential-{helper} failed: {exc}"
        ) from exc
    if done.returncode != 0:
        message = (done.stdout or done.stderr).strip().splitlines()[-1:] or ["failed"]
        raise InvalidArgument(f"credential helper docker-credential-{helper}: {message[0]}")
    return done.stdout


def load(host: str, *, env: dict[str, str] | None = None) -> Credentials | None:
    key = server_key(host)
    config = _load(config_path(env))
    helper = _helper_for(config, key)
    if helper:
        try:
            reply = json.loads(_run_helper(helper, "get", key) or "{}")
        except (InvalidArgument, ValueError):
            return None
        return Credentials(str(reply.get("Username", "")), str(reply.get("Secret", "")), key)
    entry = (config.get("auths") or {}).get(key)
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Credentials("<token>", str(entry["identitytoken"]), key)
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return Credentials(user, password, key)
    if entry.get("username"):
        return Credentials(str(entry["username"]), str(entry.get("password", "")), key)
    return None


def store(credentials: Credentials, *, env: dict[str, str] | None = None) -> Path:
    path = config_path(env)
    config = _load(path)
    helper = _helper_for(config, credentials.server)
    if helper:
        _run_helper(
            helper,
            "store",
            json.dumps(
                {
                    "ServerURL": credentials.server,
                    "Username": credentials.username,
                    "Secret": credentials.secret,
                }
            ),
        )
        return path
    auths = config.setdefault("auths", {})
    if credentials.username == "<token>":
        auths[credentials.server] = {"identitytoken": credentials.secret}
    else:
        token = base64.b64encode(f"{credentials.username}:{credentials.secret}".encode())
        auths[credentials.server] = {"auth": token.decode()}
    _save(path, config)
    return path


def erase(host: str, *, env: dict[str, str] | None = None) -> bool:
    key = server_key(host)
    path = config_path(env)
    config = _load(path)
    helper = _helper_for(config, key)
    if helper:
        _run_helper(helper, "erase", key)
        return True
    auths = config.get("auths") or {}
    if key not in auths:
        return False
    del auths[key]
    _save(path, config)
    return True


def registry_auth_header(credentials: Credentials | None) -> str:
    """``X-Registry-Auth`` for these credentials (``e30=``, i.e. ``{}``, for none)."""
    if credentials is None:
        return "e30="
    if credentials.username == "<token>":
        body = {"identitytoken": credentials.secret, "serveraddress": credentials.server}
    else:
        body = {
            "username": credentials.username,
            "password": credentials.secret,
            "serveraddress": credentials.server,
        }
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
