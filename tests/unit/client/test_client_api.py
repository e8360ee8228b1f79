"""EngineClient against a scripted transport: negotiation, error mapping, typed results, streams."""

from __future__ import annotations

import json

import pytest

from wharf import errdefs
from wharf.client.api import (
    API_VERSION,
    EngineClient,
    encode_filters,
    negotiate,
    split_reference,
)
from wharf.client.errors import (
    DaemonConflict,
    DaemonError,
    DaemonFailure,
    DaemonInvalidArgument,
    DaemonNotFound,
    DaemonUnauthorized,
    StreamError,
)
from wharf.client.fake import (
    FakeTransport,
    error_response,
    json_lines,
    json_response,
    response,
)
from wharf.client.models import DeleteKind

SUMMARY = {
    "Containers": -1,
    "Created": 1700000000,
    "Id": "sha256:" + "a" * 64,
    "Labels": {"maintainer": "me"},
    "ParentId": "",
    "RepoDigests": None,
    "RepoTags": ["busybox:latest"],
    "SharedSize": -1,
    "Size": 4261550,
}


# --- negotiation


@pytest.mark.parametrize(
    ("server", "expected"),
    [("1.47", "1.45"), ("1.45", "1.45"), ("1.41", "1.41"), ("", "1.24"), ("garbage", "1.45")],
)
def test_negotiate_takes_the_older_version(server: str, expected: str) -> None:
    assert negotiate(API_VERSION, server) == expected


def test_first_request_pings_then_uses_the_negotiated_prefix() -> None:
    transport = FakeTransport(ping_version="1.41").on("GET", "/version", json_response({}))
    client = EngineClient(transport)

    client.version()

    assert [(r.method, r.path, r.version) for r in transport.requests] == [
        ("HEAD", "/_ping", None),
        ("GET", "/version", "1.41"),
    ]
    assert client.api_version == "1.41"


def test_ping_falls_back_to_get_when_head_is_refused() -> None:
    transport = FakeTransport(ping_version="1.44", head_ping=False)
    client = EngineClient(transport)

    ping = client.ping()

    assert [r.method for r in transport.requests] == ["HEAD", "GET"]
    assert ping.api_version == "1.44"
    assert ping.os_type == "linux"
    assert client.api_version == "1.44"


def test_fixed_version_skips_negotiation() -> None:
    transport = FakeTransport(ping_version="1.47").on("GET", "/info", json_response({}))
    client = EngineClient(transport, api_version="1.43")

    client.info()

    assert [(r.path, r.version) for r in transport.requests] == [("/info", "1.43")]


def test_invalid_fixed_version_is_refused() -> None:
    with pytest.raises(errdefs.InvalidArgument):
        EngineClient(FakeTransport(), api_version="one")


def test_requests_identify_the_client() -> None:
    transport = FakeTransport().on("GET", "/info", json_response({}))
    EngineClient(transport).info()
    agent = dict(transport.calls()[0].headers)["User-Agent"]
    assert agent.startswith("Wharf-Client/")


# --- errors


@pytest.mark.parametrize(
    ("status", "error_type", "category"),
    [
        (400, DaemonInvalidArgument, errdefs.InvalidArgument),
        (401, DaemonUnauthorized, errdefs.Unauthorized),
        (404, DaemonNotFound, errdefs.NotFound),
        (409, DaemonConflict, errdefs.Conflict),
        (500, DaemonFailure, errdefs.EngineFailure),
        (501, DaemonError, errdefs.Unsupported),
        (503, DaemonError, errdefs.Unavailable),
        (405, DaemonInvalidArgument, errdefs.InvalidArgument),
        (502, DaemonFailure, errdefs.EngineFailure),
    ],
)
def test_error_statuses_map_to_categories_with_the_daemons_message(
    status: int, error_type: type[Exception], category: type[Exception]
) -> None:
    transport = FakeTransport().on("GET", "/images/x/json", error_response(status, "it broke"))
    with pytest.raises(error_type) as caught:
        EngineClient(transport).image_inspect("x")
    assert isinstance(caught.value, category)
    assert isinstance(caught.value, DaemonError)
    assert caught.value.message == "it broke"
    assert caught.value.status == status


