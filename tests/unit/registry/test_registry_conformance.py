"""The distribution spec's conformance categories, walked with plain HTTP requests.

Pull, push, content discovery and content management, with the error cases the spec lists,
against an in-process registry on 127.0.0.1 (``wharf.registry.testing.running_registry``).
Auth (htpasswd, token), read-only mode and disabled deletes have their own servers below.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from wharf.oci import mediatypes
from wharf.registry.auth import hash_password
from wharf.registry.config import AccessRule, AuthConfig, AuthMode, RegistryConfig, TokenConfig
from wharf.registry.testing import running_registry


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def codes(self) -> list[str]:
        doc = json.loads(self.body)
        assert isinstance(doc, dict)
        return [e["code"] for e in doc["errors"]]


class Client:
    def __init__(self, url: str, auth: str | None = None) -> None:
        self.host = urlsplit(url).netloc
        self.auth = auth

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, timeout=30)
        try:
            all_headers = dict(headers or {})
            if self.auth and "Authorization" not in all_headers:
                all_headers["Authorization"] = self.auth
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: Client, name: str, data: bytes) -> str:
    digest = digest_of(data)
    reply = client("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data)
    assert reply.status == 201, reply.body
    return digest


def image_manifest(
    client: Client,
    name: str,
    layer: bytes,
    *,
    subject: dict[str, object] | None = None,
    **extra: object,
) -> bytes:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {
            "mediaType": mediatypes.OCI_CONFIG,
            "digest": push_blob(client, name, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": mediatypes.OCI_LAYER,
                "digest": push_blob(client, name, layer),
                "size": len(layer),
            }
        ],
        **extra,
    }
    if subject is not None:
        doc["subject"] = subject
    return json.dumps(doc).encode()


def put_manifest(
    client: Client, name: str, ref: str, data: bytes, media_type: str = mediatypes.OCI_MANIFEST
) -> Reply:
    return client("PUT", f"/v2/{name}/manifests/{ref}", data, {"Content-Type": media_type})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root = tmp_path_factory.mktemp("registry")
    with running_registry(RegistryConfig(root=root, max_manifest_bytes=4 * 1024 * 1024)) as url:
        yield Client(url)


# -- end-1 --------------------------------------------------------------------------------


def test_base(registry: Client) -> None:
    reply = registry("GET", "/v2/")
    assert reply.status == 200
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"


# -- pull ---------------------------------------------------------------------------------


def test_pull_manifest_and_blobs(registry: Client) -> None:
    data = image_manifest(registry, "pull/img", b"layer-bytes")
    assert put_manifest(registry, "pull/img", "v1", data).status == 201
    digest = digest_of(data)
    for ref in ("v1", digest):
        head = registry("HEAD", f"/v2/pull/img/manifests/{ref}")
        assert head.status == 200 and head.body == b""
        assert head.headers["Docker-Content-Digest"] == digest
        assert int(head.headers["Content-Length"]) == len(data)
        got = registry(
            "GET", f"/v2/pull/img/manifests/{ref}", headers={"Accept": mediatypes.OCI_MANIFEST}
        )
        assert got.status == 200 and got.body == data
        assert got.headers["Content-Type"] == mediatypes.OCI_MANIFEST
    layer = digest_of(b"layer-bytes")
    blob = registry("GET", f"/v2/pull/img/blobs/{layer}")
    assert blob.status == 200 and blob.body == b"layer-bytes"
    assert blob.headers["Docker-Content-Digest"] == layer
    head = registry("HEAD", f"/v2/pull/img/blobs/{layer}")
    assert head.status == 200 and head.headers["Content-Length"] == "11" and head.body == b""


def test_pull_blob_ranges(registry: Client) -> None:
    data = bytes(range(256)) * 4
    digest = push_blob(registry, "pull/range", data)
    part = registry("GET", f"/v2/pull/range/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert part.status == 206 and part.body == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = registry("GET", f"/v2/pull/range/blobs/{digest}", headers={"Range": "bytes=-5"})
    assert tail.body == data[-5:]
    bad = registry(
        "GET", f"/v2/pull/range/blobs/{digest}", headers={"Range": f"bytes={len(data)}-"}
    )
    assert bad.status == 416


def test_pull_accept_negotiation(registry: Client) -> None:
    data = image_manifest(registry, "pull/accept", b"a")
    put_manifest(registry, "pull/accept", "t", data)
    refused = registry(
        "GET", "/v2/pull/accept/manifests/t", headers={"Accept": mediatypes.DOCKER_MANIFEST}
    )
    assert refused.status == 404 and refused.codes == ["MANIFEST_UNKNOWN"]
    wildcard = registry("GET", "/v2/pull/accept/manifests/t", headers={"Accept": "*/*"})
    assert wildcard.status == 200


def test_pull_errors(registry: Client) -> None:
    unknown = digest_of(b"nobody pushed this")
    reply = registry("GET", f"/v2/pull/img/blobs/{unknown}")
    assert reply.status == 404 and reply.codes == ["BLOB_UNKNOWN"]
    assert registry("HEAD", f"/v2/pull/img/blobs/{unknown}").status == 404
    reply = registry("GET", "/v2/pull/img/manifests/nope")
    assert reply.status == 404 and reply.codes == ["MANIFEST_UNKNOWN"]
    reply = registry("GET", f"/v2/never/pushed/manifests/{unknown}")
    assert reply.status == 404 and reply.codes == ["MANIFEST_UNKNOWN"]
    reply = registry("GET", "/v2/Invalid_Name/manifests/latest")
    assert reply.status == 400 and reply.codes == ["NAME_INVALID"]
    reply = registry("GET", "/v2/pull/img/manifests/bad*tag")
    assert reply.status == 400 and reply.codes == ["TAG_INVALID"]
    reply = registry("GET", "/v2/pull/img/blobs/sha256:tooshort")
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]


def test_blob_of_another_repository_is_invisible(registry: Client) -> None:
    digest = push_blob(registry, "secret/one", b"private")
    reply = registry("GET", f"/v2/secret/two/blobs/{digest}")
    assert reply.status == 404 and reply.codes == ["BLOB_UNKNOWN"]


# -- push ---------------------------------------------------------------------------------


def test_push_monolithic_post_then_put(registry: Client) -> None:
    data = b"monolithic body"
    start = registry("POST", "/v2/push/mono/blobs/uploads/")
    assert start.status == 202
    location = start.headers["Location"]
    assert start.headers["Docker-Upload-UUID"] in location
    done = registry(
        "PUT",
        f"{location}?digest={digest_of(data)}",
        data,
        {"Content-Type": "application/octet-stream"},
    )
    assert done.status == 201
    assert done.headers["Docker-Content-Digest"] == digest_of(data)
    assert registry("GET", done.headers["Location"]).body == data


def test_push_chunked_with_status_and_order_checks(registry: Client) -> None:
    data = bytes(range(200)) * 50
    chunks = [data[:4000], data[4000:8000], data[8000:]]
    location = registry("POST", "/v2/push/chunked/blobs/uploads/").headers["Location"]
    offset = 0
    for chunk in chunks:
        reply = registry(
            "PATCH",
            location,
            chunk,
            {
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Type": "application/octet-stream",
            },
        )
        assert reply.status == 202, reply.body
        offset += len(chunk)
        assert reply.headers["Range"] == f"0-{offset - 1}"
        location = reply.headers["Location"]
        if offset == 4000:
            # Out of order (skips ahead): 416, and the upload keeps its bytes.
            bad = registry("PATCH", location, b"x", {"Content-Range": "9000-9000"})
            assert bad.status == 416
            assert bad.headers["Range"] == "0-3999"
            status = registry("GET", location)
            assert status.status == 204 and status.headers["Range"] == "0-3999"
    done = registry("PUT", f"{location}?digest={digest_of(data)}")
    assert done.status == 201
    assert registry("GET", f"/v2/push/chunked/blobs/{digest_of(data)}").body == data


def test_push_stream_patch_without_content_range(registry: Client) -> None:
    location = registry("POST", "/v2/push/stream/blobs/uploads/").headers["Location"]
    reply = registry("PATCH", location, b"streamed ")
    reply = registry("PATCH", reply.headers["Location"], b"body")
    assert reply.headers["Range"] == "0-12"
    last = registry(
        "PUT", f"{reply.headers['Location']}?digest={digest_of(b'streamed body!')}", b"!"
    )
    assert last.status == 201


def test_push_digest_mismatch(registry: Client) -> None:
    reply = registry(
        "POST", f"/v2/push/bad/blobs/uploads/?digest={digest_of(b'other')}", b"content"
    )
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]
    assert registry("HEAD", f"/v2/push/bad/blobs/{digest_of(b'content')}").status == 404
    assert registry("HEAD", f"/v2/push/bad/blobs/{digest_of(b'other')}").status == 404
    location = registry("POST", "/v2/push/bad/blobs/uploads/").headers["Location"]
    reply = registry("PUT", location, b"content")
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]
    reply = registry("PUT", f"{location}?digest=sha256:zz", b"content")
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]


def test_push_unknown_upload(registry: Client) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        reply = registry(
            method, f"/v2/push/x/blobs/uploads/no-such-upload?digest={digest_of(b'')}", b""
        )
        assert reply.status == 404, method
        assert reply.codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_upload_id_is_bound_to_its_repository(registry: Client) -> None:
    location = registry("POST", "/v2/push/owner/blobs/uploads/").headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    reply = registry("GET", f"/v2/push/thief/blobs/uploads/{upload_id}")
    assert reply.status == 404 and reply.codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_push_cancel(registry: Client) -> None:
    location = registry("POST", "/v2/push/cancel/blobs/uploads/").headers["Location"]
    registry("PATCH", location, b"partial")
    assert registry("DELETE", location).status == 204
    assert registry("GET", location).status == 404


def test_push_mount(registry: Client) -> None:
    digest = push_blob(registry, "mount/source", b"shared layer")
    reply = registry(
        "POST",
        f"/v2/mount/target/blobs/uploads/?{urlencode({'mount': digest, 'from': 'mount/source'})}",
    )
    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/mount/target/blobs/{digest}"
    assert registry("GET", f"/v2/mount/target/blobs/{digest}").body == b"shared layer"
    fallback = registry(
        "POST",
        f"/v2/mount/other/blobs/uploads/?{urlencode({'mount': digest, 'from': 'mount/none'})}",
    )
    assert fallback.status == 202 and "/blobs/uploads/" in fallback.headers["Location"]


def test_push_manifest_errors(registry: Client) -> None:
    missing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": digest_of(b"nope"), "size": 4},
            "layers": [],
        }
    ).encode()
    reply = put_manifest(registry, "push/manifest", "t", missing)
    assert reply.status == 400 and reply.codes == ["MANIFEST_BLOB_UNKNOWN"]
    reply = put_manifest(registry, "push/manifest", "t", b"{not json")
    assert reply.status == 400 and reply.codes == ["MANIFEST_INVALID"]
    good = image_manifest(registry, "push/manifest", b"l")
    reply = put_manifest(registry, "push/manifest", digest_of(b"different"), good)
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]
    reply = put_manifest(registry, "push/manifest", "bad:tag!", good)
    assert reply.status == 400
    reply = put_manifest(registry, "push/manifest", "t", good, mediatypes.OCI_INDEX)
    assert reply.status == 400 and reply.codes == ["MANIFEST_INVALID"]


def test_push_large_manifests(registry: Client) -> None:
    # 4 MB must work (the spec's floor); above the limit is a 413.
    base = json.loads(image_manifest(registry, "push/large", b"l"))
    base["annotations"] = {"pad": ""}
    size = len(json.dumps(base).encode())
    base["annotations"]["pad"] = "x" * (4 * 1024 * 1024 - size)
    data = json.dumps(base).encode()
    assert len(data) == 4 * 1024 * 1024
    assert put_manifest(registry, "push/large", "four-mb", data).status == 201
    assert registry("GET", "/v2/push/large/manifests/four-mb").body == data
    base["annotations"]["pad"] += "y"
    reply = put_manifest(registry, "push/large", "too-big", json.dumps(base).encode())
    assert reply.status == 413


def test_push_docker_types_and_index(registry: Client) -> None:
    config = b'{"architecture":"arm64","os":"linux"}'
    docker = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.DOCKER_MANIFEST,
            "config": {
                "mediaType": mediatypes.DOCKER_CONFIG,
                "digest": push_blob(registry, "push/list", config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    assert (
        put_manifest(
            registry, "push/list", digest_of(docker), docker, mediatypes.DOCKER_MANIFEST
        ).status
        == 201
    )
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.DOCKER_MANIFEST_LIST,
            "manifests": [
                {
                    "mediaType": mediatypes.DOCKER_MANIFEST,
                    "digest": digest_of(docker),
                    "size": len(docker),
                    "platform": {"architecture": "arm64", "os": "linux"},
                }
            ],
        }
    ).encode()
    assert (
        put_manifest(
            registry, "push/list", "multi", listing, mediatypes.DOCKER_MANIFEST_LIST
        ).status
        == 201
    )
    got = registry(
        "GET", "/v2/push/list/manifests/multi", headers={"Accept": mediatypes.DOCKER_MANIFEST_LIST}
    )
    assert got.headers["Content-Type"] == mediatypes.DOCKER_MANIFEST_LIST and got.body == listing
    dangling = listing.replace(digest_of(docker).encode(), digest_of(b"absent").encode())
    reply = put_manifest(registry, "push/list", "broken", dangling, mediatypes.DOCKER_MANIFEST_LIST)
    assert reply.status == 400 and reply.codes == ["MANIFEST_BLOB_UNKNOWN"]


def test_push_manifest_with_several_tags(registry: Client) -> None:
    data = image_manifest(registry, "push/tags", b"t")
    reply = registry(
        "PUT",
        f"/v2/push/tags/manifests/{digest_of(data)}?tag=a&tag=b",
        data,
        {"Content-Type": mediatypes.OCI_MANIFEST},
    )
    assert reply.status == 201
    assert registry("GET", "/v2/push/tags/tags/list").json() == {
        "name": "push/tags",
        "tags": ["a", "b"],
    }


# -- content discovery --------------------------------------------------------------------


def test_tags_list_and_pagination(registry: Client) -> None:
    data = image_manifest(registry, "disc/tags", b"d")
    tags = ["v1", "v2", "v3", "latest", "alpha"]
    for tag in tags:
        assert put_manifest(registry, "disc/tags", tag, data).status == 201
    everything = registry("GET", "/v2/disc/tags/tags/list").json()
    assert everything == {"name": "disc/tags", "tags": sorted(tags)}
    page = registry("GET", "/v2/disc/tags/tags/list?n=2")
    assert page.json() == {"name": "disc/tags", "tags": ["alpha", "latest"]}
    assert page.headers["Link"] == '</v2/disc/tags/tags/list?n=2&last=latest>; rel="next"'
    page = registry("GET", "/v2/disc/tags/tags/list?n=2&last=latest")
    assert page.json()["tags"] == ["v1", "v2"]  # type: ignore[index]
    last = registry("GET", "/v2/disc/tags/tags/list?n=2&last=v2")
    assert last.json()["tags"] == ["v3"] and "Link" not in last.headers  # type: ignore[index]
    reply = registry("GET", "/v2/disc/none/tags/list")
    assert reply.status == 404 and reply.codes == ["NAME_UNKNOWN"]
    reply = registry("GET", "/v2/disc/tags/tags/list?n=minus")
    assert reply.status == 400


def test_catalog_pagination(registry: Client) -> None:
    for name in ("cat/a", "cat/b", "cat/c"):
        push_blob(registry, name, name.encode())
    names = registry("GET", "/v2/_catalog").json()["repositories"]  # type: ignore[index]
    assert {"cat/a", "cat/b", "cat/c"} <= set(names)
    assert names == sorted(names)
    first = registry("GET", "/v2/_catalog?n=1&last=cat")
    assert first.json() == {"repositories": ["cat/a"]}
    assert first.headers["Link"] == '</v2/_catalog?n=1&last=cat%2Fa>; rel="next"'


def test_referrers(registry: Client) -> None:
    subject = image_manifest(registry, "disc/refs", b"subject")
    put_manifest(registry, "disc/refs", "v1", subject)
    sdesc = {
        "mediaType": mediatypes.OCI_MANIFEST,
        "digest": digest_of(subject),
        "size": len(subject),
    }
    sig = image_manifest(
        registry,
        "disc/refs",
        b"sig",
        subject=sdesc,
        artifactType="application/vnd.example.sig",
        annotations={"org.example": "yes"},
    )
    reply = put_manifest(registry, "disc/refs", digest_of(sig), sig)
    assert reply.status == 201 and reply.headers["OCI-Subject"] == digest_of(subject)
    sbom = image_manifest(registry, "disc/refs", b"sbom", subject=sdesc)
    put_manifest(registry, "disc/refs", digest_of(sbom), sbom)
    index = registry("GET", f"/v2/disc/refs/referrers/{digest_of(subject)}")
    assert index.status == 200
    assert index.headers["Content-Type"] == mediatypes.OCI_INDEX
    doc = index.json()
    assert isinstance(doc, dict) and doc["mediaType"] == mediatypes.OCI_INDEX
    by_digest = {m["digest"]: m for m in doc["manifests"]}
    assert by_digest[digest_of(sig)]["artifactType"] == "application/vnd.example.sig"
    assert by_digest[digest_of(sig)]["annotations"] == {"org.example": "yes"}
    assert by_digest[digest_of(sbom)]["artifactType"] == mediatypes.OCI_CONFIG
    filtered = registry(
        "GET",
        f"/v2/disc/refs/referrers/{digest_of(subject)}?artifactType=application/vnd.example.sig",
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [digest_of(sig)]  # type: ignore[index]
    empty = registry("GET", f"/v2/disc/refs/referrers/{digest_of(b'unknown subject')}")
    assert empty.status == 200 and empty.json()["manifests"] == []  # type: ignore[index]
    bad = registry("GET", "/v2/disc/refs/referrers/notadigest")
    assert bad.status == 400


# -- content management -------------------------------------------------------------------


def test_delete_manifest_by_tag_and_digest(registry: Client) -> None:
    data = image_manifest(registry, "mgmt/del", b"m")
    put_manifest(registry, "mgmt/del", "keep", data)
    put_manifest(registry, "mgmt/del", "drop", data)
    assert registry("DELETE", "/v2/mgmt/del/manifests/drop").status == 202
    assert registry("GET", "/v2/mgmt/del/tags/list").json()["tags"] == ["keep"]  # type: ignore[index]
    assert registry("DELETE", f"/v2/mgmt/del/manifests/{digest_of(data)}").status == 202
    assert registry("GET", f"/v2/mgmt/del/manifests/{digest_of(data)}").status == 404
    assert registry("GET", "/v2/mgmt/del/manifests/keep").status == 404
    reply = registry("DELETE", f"/v2/mgmt/del/manifests/{digest_of(data)}")
    assert reply.status == 404 and reply.codes == ["MANIFEST_UNKNOWN"]


def test_delete_blob(registry: Client) -> None:
    digest = push_blob(registry, "mgmt/blob", b"to delete")
    assert registry("DELETE", f"/v2/mgmt/blob/blobs/{digest}").status == 202
    assert registry("GET", f"/v2/mgmt/blob/blobs/{digest}").status == 404
    reply = registry("DELETE", f"/v2/mgmt/blob/blobs/{digest}")
    assert reply.status == 404 and reply.codes == ["BLOB_UNKNOWN"]


def test_unknown_route_and_method(registry: Client) -> None:
    assert registry("GET", "/v2/a/whatever").status == 404
    reply = registry("PUT", "/v2/a/tags/list", b"")
    assert reply.status == 405 and reply.codes == ["UNSUPPORTED"]


def test_metrics_count_requests(registry: Client) -> None:
    registry("GET", "/v2/")
    text = registry("GET", "/metrics").body.decode()
    assert 'wharf_registry_requests_total{method="GET",code="200"}' in text


# -- read-only, deletes disabled ------------------------------------------------------------


def test_read_only_and_deletes_disabled(tmp_path: Path) -> None:
    config = RegistryConfig(root=tmp_path / "r")
    with running_registry(config) as url:
        client = Client(url)
        digest = push_blob(client, "ro/a", b"x")
    with running_registry(replace(config, read_only=True)) as url:
        client = Client(url)
        assert client("GET", f"/v2/ro/a/blobs/{digest}").body == b"x"
        reply = client("POST", "/v2/ro/a/blobs/uploads/")
        assert reply.status == 405 and reply.codes == ["UNSUPPORTED"]
        assert client("DELETE", f"/v2/ro/a/blobs/{digest}").status == 405
    with running_registry(replace(config, delete_enabled=False)) as url:
        reply = Client(url)("DELETE", f"/v2/ro/a/blobs/{digest}")
        assert reply.status == 405 and reply.codes == ["UNSUPPORTED"]


# -- auth ---------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "htpasswd"
    path.write_text(
        f"alice:{hash_password('wonderland', rounds=4)}\nbob:{hash_password('builder', rounds=4)}\n"
    )
    return path


ACCESS = (
    AccessRule("alice", "*", frozenset({"pull", "push", "delete"})),
    AccessRule("bob", "shared/*", frozenset({"pull"})),
)


def test_htpasswd_auth(tmp_path: Path, htpasswd: Path) -> None:
    auth = AuthConfig(mode=AuthMode.HTPASSWD, htpasswd=htpasswd, access=ACCESS)
    with running_registry(RegistryConfig(root=tmp_path / "r", auth=auth)) as url:
        anonymous = Client(url)
        reply = anonymous("GET", "/v2/")
        assert reply.status == 401 and reply.codes == ["UNAUTHORIZED"]
        assert reply.headers["WWW-Authenticate"] == 'Basic realm="wharf-registry"'
        assert Client(url, basic("alice", "wrong"))("GET", "/v2/").status == 401
        alice = Client(url, basic("alice", "wonderland"))
        assert alice("GET", "/v2/").status == 200
        digest = push_blob(alice, "shared/x", b"data")
        bob = Client(url, basic("bob", "builder"))
        assert bob("GET", f"/v2/shared/x/blobs/{digest}").body == b"data"
        denied = bob("POST", "/v2/shared/x/blobs/uploads/")
        assert denied.status == 403 and denied.codes == ["DENIED"]
        assert bob("GET", f"/v2/private/blobs/{digest}").status == 403


def test_token_auth_flow(tmp_path: Path, htpasswd: Path) -> None:
    auth = AuthConfig(
        mode=AuthMode.TOKEN,
        htpasswd=htpasswd,
        access=ACCESS,
        token=TokenConfig(service="test-registry"),
    )
    with running_registry(RegistryConfig(root=tmp_path / "r", auth=auth)) as url:
        anonymous = Client(url)
        reply = anonymous("HEAD", "/v2/team/app/manifests/latest")
        assert reply.status == 401
        challenge = reply.headers["WWW-Authenticate"]
        assert challenge == (
            f'Bearer realm="{url}/token",service="test-registry",scope="repository:team/app:pull"'
        )
        reply = anonymous(
            "GET",
            "/token?"
            + urlencode({"service": "test-registry", "scope": "repository:team/app:pull,push"}),
            headers={"Authorization": basic("alice", "wonderland")},
        )
        assert reply.status == 200
        token = reply.json()
        assert isinstance(token, dict) and token["token"] == token["access_token"]
        assert token["expires_in"] >= 60
        alice = Client(url, f"Bearer {token['token']}")
        digest = push_blob(alice, "team/app", b"token-pushed")
        assert alice("GET", f"/v2/team/app/blobs/{digest}").body == b"token-pushed"
        # The token is for team/app only: another repository is a new challenge.
        other = alice("GET", "/v2/team/other/tags/list")
        assert (
            other.status == 401
            and 'error="insufficient_scope"' in other.headers["WWW-Authenticate"]
        )
        # bob asks for push on a pull-only repository: the token holds only pull.
        reply = anonymous(
            "GET",
            "/token?"
            + urlencode({"service": "test-registry", "scope": "repository:shared/x:pull,push"}),
            headers={"Authorization": basic("bob", "builder")},
        )
        bob = Client(url, f"Bearer {reply.json()['token']}")  # type: ignore[index]
        assert bob("POST", "/v2/shared/x/blobs/uploads/").status == 401
        assert bob("GET", "/v2/shared/x/tags/list").status == 404  # authorized; no such repo
        wrong = anonymous(
            "GET", "/token?service=test-registry", headers={"Authorization": basic("bob", "nope")}
        )
        assert wrong.status == 401
        forged = Client(url, f"Bearer {token['token'][:-4]}AAAA")
        assert forged("GET", f"/v2/team/app/blobs/{digest}").status == 401
        # OAuth2 password grant with a refresh token, then the refresh grant.
        conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
        form = urlencode(
            {
                "grant_type": "password",
                "username": "alice",
                "password": "wonderland",
                "service": "test-registry",
                "scope": "repository:team/app:pull",
                "access_type": "offline",
                "client_id": "test",
            }
        )
        conn.request(
            "POST",
            "/token",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        oauth = json.loads(conn.getresponse().read())
        conn.close()
        assert oauth["access_token"] and oauth["refresh_token"]
        refreshed = Client(url)(
            "POST",
            "/token",
            urlencode(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": oauth["refresh_token"],
                    "service": "test-registry",
                    "scope": "repository:team/app:pull",
                }
            ).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert refreshed.status == 200
        new = Client(url, f"Bearer {refreshed.json()['access_token']}")  # type: ignore[index]
        assert new("GET", f"/v2/team/app/blobs/{digest}").status == 200
