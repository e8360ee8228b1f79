"""The image commands end to end: a real wharfd on a private socket and data root, driven by
the real `wharf` CLI (and skopeo and the docker CLI as peers)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _import_busybox(daemon, tar_path: Path, name: str = "busybox:latest") -> str:
    result = daemon.wharf("import", "-c", 'CMD ["sh"]', str(tar_path), name)
    image_id = result.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    return image_id


def _blob_files(data_root: Path) -> list[Path]:
    blobs = data_root / "content" / "blobs" / "sha256"
    return sorted(blobs.iterdir()) if blobs.exists() else []


def _assert_store_consistent(data_root: Path) -> None:
    """Every blob's name is its digest, nothing is half-written, every snapshot is whole."""
    for blob in _blob_files(data_root):
        digest = hashlib.sha256(blob.read_bytes()).hexdigest()
        assert digest == blob.name, f"blob {blob.name} holds sha256:{digest}"
    ingest = data_root / "content" / "ingest"
    assert not ingest.exists() or not any(ingest.iterdir()), list(ingest.iterdir())
    snapshots = data_root / "snapshots"
    if snapshots.exists():
        for entry in snapshots.iterdir():
            if entry.is_dir() and entry.name not in ("l", "tmp"):
                assert (entry / "info.json").exists() or not (entry / "fs").exists(), entry


def test_import_lists_and_inspects(daemon, base_image_tars) -> None:
    image_id = _import_busybox(daemon, base_image_tars.busybox)

    listing = daemon.wharf("images").stdout.splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = listing[1].split()
    assert row[:3] == ["busybox", "latest", image_id[7:19]]

    inspected = json.loads(daemon.wharf("image", "inspect", "busybox").stdout)
    assert inspected[0]["Id"] == image_id
    assert inspected[0]["RepoTags"] == ["busybox:latest"]
    assert inspected[0]["Config"]["Cmd"] == ["sh"]
    assert inspected[0]["RootFS"]["Type"] == "layers"
    assert len(inspected[0]["RootFS"]["Layers"]) == 1
    # The image is reachable by ID prefix too, as in Docker.
    by_prefix = json.loads(daemon.wharf("image", "inspect", image_id[7:15]).stdout)
    assert by_prefix[0]["Id"] == image_id

    quiet = daemon.wharf("images", "-q").stdout.split()
    assert quiet == [image_id[7:19]]


def test_import_is_deterministic_and_retag_leaves_dangling(daemon, base_image_tars) -> None:
    first = _import_busybox(daemon, base_image_tars.busybox, "bb:one")
    # Same content, same changes: configs differ only by creation time, so IDs differ,
    # and the moved name leaves the old image dangling, as Docker does.
    second = _import_busybox(daemon, base_image_tars.busybox, "bb:one")
    assert first != second
    dangling = daemon.wharf("images", "-q", "--filter", "dangling=true").stdout.split()
    assert dangling == [first[7:19]]
    pruned = daemon.wharf("image", "prune", "-f").stdout
    assert first in pruned
    assert daemon.wharf("images", "-q", "--filter", "dangling=true").stdout.split() == []


def test_tag_and_rmi(daemon, base_image_tars) -> None:
    image_id = _import_busybox(daemon, base_image_tars.busybox)
    daemon.wharf("tag", "busybox", "localhost:5000/tools/bb:v1")
    tags = json.loads(daemon.wharf("image", "inspect", image_id).stdout)[0]["RepoTags"]
    assert sorted(tags) == ["busybox:latest", "localhost:5000/tools/bb:v1"]

    refused = daemon.wharf("rmi", image_id[7:19], check=False)
    assert refused.returncode == 1
    assert "must be forced" in refused.stderr

    untagged = daemon.wharf("rmi", "localhost:5000/tools/bb:v1").stdout
    assert untagged.strip() == "Untagged: localhost:5000/tools/bb:v1"
    removed = daemon.wharf("rmi", "busybox").stdout.splitlines()
    assert removed == ["Untagged: busybox:latest", f"Deleted: {image_id}"]
    assert daemon.wharf("images", "-q").stdout.strip() == ""
    # Nothing is left behind: no blob, no layer.
    assert _blob_files(daemon.data_root) == []
    snapshots = daemon.data_root / "snapshots"
    assert not snapshots.exists() or not [
        p for p in snapshots.iterdir() if p.is_dir() and p.name not in ("l", "tmp")
    ]


