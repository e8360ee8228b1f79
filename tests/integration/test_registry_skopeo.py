"""skopeo against a real ``python -m wharf.registry serve`` on 127.0.0.1.

Images are tiny OCI layouts written by the test (``write_oci_layout``); skopeo pushes them
(OCI and Docker v2s2 formats, a two-platform index), inspects, lists tags, pulls them back
and deletes. Auth (htpasswd basic, bearer token) and TLS each get their own server. Every
server is a child process stopped by PID when its fixture ends.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.oci import mediatypes
from wharf.registry.auth import hash_password
from wharf.registry.testing import LayoutImage, RegistryProcess, registry_process, write_oci_layout

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]


def skopeo(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    auth_file = tmp / "auth.json"
    if not auth_file.exists():
        auth_file.write_text("{}")
    result = subprocess.run(
        ["skopeo", "--insecure-policy", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"REGISTRY_AUTH_FILE": str(auth_file), "HOME": str(tmp), "PATH": "/usr/bin:/bin"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed: {result.stderr}")
    return result


def layout_digest(layout: Path, tag: str) -> str:
    index = json.loads((layout / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return str(entry["digest"])
    raise AssertionError(f"{tag} not in {layout}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    with registry_process(tmp_path_factory.mktemp("skopeo") / "root") as process:
        yield process


def test_push_pull_oci(registry: RegistryProcess, tmp_path: Path) -> None:
    top = write_oci_layout(tmp_path / "src", [LayoutImage({"etc/hello": b"hello from oci"})])
    ref = f"docker://{registry.host}/skopeo/oci:v1"
    skopeo(tmp_path, "copy", "--dest-tls-verify=false", f"oci:{tmp_path}/src:latest", ref)
    raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", ref).stdout.encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == str(top.digest)
    info = json.loads(skopeo(tmp_path, "inspect", "--tls-verify=false", ref).stdout)
    assert info["Digest"] == str(top.digest)
    assert info["Architecture"] == "amd64"
    skopeo(tmp_path, "copy", "--src-tls-verify=false", ref, f"oci:{tmp_path}/back:v1")
    assert layout_digest(tmp_path / "back", "v1") == str(top.digest)
    manifest = json.loads(raw)
    layer = manifest["layers"][0]["digest"]
    pulled = (tmp_path / "back" / "blobs" / "sha256" / layer.split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(pulled).hexdigest() == layer


def test_push_pull_docker_v2s2(registry: RegistryProcess, tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "src", [LayoutImage({"f": b"docker format"})])
    ref = f"docker://{registry.host}/skopeo/v2s2:latest"
    skopeo(
        tmp_path,
        "copy",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        f"oci:{tmp_path}/src:latest",
        ref,
    )
    raw = json.loads(skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", ref).stdout)
    assert raw["mediaType"] == mediatypes.DOCKER_MANIFEST
    assert raw["config"]["mediaType"] == mediatypes.DOCKER_CONFIG
    skopeo(tmp_path, "copy", "--src-tls-verify=false", ref, f"dir:{tmp_path}/pulled")
    assert (tmp_path / "pulled" / "manifest.json").exists()


def test_multi_arch_index(registry: RegistryProcess, tmp_path: Path) -> None:
    images = [LayoutImage({"arch": b"x86"}), LayoutImage({"arch": b"arm"}, architecture="arm64")]
    top = write_oci_layout(tmp_path / "multi", images)
    ref = f"docker://{registry.host}/skopeo/multi:latest"
    skopeo(
        tmp_path, "copy", "--all", "--dest-tls-verify=false", f"oci:{tmp_path}/multi:latest", ref
    )
    raw = skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", ref).stdout.encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == str(top.digest)
    assert json.loads(raw)["mediaType"] == mediatypes.OCI_INDEX
    arm = json.loads(
        skopeo(tmp_path, "--override-arch", "arm64", "inspect", "--tls-verify=false", ref).stdout
    )
    assert arm["Architecture"] == "arm64"
    skopeo(tmp_path, "copy", "--all", "--src-tls-verify=false", ref, f"oci:{tmp_path}/back:all")
    assert layout_digest(tmp_path / "back", "all") == str(top.digest)
    # Re-push as a Docker manifest list: skopeo converts every entry, we store the list.
    listed = f"docker://{registry.host}/skopeo/multi-docker:latest"
    skopeo(
        tmp_path,
        "copy",
        "--all",
        "--format",
        "v2s2",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        ref,
        listed,
    )
    docker_raw = json.loads(
        skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false", listed).stdout
    )
    assert docker_raw["mediaType"] == mediatypes.DOCKER_MANIFEST_LIST


def test_list_tags_and_delete(registry: RegistryProcess, tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "src", [LayoutImage({"f": b"tagged"})])
    for tag in ("a", "b", "c"):
        ref = f"docker://{registry.host}/skopeo/tags:{tag}"
        skopeo(tmp_path, "copy", "--dest-tls-verify=false", f"oci:{tmp_path}/src:latest", ref)
    tags = json.loads(
        skopeo(
            tmp_path, "list-tags", "--tls-verify=false", f"docker://{registry.host}/skopeo/tags"
        ).stdout
    )
    assert tags["Tags"] == ["a", "b", "c"]
    skopeo(tmp_path, "delete", "--tls-verify=false", f"docker://{registry.host}/skopeo/tags:b")
    gone = skopeo(
        tmp_path,
        "inspect",
        "--tls-verify=false",
        f"docker://{registry.host}/skopeo/tags:a",
        check=False,
    )
    # skopeo deletes by digest, so every tag of that manifest goes.
    assert gone.returncode != 0 and "manifest unknown" in gone.stderr
    tags = json.loads(
        skopeo(
            tmp_path, "list-tags", "--tls-verify=false", f"docker://{registry.host}/skopeo/tags"
        ).stdout
    )
    assert tags["Tags"] == []


def test_copy_between_repositories_mounts(registry: RegistryProcess, tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "src", [LayoutImage({"f": b"mount me"})])
    source = f"docker://{registry.host}/skopeo/mount-src:1"
    target = f"docker://{registry.host}/skopeo/mount-dst:1"
    skopeo(tmp_path, "copy", "--dest-tls-verify=false", f"oci:{tmp_path}/src:latest", source)
    skopeo(tmp_path, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", source, target)
    log = (registry.root.parent / f".{registry.root.name}.log").read_text()
    assert "mount=sha256" in log and "from=skopeo" in log
    assert json.loads(skopeo(tmp_path, "inspect", "--tls-verify=false", target).stdout)["Digest"]


# -- auth and TLS -----------------------------------------------------------------------


def write_config(tmp: Path, mode: str, *, tls: bool = False) -> Path:
    htpasswd = tmp / "htpasswd"
    htpasswd.write_text(f"alice:{hash_password('secret', rounds=4)}\n")
    lines = [f'[auth]\nmode = "{mode}"\nhtpasswd = "{htpasswd}"\n']
    if tls:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(tmp / "key.pem"),
                "-out",
                str(tmp / "cert.pem"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        lines.append(f'[tls]\ncert = "{tmp / "cert.pem"}"\nkey = "{tmp / "key.pem"}"\n')
    path = tmp / "registry.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize("mode", ["htpasswd", "token"])
def test_auth_with_credentials(tmp_path: Path, mode: str) -> None:
    write_oci_layout(tmp_path / "src", [LayoutImage({"f": mode.encode()})])
    with registry_process(tmp_path / "root", config_path=write_config(tmp_path, mode)) as registry:
        ref = f"docker://{registry.host}/private/app:1"
        denied = skopeo(
            tmp_path,
            "copy",
            "--dest-tls-verify=false",
            f"oci:{tmp_path}/src:latest",
            ref,
            check=False,
        )
        assert denied.returncode != 0
        assert any(w in denied.stderr.lower() for w in ("unauthorized", "authentication", "denied"))
        wrong = skopeo(
            tmp_path,
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "alice:nope",
            f"oci:{tmp_path}/src:latest",
            ref,
            check=False,
        )
        assert wrong.returncode != 0
        skopeo(
            tmp_path,
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "alice:secret",
            f"oci:{tmp_path}/src:latest",
            ref,
        )
        info = json.loads(
            skopeo(tmp_path, "inspect", "--tls-verify=false", "--creds", "alice:secret", ref).stdout
        )
        assert info["Name"].endswith("private/app")
        tags = json.loads(
            skopeo(
                tmp_path,
                "list-tags",
                "--tls-verify=false",
                "--creds",
                "alice:secret",
                f"docker://{registry.host}/private/app",
            ).stdout
        )
        assert tags["Tags"] == ["1"]


def test_tls(tmp_path: Path) -> None:
    write_oci_layout(tmp_path / "src", [LayoutImage({"f": b"over tls"})])
    config = write_config(tmp_path, "none", tls=True)
    config.write_text(config.read_text().replace('mode = "none"', 'mode = "none"\n'))
    with registry_process(tmp_path / "root", config_path=config) as registry:
        assert registry.url.startswith("https://")
        ref = f"docker://{registry.host}/tls/app:1"
        certs = tmp_path / "certs"
        certs.mkdir()
        shutil.copy(tmp_path / "cert.pem", certs / "ca.crt")
        # Verified against the test's own CA (the self-signed cert), then read back.
        skopeo(tmp_path, "copy", "--dest-cert-dir", str(certs), f"oci:{tmp_path}/src:latest", ref)
        info = json.loads(skopeo(tmp_path, "inspect", "--cert-dir", str(certs), ref).stdout)
        assert info["Architecture"] == "amd64"