def test_plain_text_and_empty_error_bodies() -> None:
    transport = FakeTransport()
    transport.on("GET", "/images/a/json", response(404, b"no such thing\n"))
    transport.on("GET", "/images/b/json", response(500, b""))
    client = EngineClient(transport)
    with pytest.raises(DaemonNotFound, match=r"^no such thing$"):
        client.image_inspect("a")
    with pytest.raises(DaemonFailure, match=r"^500 Internal Server Error$"):
        client.image_inspect("b")


def test_malformed_json_is_an_engine_failure_not_a_crash() -> None:
    transport = FakeTransport().on("GET", "/images/json", response(200, b"{not json"))
    with pytest.raises(errdefs.EngineFailure, match="not JSON"):
        EngineClient(transport).images()


def test_wrongly_typed_field_is_named() -> None:
    bad = dict(SUMMARY, Size="big")
    transport = FakeTransport().on("GET", "/images/json", json_response([bad]))
    with pytest.raises(errdefs.EngineFailure, match=r"image summary\.Size is not a number"):
        EngineClient(transport).images()


# --- images


def test_images_decodes_summaries_and_encodes_options() -> None:
    transport = FakeTransport().on("GET", "/images/json", json_response([SUMMARY]))
    images = EngineClient(transport).images(
        all=True, digests=True, filters={"dangling": ["true"], "reference": ["bu*", "x"]}
    )

    call = transport.calls()[0]
    assert call.param("all") == "1"
    assert call.param("digests") == "1"
    assert json.loads(call.param("filters") or "") == {
        "dangling": {"true": True},
        "reference": {"bu*": True, "x": True},
    }
    (image,) = images
    assert image.id == SUMMARY["Id"]
    assert image.repo_tags == ("busybox:latest",)
    assert image.repo_digests == ()  # null on the wire
    assert image.labels == (("maintainer", "me"),)
    assert image.size == 4261550
    assert image.containers == -1


def test_images_without_options_sends_no_query() -> None:
    transport = FakeTransport().on("GET", "/images/json", json_response([]))
    assert EngineClient(transport).images() == []
    assert transport.calls()[0].query == ()


def test_encode_filters_drops_empty() -> None:
    assert encode_filters({}) is None
    assert encode_filters({"label": []}) is None


def test_image_inspect_keeps_the_raw_document() -> None:
    document = {
        "Id": "sha256:" + "b" * 64,
        "RepoTags": ["localhost:5000/a/b:1"],
        "RepoDigests": [],
        "Created": "2024-01-01T00:00:00Z",
        "Size": 10,
        "Architecture": "amd64",
        "Os": "linux",
        "Config": {"Cmd": ["sh"], "Env": None},
    }
    transport = FakeTransport().on(
        "GET", "/images/localhost:5000/a/b:1/json", json_response(document)
    )
    inspected = EngineClient(transport).image_inspect("localhost:5000/a/b:1")
    assert inspected.id == document["Id"]
    assert inspected.os == "linux"
    assert inspected.raw == document
    assert list(inspected.raw) == list(document)  # key order kept for printing


def test_names_are_escaped_in_paths() -> None:
    transport = FakeTransport().on("GET", "/images/a b?/json", json_response({}))
    EngineClient(transport).image_inspect("a b?")
    assert transport.calls()[0].path == "/images/a b?/json"
    assert transport.calls()[0].raw_path == "/v1.45/images/a%20b%3F/json"