def test_save_rmi_load_round_trip_and_skopeo(daemon, base_image_tars, tmp_path) -> None:
    image_id = _import_busybox(daemon, base_image_tars.busybox)
    archive = tmp_path / "b.tar"
    daemon.wharf("save", "busybox", "-o", str(archive))
    daemon.wharf("rmi", "busybox")
    loaded = daemon.wharf("load", "-i", str(archive)).stdout
    assert "Loaded image: busybox:latest" in loaded
    inspected = json.loads(daemon.wharf("image", "inspect", "busybox").stdout)
    assert inspected[0]["Id"] == image_id

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    assert manifest[0]["Config"] == f"blobs/sha256/{image_id[7:]}"
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == (
        "docker.io/library/busybox:latest"
    )

    skopeo = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci-archive:{archive}"],
        capture_output=True,
        text=True,
        check=True,
    )
    raw_manifest = json.loads(skopeo.stdout)
    assert raw_manifest["config"]["digest"] == image_id
    # skopeo can also read it as a docker-archive (the legacy manifest.json view).
    config = subprocess.run(
        ["skopeo", "inspect", "--config", f"docker-archive:{archive}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(config.stdout)["config"]["Cmd"] == ["sh"]


def test_load_accepts_skopeo_oci_archive(daemon, base_image_tars, tmp_path) -> None:
    image_id = _import_busybox(daemon, base_image_tars.busybox)
    saved = tmp_path / "saved.tar"
    daemon.wharf("save", "-o", str(saved), "busybox")
    copied = tmp_path / "copied.tar"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            f"docker-archive:{saved}",
            f"docker-archive:{copied}:example.com/copied:v2",
        ],
        check=True,
        capture_output=True,
    )
    loaded = daemon.wharf("load", "-i", str(copied)).stdout
    assert "Loaded image: example.com/copied:v2" in loaded
    inspected = json.loads(daemon.wharf("image", "inspect", "example.com/copied:v2").stdout)
    assert inspected[0]["Config"]["Cmd"] == ["sh"]
    assert (
        inspected[0]["RootFS"]["Layers"]
        == json.loads(daemon.wharf("image", "inspect", image_id).stdout)[0]["RootFS"]["Layers"]
    )


def test_history_and_import_changes(daemon, base_image_tars) -> None:
    daemon.wharf(
        "import",
        "-c",
        "ENV A=1 B=two",
        "-c",
        "WORKDIR /srv",
        "-c",
        'ENTRYPOINT ["/bin/sh", "-c"]',
        "-c",
        "EXPOSE 8080",
        "-m",
        "made in a test",
        str(base_image_tars.busybox),
        "custom:1",
    )
    config = json.loads(daemon.wharf("image", "inspect", "custom:1").stdout)[0]["Config"]
    assert config["Env"] == ["A=1", "B=two"]
    assert config["WorkingDir"] == "/srv"
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["ExposedPorts"] == {"8080/tcp": {}}
    history = daemon.wharf("history", "custom:1").stdout.splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    assert "made in a test" in history[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["image", "inspect", "nosuchimage"], "No such image: nosuchimage"),
        (["image", "inspect", "library/UPPER"], "must be lowercase"),
        (["tag", "busybox", "a:b:c"], "invalid reference format"),
        (["tag", "nosuchimage", "x"], "No such image: nosuchimage"),
        (["rmi", "nosuchimage"], "No such image: nosuchimage"),
        (["history", "nosuchimage"], "No such image: nosuchimage"),
    ],
)
def test_bad_references_get_one_line_errors(daemon, base_image_tars, args, message) -> None:
    _import_busybox(daemon, base_image_tars.busybox)
    result = daemon.wharf(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def _tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


def _store_state(data_root: Path) -> tuple[list[str], list[str]]:
    snapshots = data_root / "snapshots"
    return (
        [p.name for p in _blob_files(data_root)],
        sorted(p.name for p in snapshots.iterdir()) if snapshots.exists() else [],
    )


@pytest.mark.parametrize(
    "kind", ["dotdot", "symlink-escape", "truncated", "garbage", "hardlink-escape"]
)
def test_hostile_or_broken_import_leaves_nothing(daemon, tmp_path, kind) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    if kind == "dotdot":
        data = _tar_bytes([_file("ok", b"x"), _file(f"../../../../../..{outside}/pwned", b"x")])
    elif kind == "symlink-escape":
        data = _tar_bytes([_symlink("esc", str(outside)), _file("esc/pwned", b"x")])
    elif kind == "hardlink-escape":
        link = tarfile.TarInfo("hard")
        link.type = tarfile.LNKTYPE
        link.linkname = "../../../../etc/passwd"
        data = _tar_bytes([(link, None)])
    elif kind == "truncated":
        data = _tar_bytes([_file("big", b"y" * 100_000)])[:50_000]
    else:
        data = b"this is not a tar archive at all" * 100
    source = tmp_path / "bad.tar"
    source.write_bytes(data)
    before = _store_state(daemon.data_root)

    result = daemon.wharf("import", str(source), "bad:1", check=False)

    assert list(outside.iterdir()) == []
    if kind == "symlink-escape":
        # Docker's rule: a symlink is resolved as if the layer root were chroot'ed, so the
        # entry is contained (written under the layer's own /tmp/...), not refused.
        assert result.returncode == 0, result
        return
    assert result.returncode == 1, result
    assert result.stderr.startswith("Error response from daemon: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(outside.iterdir()) == []
    assert _store_state(daemon.data_root) == before
    assert daemon.wharf("images", "-q").stdout.strip() == ""
    _assert_store_consistent(daemon.data_root)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "missing-blob", "bad-json"])
