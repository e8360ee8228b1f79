"""Pull, push and login end to end: a real wharfd, wharf's own registry server as a separate
process on 127.0.0.1, the wharf CLI and the docker CLI as clients."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from wharf.registry.auth import hash_password
from wharf.registry.testing import registry_process

pytestmark = pytest.mark.integration


def test_push_then_pull_back_and_run(busybox_daemon, tmp_path: Path) -> None:
    env_home = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    with registry_process(tmp_path / "registry") as registry:
        repo = f"{registry.host}/tools/bb-{uuid.uuid4().hex[:6]}"
        busybox_daemon.wharf("tag", "busybox", f"{repo}:1")
        pushed = busybox_daemon.wharf("push", f"{repo}:1", env_extra=env_home).stdout
        assert f"The push refers to repository [{repo}]" in pushed
        assert "Pushed" in pushed
        digest_line = next(line for line in pushed.splitlines() if "digest: sha256:" in line)
        digest = digest_line.split("digest: ")[1].split()[0]
        raw = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{repo}:1"],
            capture_output=True,
            check=True,
        ).stdout
        import hashlib

        assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == digest
        image_id = json.loads(busybox_daemon.wharf("image", "inspect", f"{repo}:1").stdout)[0]["Id"]
        busybox_daemon.wharf("rmi", f"{repo}:1")

        pulled = busybox_daemon.wharf("pull", f"{repo}:1", env_extra=env_home).stdout
        assert f"Digest: {digest}" in pulled
        assert pulled.strip().endswith(f"{repo}:1")
        inspected = json.loads(busybox_daemon.wharf("image", "inspect", f"{repo}:1").stdout)[0]
        assert inspected["Id"] == image_id
        assert f"{repo}@{digest}" in inspected["RepoDigests"]
        again = busybox_daemon.wharf("pull", f"{repo}:1", env_extra=env_home).stdout
        assert "Image is up to date" in again
        ran = busybox_daemon.wharf("run", "--rm", f"{repo}:1", "echo", "pulled-and-ran")
        assert ran.stdout == "pulled-and-ran\n"
        busybox_daemon.wharf("rmi", f"{repo}:1")
        # run of a missing image pulls it first, as docker does.
        auto = busybox_daemon.wharf("run", "--rm", f"{repo}:1", "echo", "auto")
        assert "Unable to find image" in auto.stderr
        assert auto.stdout.endswith("auto\n")
        docker = shutil.which("docker")
        assert docker is not None
        busybox_daemon.wharf("rmi", f"{repo}:1")
        by_docker = subprocess.run(
            [docker, "pull", f"{repo}:1"],
            env={**busybox_daemon.env, "DOCKER_HOST": busybox_daemon.host, **env_home},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert by_docker.returncode == 0, by_docker.stderr
        assert digest in by_docker.stdout
        busybox_daemon.wharf("rmi", f"{repo}:1")


def test_pull_errors(busybox_daemon, tmp_path: Path) -> None:
    with registry_process(tmp_path / "registry") as registry:
        missing = busybox_daemon.wharf("pull", f"{registry.host}/nothing/here:1", check=False)
        assert missing.returncode == 1
        assert "Error response from daemon: manifest for" in missing.stderr
        assert "not found" in missing.stderr
        assert "Traceback" not in missing.stderr


def test_login_checks_credentials_and_push_uses_them(busybox_daemon, tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{hash_password('secret', rounds=4)}\n")
    config = tmp_path / "registry.toml"
    config.write_text(f'[auth]\nmode = "token"\nhtpasswd = "{htpasswd}"\n')
    docker_config = tmp_path / "docker"
    env_home = {"DOCKER_CONFIG": str(docker_config)}
    with registry_process(tmp_path / "registry", config_path=config) as registry:
        refused = busybox_daemon.wharf(
            "login",
            "-u",
            "alice",
            "--password-stdin",
            registry.host,
            input="wrong\n",
            check=False,
            env_extra=env_home,
        )
        assert refused.returncode == 1
        assert not (docker_config / "config.json").exists()
        repo = f"{registry.host}/private/bb"
        busybox_daemon.wharf("tag", "busybox", f"{repo}:1")
        denied = busybox_daemon.wharf("push", f"{repo}:1", check=False, env_extra=env_home)
        assert denied.returncode == 1
        ok = busybox_daemon.wharf(
            "login",
            "-u",
            "alice",
            "--password-stdin",
            registry.host,
            input="secret\n",
            env_extra=env_home,
        )
        assert "Login Succeeded" in ok.stdout
        stored = json.loads((docker_config / "config.json").read_text())
        assert registry.host in stored["auths"]
        busybox_daemon.wharf("push", f"{repo}:1", env_extra=env_home)
        busybox_daemon.wharf("logout", registry.host, env_extra=env_home)
        assert registry.host not in json.loads((docker_config / "config.json").read_text())["auths"]
        busybox_daemon.wharf("rmi", f"{repo}:1")


def test_pull_all_tags_and_distribution_inspect(busybox_daemon, tmp_path: Path) -> None:
    with registry_process(tmp_path / "registry") as registry:
        repo = f"{registry.host}/many/tags-{uuid.uuid4().hex[:6]}"
        for tag in ("a", "b"):
            busybox_daemon.wharf("tag", "busybox", f"{repo}:{tag}")
            busybox_daemon.wharf("push", f"{repo}:{tag}")
        pushed_digest = json.loads(busybox_daemon.wharf("image", "inspect", f"{repo}:a").stdout)[0][
            "RepoDigests"
        ][0].split("@")[1]
        busybox_daemon.wharf("rmi", f"{repo}:a", f"{repo}:b")
        busybox_daemon.wharf("pull", "-a", repo)
        tags = busybox_daemon.wharf(
            "images", "--filter", f"reference={repo}", "--format", "{{.Tag}}"
        ).stdout.split()
        assert sorted(tags) == ["a", "b"], busybox_daemon.wharf("images", "-a", "--digests").stdout
        reply = busybox_daemon.request("GET", f"/v1.45/distribution/{repo}:a/json")
        assert reply.status == 200
        body = reply.json()
        assert body["Descriptor"]["digest"].startswith("sha256:")
        assert body["Platforms"][0]["os"] == "linux"
        assert body["Descriptor"]["digest"] == pushed_digest
        busybox_daemon.wharf("rmi", f"{repo}:a", f"{repo}:b")
