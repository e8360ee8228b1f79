"""oras (the Python SDK from PyPI) pushes and pulls artifacts, and finds one by referrers.

oras-py 0.2.x has no referrers call of its own, so the lookup goes through its session
(``do_request``) to the referrers API, as the oras CLI's ``discover`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.registry.testing import RegistryProcess, registry_process

oras_provider = pytest.importorskip("oras.provider")
oras_oci = pytest.importorskip("oras.oci")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    with registry_process(tmp_path_factory.mktemp("oras") / "root") as process:
        yield process


def test_push_pull_and_referrers(
    registry: RegistryProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = oras_provider.Registry(hostname=registry.host, insecure=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # oras-py insists that pushed files are under the working directory
    (work / "artifact.txt").write_text("the artifact")
    target = f"{registry.host}/oras/demo:v1"
    response = client.push(target=target, files=["artifact.txt"], quiet=True)
    assert response.status_code == 201
    subject_digest = response.headers["Docker-Content-Digest"]

    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert [Path(p).read_text() for p in pulled] == ["the artifact"]

    manifest = client.get_manifest(target)
    assert manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == "artifact.txt"
    head = client.do_request(f"http://{registry.host}/v2/oras/demo/manifests/v1", "HEAD")
    subject = oras_oci.Subject(
        mediaType="application/vnd.oci.image.manifest.v1+json",
        digest=subject_digest,
        size=int(head.headers["Content-Length"]),
    )

    (work / "signature.sig").write_text("signed: the artifact")
    attached = client.push(
        target=f"{registry.host}/oras/demo:sig",
        files=["signature.sig:application/vnd.example.signature"],
        subject=subject,
        manifest_annotations={"org.example.kind": "signature"},
        quiet=True,
    )
    assert attached.status_code == 201
    assert attached.headers["OCI-Subject"] == subject_digest
    signature_digest = attached.headers["Docker-Content-Digest"]

    found = client.do_request(
        f"http://{registry.host}/v2/oras/demo/referrers/{subject_digest}", "GET"
    )
    assert found.status_code == 200
    referrers = found.json()["manifests"]
    assert [r["digest"] for r in referrers] == [signature_digest]
    assert referrers[0]["annotations"] == {"org.example.kind": "signature"}

    filtered = client.do_request(
        f"http://{registry.host}/v2/oras/demo/referrers/{subject_digest}?artifactType=none/such",
        "GET",
    )
    assert filtered.json()["manifests"] == []
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"

    assert client.get_tags(f"{registry.host}/oras/demo") == ["sig", "v1"]
    client.delete_tag(f"{registry.host}/oras/demo", "sig")
    found = client.do_request(
        f"http://{registry.host}/v2/oras/demo/referrers/{subject_digest}", "GET"
    )
    assert found.json()["manifests"] == []