def test_broken_load_leaves_nothing(daemon, base_image_tars, tmp_path, kind) -> None:
    _import_busybox(daemon, base_image_tars.busybox)
    good = tmp_path / "good.tar"
    daemon.wharf("save", "-o", str(good), "busybox")
    daemon.wharf("rmi", "busybox")
    data = good.read_bytes()
    if kind == "truncated":
        data = data[: len(data) // 2]
    elif kind == "garbage":
        data = b"\x00garbage" * 4096
    else:
        entries = []
        with tarfile.open(good) as tar:
            for member in tar.getmembers():
                payload = tar.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
                if kind == "missing-blob" and member.size > 100_000:
                    continue  # drop the layer
                if kind == "bad-json" and member.name == "index.json":
                    payload = b"{not json"
                    member.size = len(payload)
                entries.append((member, payload))
        data = _tar_bytes(entries)
    broken = tmp_path / "broken.tar"
    broken.write_bytes(data)

    result = daemon.wharf("load", "-i", str(broken), check=False)

    assert result.returncode == 1
    assert result.stderr.startswith("Error response from daemon: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert daemon.wharf("images", "-q").stdout.strip() == ""
    daemon.restart()  # the next start collects whatever the failed load wrote
    _assert_store_consistent(daemon.data_root)
    assert _blob_files(daemon.data_root) == []


def test_unwritable_data_root_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    wharfd = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "wharfd"
    result = subprocess.run(
        [
            str(wharfd),
            "-H",
            f"unix://{tmp_path}/s.sock",
            "--data-root",
            str(blocker / "root"),
            "--exec-root",
            str(tmp_path / "exec"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "is not writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_docker_cli_talks_to_wharfd(daemon, base_image_tars) -> None:
    docker = shutil.which("docker")
    assert docker is not None, "the docker CLI is part of this machine's toolset"
    image_id = _import_busybox(daemon, base_image_tars.busybox)
    env = {**daemon.env, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(daemon.data_root)}
    version = subprocess.run(
        [docker, "version"], env=env, capture_output=True, text=True, check=True
    )
    assert "Server:" in version.stdout
    images = subprocess.run([docker, "images"], env=env, capture_output=True, text=True, check=True)
    assert image_id[7:19] in images.stdout
    assert "busybox" in images.stdout
    inspected = subprocess.run(
        [docker, "image", "inspect", "busybox"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(inspected.stdout)[0]["Id"] == image_id
    missing = subprocess.run(
        [docker, "image", "inspect", "nosuch"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "No such image: nosuch" in missing.stderr


def test_docker_sdk_lists_and_inspects(daemon, base_image_tars) -> None:
    import docker

    image_id = _import_busybox(daemon, base_image_tars.busybox)
    client = docker.DockerClient(base_url=daemon.host, version="auto")
    try:
        assert client.ping() is True
        images = client.images.list()
        assert [image.id for image in images] == [image_id]
        assert client.images.get("busybox").tags == ["busybox:latest"]
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("nosuch")
    finally:
        client.close()