def test_history() -> None:
    entries = [
        {
            "Id": "sha256:" + "c" * 64,
            "Created": 1,
            "CreatedBy": "/bin/sh -c #(nop) CMD",
            "Tags": ["x:1"],
            "Size": 0,
            "Comment": "",
        },
        {"Id": "<missing>", "Created": 0, "CreatedBy": "", "Tags": None, "Size": 5, "Comment": "c"},
    ]
    transport = FakeTransport().on("GET", "/images/x/history", json_response(entries))
    history = EngineClient(transport).image_history("x")
    assert [h.id for h in history] == [entries[0]["Id"], "<missing>"]
    assert history[0].tags == ("x:1",)
    assert history[1].tags == ()
    assert history[1].comment == "c"


def test_tag_sends_repo_and_tag() -> None:
    transport = FakeTransport().on("POST", "/images/busybox/tag", response(201))
    EngineClient(transport).image_tag("busybox", "localhost:5000/tools/bb", "v1")
    assert transport.calls()[0].query == (("repo", "localhost:5000/tools/bb"), ("tag", "v1"))


def test_remove_returns_untagged_and_deleted_in_order() -> None:
    reply = [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:" + "d" * 64}]
    transport = FakeTransport().on("DELETE", "/images/busybox", json_response(reply))
    removed = EngineClient(transport).image_remove("busybox", force=True, noprune=True)
    assert [(r.kind, r.ref) for r in removed] == [
        (DeleteKind.UNTAGGED, "busybox:latest"),
        (DeleteKind.DELETED, "sha256:" + "d" * 64),
    ]
    assert transport.calls()[0].query == (("force", "1"), ("noprune", "1"))


@pytest.mark.parametrize(("dangling_only", "value"), [(True, "true"), (False, "false")])
def test_prune_filters_and_report(dangling_only: bool, value: str) -> None:
    reply = {"ImagesDeleted": [{"Deleted": "sha256:e"}], "SpaceReclaimed": 42}
    transport = FakeTransport().on("POST", "/images/prune", json_response(reply))
    report = EngineClient(transport).images_prune(
        dangling_only=dangling_only, filters={"until": ["24h"]}
    )
    filters = json.loads(transport.calls()[0].param("filters") or "")
    assert filters == {"dangling": {value: True}, "until": {"24h": True}}
    assert report.space_reclaimed == 42
    assert [d.ref for d in report.deleted] == ["sha256:e"]


def test_prune_with_nothing_deleted() -> None:
    transport = FakeTransport().on(
        "POST", "/images/prune", json_response({"ImagesDeleted": None, "SpaceReclaimed": 0})
    )
    report = EngineClient(transport).images_prune()
    assert report.deleted == ()


# --- streams


def test_save_streams_chunks_and_repeats_names() -> None:
    transport = FakeTransport().on(
        "GET", "/images/get", response(200, chunks=[b"part1", b"", b"part2"])
    )
    chunks = EngineClient(transport).image_save(["a", "b:1"])
    assert transport.calls()[0].params("names") == ["a", "b:1"]
    assert list(chunks) == [b"part1", b"part2"]


def test_save_fails_at_the_call_for_an_unknown_name() -> None:
    transport = FakeTransport().on("GET", "/images/get", error_response(404, "No such image: nope"))
    with pytest.raises(DaemonNotFound):
        EngineClient(transport).image_save(["nope"])


def test_save_cut_short_is_an_engine_failure() -> None:
    transport = FakeTransport().on(
        "GET",
        "/images/get",
        response(200, chunks=[b"abc"], fail_with=ConnectionResetError("peer closed")),
    )
    chunks = EngineClient(transport).image_save(["a"])
    assert next(chunks) == b"abc"
    with pytest.raises(errdefs.EngineFailure, match="ended early"):
        next(chunks)


def test_load_streams_the_body_and_yields_messages() -> None:
    transport = FakeTransport().on(
        "POST",
        "/images/load",
        json_lines({"stream": "Loaded image: busybox:latest\n"}),
    )
    messages = list(EngineClient(transport).image_load(iter([b"tar", b"data"]), quiet=True))
    call = transport.calls()[0]
    assert call.body == b"tardata"
    assert call.streamed
    assert call.param("quiet") == "1"
    assert dict(call.headers)["Content-Type"] == "application/x-tar"
    assert [m.stream for m in messages] == ["Loaded image: busybox:latest\n"]


def test_load_error_line_raises_stream_error_after_earlier_messages() -> None:
    transport = FakeTransport().on(
        "POST",
        "/images/load",
        json_lines(
            {"status": "Loading layer", "id": "abc", "progressDetail": {"current": 1, "total": 2}},
            {"errorDetail": {"message": "unexpected EOF"}, "error": "unexpected EOF"},
        ),
    )
    stream = EngineClient(transport).image_load([b"x"])
    first = next(stream)
    assert first.has_progress and first.id == "abc"
    with pytest.raises(StreamError, match="unexpected EOF"):
        next(stream)


def test_import_query_splits_the_reference() -> None:
    transport = FakeTransport().on(
        "POST", "/images/create", json_lines({"status": "sha256:" + "f" * 64})
    )
    messages = list(
        EngineClient(transport).image_import(
            [b"rootfs"],
            repo="localhost:5000/bb:v2",
            changes=['CMD ["sh"]', "ENV A=1"],
            message="hi",
            platform="Linux/AMD64",
        )
    )
    call = transport.calls()[0]
    assert call.param("fromSrc") == "-"
    assert call.param("repo") == "localhost:5000/bb"
    assert call.param("tag") == "v2"
    assert call.param("message") == "hi"
    assert call.param("platform") == "linux/amd64"
    assert call.params("changes") == ['CMD ["sh"]', "ENV A=1"]
    assert call.body == b"rootfs"
    assert messages[-1].status == "sha256:" + "f" * 64


def test_import_from_url_sends_no_body() -> None:
    transport = FakeTransport().on("POST", "/images/create", json_lines({"status": "sha256:1"}))
    list(EngineClient(transport).image_import(None, source="https://example.com/r.tar"))
    call = transport.calls()[0]
    assert call.param("fromSrc") == "https://example.com/r.tar"
    assert call.body is None


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("busybox", ("busybox", "")),
        ("busybox:1", ("busybox", "1")),
        ("localhost:5000/a", ("localhost:5000/a", "")),
        ("localhost:5000/a:v", ("localhost:5000/a", "v")),
    ],
)
def test_split_reference(reference: str, expected: tuple[str, str]) -> None:
    assert split_reference(reference) == expected


