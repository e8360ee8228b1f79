"""Client-side registry credentials in Docker's config.json, and X-Registry-Auth."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

from wharf.apitypes.auth import RegistryAuth
from wharf.client import credentials


def _env(tmp_path: Path) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(tmp_path / "docker"), "PATH": os.environ.get("PATH", "")}


def test_store_load_erase_round_trip(tmp_path: Path) -> None:
    env = _env(tmp_path)
    path = credentials.store(credentials.Credentials("alice", "s3cret", "localhost:5000"), env=env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = json.loads(path.read_text())
    assert base64.b64decode(raw["auths"]["localhost:5000"]["auth"]) == b"alice:s3cret"
    loaded = credentials.load("localhost:5000", env=env)
    assert loaded == credentials.Credentials("alice", "s3cret", "localhost:5000")
    assert credentials.erase("localhost:5000", env=env) is True
    assert credentials.load("localhost:5000", env=env) is None
    assert credentials.erase("localhost:5000", env=env) is False


def test_docker_hub_uses_its_historical_key(tmp_path: Path) -> None:
    env = _env(tmp_path)
    credentials.store(
        credentials.Credentials("bob", "pw", credentials.server_key("docker.io")), env=env
    )
    raw = json.loads(credentials.config_path(env).read_text())
    assert list(raw["auths"]) == ["https://index.docker.io/v1/"]
    assert credentials.load("docker.io", env=env) is not None


def test_identity_tokens_and_header(tmp_path: Path) -> None:
    env = _env(tmp_path)
    credentials.store(credentials.Credentials("<token>", "refresh-me", "ghcr.io"), env=env)
    loaded = credentials.load("ghcr.io", env=env)
    assert loaded is not None
    decoded = RegistryAuth.from_header(credentials.registry_auth_header(loaded))
    assert decoded.identity_token == "refresh-me"
    assert decoded.server_address == "ghcr.io"
    assert "refresh-me" not in repr(decoded)
    assert credentials.registry_auth_header(None) == "e30="
    assert RegistryAuth.from_header("e30=").empty


def test_credential_helper_is_used(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = get ]; then read host; '
        'echo "{\\"Username\\":\\"helped\\",\\"Secret\\":\\"from-helper-$host\\"}"; fi\n'
    )
    helper.chmod(0o755)
    env = {"DOCKER_CONFIG": str(tmp_path / "docker"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    credentials.config_path(env).parent.mkdir(parents=True)
    credentials.config_path(env).write_text(json.dumps({"credHelpers": {"reg.example": "fake"}}))
    old_path = os.environ["PATH"]
    os.environ["PATH"] = env["PATH"]
    try:
        loaded = credentials.load("reg.example", env=env)
    finally:
        os.environ["PATH"] = old_path
    assert loaded == credentials.Credentials("helped", "from-helper-reg.example", "reg.example")