def test_version_and_info_decode() -> None:
    transport = FakeTransport()
    transport.on(
        "GET",
        "/version",
        json_response(
            {
                "Platform": {"Name": "Wharf Engine"},
                "Components": [{"Name": "Engine", "Version": "0.1.0", "Details": {"Os": "linux"}}],
                "Version": "0.1.0",
                "ApiVersion": "1.47",
                "MinAPIVersion": "1.24",
                "Os": "linux",
                "Arch": "amd64",
            }
        ),
    )
    transport.on(
        "GET",
        "/info",
        json_response(
            {
                "Containers": 3,
                "Images": 2,
                "Runtimes": {"runc": {"path": "runc"}, "crun": {"path": "crun"}},
                "DefaultRuntime": "crun",
                "DriverStatus": [["Backing Filesystem", "extfs"]],
                "RegistryConfig": {
                    "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": True}},
                    "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                },
                "Warnings": None,
            }
        ),
    )
    client = EngineClient(transport)
    version = client.version()
    assert version.platform_name == "Wharf Engine"
    assert version.components[0].detail("Os") == "linux"
    info = client.info()
    assert info.runtimes == ("crun", "runc")
    assert info.default_runtime == "crun"
    assert info.driver_status == (("Backing Filesystem", "extfs"),)
    assert info.insecure_registries == ("127.0.0.0/8",)
    assert info.warnings == ()
    assert info.raw["Containers"] == 3
