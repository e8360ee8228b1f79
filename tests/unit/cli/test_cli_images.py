"""Image commands' output shapes and requests, against a scripted daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import NOW, RunWharf

from wharf.cli.formatting import go_time
from wharf.client.fake import (
    FakeTransport,
    RecordedRequest,
    error_response,
    json_lines,
    json_response,
    response,
)
from wharf.client.transport import Response

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
DIGEST = "sha256:" + "d" * 64


def summary(image_id: str = A, tags: list[str] | None = None, **extra: object) -> dict[str, object]:
    return {
        "Containers": -1,
        "Created": int(NOW - 180),
        "Id": image_id,
        "Labels": None,
        "ParentId": "",
        "RepoDigests": extra.pop("digests", []),
        "RepoTags": ["busybox:latest"] if tags is None else tags,
        "SharedSize": -1,
        "Size": 4261550,
        **extra,
    }


def images_daemon(*images: dict[str, object]) -> FakeTransport:
    return FakeTransport().on("GET", "/images/json", lambda _r: json_response(list(images)))


# --- images


def test_images_default_table(wharf: RunWharf) -> None:
    result = wharf(images_daemon(summary()), "images")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\n"
        "busybox      latest    aaaaaaaaaaaa   3 minutes ago   4.26MB\n"
    )


def test_images_with_nothing_prints_the_header(wharf: RunWharf) -> None:
    result = wharf(images_daemon(), "image", "ls")
    assert result.stdout == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"


def test_one_row_per_tag_and_dangling_rows(wharf: RunWharf) -> None:
    daemon = images_daemon(
        summary(A, ["busybox:latest", "docker.io/library/busybox:1.36", "localhost:5000/x/y:v1"]),
        summary(B, [], Created=int(NOW - 3 * 86400), Size=0),
    )
    lines = wharf(daemon, "images").stdout.splitlines()
    assert [line.split()[:3] for line in lines[1:]] == [
        ["busybox", "latest", "aaaaaaaaaaaa"],
        ["busybox", "1.36", "aaaaaaaaaaaa"],
        ["localhost:5000/x/y", "v1", "aaaaaaaaaaaa"],
        ["<none>", "<none>", "bbbbbbbbbbbb"],
    ]
    assert lines[-1].endswith("   3 days ago      0B")


def test_quiet_no_trunc_and_all(wharf: RunWharf) -> None:
    daemon = images_daemon(summary(A, ["a:1", "b:2"]))
    result = wharf(daemon, "images", "-q", "-a", "--no-trunc")
    assert result.stdout == f"{A}\n{A}\n"
    assert daemon.calls()[0].param("all") == "1"


def test_digests_column_and_digest_only_rows(wharf: RunWharf) -> None:
    daemon = images_daemon(
        summary(A, ["busybox:latest"], digests=[f"busybox@{DIGEST}"]),
        summary(B, [], digests=[f"alpine@{DIGEST}"]),
    )
    lines = wharf(daemon, "images", "--digests").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:4] == ["busybox", "latest", DIGEST, "aaaaaaaaaaaa"]
    assert lines[2].split()[:4] == ["alpine", "<none>", DIGEST, "bbbbbbbbbbbb"]
    assert daemon.calls()[0].param("digests") == "1"


def test_digest_only_image_without_digests_flag(wharf: RunWharf) -> None:
    daemon = images_daemon(summary(B, [], digests=[f"alpine@{DIGEST}"]))
    row = wharf(daemon, "images").stdout.splitlines()[1]
    assert row.split()[:3] == ["alpine", "<none>", "bbbbbbbbbbbb"]


def test_format_json_is_one_object_per_line_like_docker(wharf: RunWharf) -> None:
    daemon = images_daemon(summary(), summary(B, ["alpine:3"]))
    lines = wharf(daemon, "images", "--format", "json").stdout.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "Containers": "N/A",
        "CreatedAt": go_time(NOW - 180),
        "CreatedSince": "3 minutes ago",
        "Digest": "<none>",
        "ID": "aaaaaaaaaaaa",
        "Repository": "busybox",
        "SharedSize": "N/A",
        "Size": "4.26MB",
        "Tag": "latest",
        "UniqueSize": "N/A",
        "VirtualSize": "4.262MB",
    }
    assert list(first) == sorted(first)
    assert '"Digest":"\\u003cnone\\u003e"' in lines[0]  # Go's HTML escaping, as docker prints


def test_format_template_and_table_template(wharf: RunWharf) -> None:
    daemon = images_daemon(summary(), summary(B, ["alpine:3"]))
    result = wharf(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert result.stdout == "busybox:latest\nalpine:3\n"
    table = wharf(daemon, "images", "--format", "table {{.ID}}\\t{{.Size}}").stdout
    assert table == ("IMAGE ID       SIZE\naaaaaaaaaaaa   4.26MB\nbbbbbbbbbbbb   4.26MB\n")


def test_unknown_template_field_is_an_error(wharf: RunWharf) -> None:
    result = wharf(images_daemon(summary()), "images", "--format", "{{.Nope}}")
    assert result.exit_code == 1
    assert "can't evaluate field Nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_filters_and_reference_argument_become_the_filters_query(wharf: RunWharf) -> None:
    daemon = images_daemon()
    wharf(daemon, "images", "-f", "dangling=true", "--filter", "label=a=b", "busy*")
    filters = json.loads(daemon.calls()[0].param("filters") or "")
    assert filters == {
        "dangling": {"true": True},
        "label": {"a=b": True},
        "reference": {"busy*": True},
    }


def test_bad_filter_is_a_flag_error(wharf: RunWharf) -> None:
    result = wharf(images_daemon(), "images", "-f", "dangling")
    assert result.exit_code == 125
    assert "bad format of filter (expected name=value)" in result.stderr


def test_images_takes_at_most_one_argument(wharf: RunWharf) -> None:
    result = wharf(None, "images", "a", "b")
    assert result.exit_code == 1
    assert result.stderr.startswith("wharf: 'wharf images' requires at most 1 argument\n")


# --- history


def history_daemon() -> FakeTransport:
    entries = [
        {
            "Id": A,
            "Created": int(NOW - 7200),
            "CreatedBy": '/bin/sh -c #(nop)\tCMD ["sh"] with a long tail that keeps going on',
            "Tags": ["busybox:latest"],
            "Size": 0,
            "Comment": "",
        },
        {
            "Id": "<missing>",
            "Created": 0,
            "CreatedBy": "",
            "Tags": None,
            "Size": 4261550,
            "Comment": "Imported from -",
        },
    ]
    return FakeTransport().on("GET", "/images/busybox/history", lambda _r: json_response(entries))


def test_history_table(wharf: RunWharf) -> None:
    result = wharf(history_daemon(), "history", "busybox")
    assert result.exit_code == 0, result.stderr
    created_by = '/bin/sh -c #(nop) CMD ["sh"] with a long tai…'  # 45 columns, cut
    assert result.stdout.splitlines() == [
        f"{'IMAGE':<15}{'CREATED':<14}{'CREATED BY':<48}{'SIZE':<10}COMMENT",
        f"{'aaaaaaaaaaaa':<15}{'2 hours ago':<14}{created_by:<48}{'0B':<10}",
        f"{'<missing>':<15}{'':<14}{'':<48}{'4.26MB':<10}Imported from -",
    ]


def test_history_quiet_and_not_human(wharf: RunWharf) -> None:
    assert wharf(history_daemon(), "history", "-q", "busybox").stdout == "aaaaaaaaaaaa\n<missing>\n"
    plain = wharf(history_daemon(), "image", "history", "--human=false", "busybox").stdout
    header, _, second = plain.splitlines()
    assert header.split()[:3] == ["IMAGE", "CREATED", "AT"]
    assert "4261550" in second
    assert "ago" not in plain


def test_history_needs_exactly_one_image(wharf: RunWharf) -> None:
    result = wharf(None, "history")
    assert result.exit_code == 1
    assert "'wharf history' requires 1 argument" in result.stderr


# --- tag


@pytest.mark.parametrize(
    ("target", "repo", "tag"),
    [
        ("foo", "foo", "latest"),
        ("foo/bar:v1", "foo/bar", "v1"),
        ("localhost:5000/tools/bb", "localhost:5000/tools/bb", "latest"),
    ],
)
def test_tag(wharf: RunWharf, target: str, repo: str, tag: str) -> None:
    daemon = FakeTransport().on("POST", "/images/busybox/tag", response(201))
    result = wharf(daemon, "tag", "busybox", target)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert daemon.calls()[0].query == (("repo", repo), ("tag", tag))


def test_tag_refuses_digests(wharf: RunWharf) -> None:
    result = wharf(None, "tag", "busybox", f"foo@{DIGEST}")
    assert result.exit_code == 1
    assert result.stderr == "refusing to create a tag with a digest reference\n"


def test_tag_of_missing_image(wharf: RunWharf) -> None:
    daemon = FakeTransport().on(
        "POST", "/images/nope/tag", error_response(404, "No such image: nope:latest")
    )
    result = wharf(daemon, "tag", "nope", "x")
    assert result.exit_code == 1
    assert result.stderr == "Error response from daemon: No such image: nope:latest\n"


# --- rmi


def rmi_daemon() -> FakeTransport:
    daemon = FakeTransport()
    daemon.on(
        "DELETE",
        "/images/busybox",
        json_response([{"Untagged": "busybox:latest"}, {"Deleted": A}]),
    )
    daemon.on("DELETE", "/images/nope", error_response(404, "No such image: nope:latest"))
    daemon.on("DELETE", "/images/used", error_response(409, "image is being used"))
    return daemon


def test_rmi_prints_untagged_and_deleted(wharf: RunWharf) -> None:
    daemon = rmi_daemon()
    result = wharf(daemon, "rmi", "busybox")
    assert result.exit_code == 0
    assert result.stdout == f"Untagged: busybox:latest\nDeleted: {A}\n"
    assert daemon.calls()[0].query == ()


def test_rmi_continues_past_errors_and_fails(wharf: RunWharf) -> None:
    result = wharf(rmi_daemon(), "rmi", "nope", "busybox")
    assert result.exit_code == 1
    assert result.stdout == f"Untagged: busybox:latest\nDeleted: {A}\n"
    assert result.stderr == "Error response from daemon: No such image: nope:latest\n"


def test_rmi_force_forgives_missing_names_only(wharf: RunWharf) -> None:
    daemon = rmi_daemon()
    missing = wharf(daemon, "image", "rm", "-f", "--no-prune", "nope")
    assert missing.exit_code == 0
    assert "No such image" in missing.stderr
    assert daemon.calls()[0].query == (("force", "1"), ("noprune", "1"))
    conflict = wharf(rmi_daemon(), "rmi", "-f", "nope", "used")
    assert conflict.exit_code == 1
    assert conflict.stderr.splitlines() == [
        "Error response from daemon: No such image: nope:latest",
        "Error response from daemon: image is being used",
    ]


# --- prune


def prune_daemon(deleted: list[dict[str, str]] | None, space: int) -> FakeTransport:
    return FakeTransport().on(
        "POST",
        "/images/prune",
        lambda _r: json_response({"ImagesDeleted": deleted, "SpaceReclaimed": space}),
    )


def test_prune_asks_and_reports(wharf: RunWharf) -> None:
    daemon = prune_daemon([{"Untagged": "x@" + DIGEST}, {"Deleted": B}], 4261550)
    result = wharf(daemon, "image", "prune", input="y\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "WARNING! This will remove all dangling images.\n"
        "Are you sure you want to continue? [y/N] "
        "Deleted Images:\n"
        f"untagged: x@{DIGEST}\n"
        f"deleted: {B}\n"
        "\n"
        "Total reclaimed space: 4.262MB\n"
    )
    assert json.loads(daemon.calls()[0].param("filters") or "") == {"dangling": {"true": True}}


@pytest.mark.parametrize("answer", ["n\n", "\n", "yes\n", ""])
def test_prune_cancelled_does_nothing(wharf: RunWharf, answer: str) -> None:
    daemon = prune_daemon(None, 0)
    result = wharf(daemon, "image", "prune", "-a", input=answer)
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "WARNING! This will remove all images without at least one container"
    )
    assert "Total reclaimed space" not in result.stdout
    assert daemon.calls() == []


def test_prune_forced_all_with_filters(wharf: RunWharf) -> None:
    daemon = prune_daemon(None, 0)
    result = wharf(daemon, "image", "prune", "-af", "--filter", "until=24h")
    assert result.stdout == "Total reclaimed space: 0B\n"
    filters = json.loads(daemon.calls()[0].param("filters") or "")
    assert filters == {"dangling": {"false": True}, "until": {"24h": True}}


# --- save


def save_daemon(answer: Response) -> FakeTransport:
    return FakeTransport().on("GET", "/images/get", answer)


def test_save_refuses_a_terminal(wharf: RunWharf) -> None:
    result = wharf(None, "save", "busybox", stdout_tty=True)
    assert result.exit_code == 1
    assert result.stderr == (
        "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    )


def test_save_streams_to_stdout(wharf: RunWharf) -> None:
    daemon = save_daemon(response(200, chunks=[b"tar", b"ball"]))
    result = wharf(daemon, "save", "busybox", "alpine:3")
    assert result.exit_code == 0
    assert result.stdout_bytes == b"tarball"
    assert daemon.calls()[0].params("names") == ["busybox", "alpine:3"]


def test_save_to_file_is_atomic(wharf: RunWharf, tmp_path: Path) -> None:
    target = tmp_path / "out.tar"
    result = wharf(
        save_daemon(response(200, chunks=[b"a" * 10, b"b"])), "save", "-o", str(target), "x"
    )
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == b"a" * 10 + b"b"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tar"]


def test_failed_save_leaves_the_old_file_and_no_temporary(wharf: RunWharf, tmp_path: Path) -> None:
    target = tmp_path / "out.tar"
    target.write_bytes(b"previous")
    broken = response(200, chunks=[b"partial"], fail_with=ConnectionResetError("gone"))
    result = wharf(save_daemon(broken), "save", "-o", str(target), "x")
    assert result.exit_code == 1
    assert "ended early" in result.stderr
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tar"]


def test_save_of_missing_image_writes_nothing(wharf: RunWharf, tmp_path: Path) -> None:
    target = tmp_path / "out.tar"
    daemon = save_daemon(error_response(404, "No such image: nope:latest"))
    result = wharf(daemon, "save", "-o", str(target), "nope")
    assert result.stderr == "Error response from daemon: No such image: nope:latest\n"
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_directory(wharf: RunWharf, tmp_path: Path) -> None:
    result = wharf(None, "save", "-o", str(tmp_path / "no" / "x.tar"), "busybox")
    assert result.exit_code == 1
    assert "failed to save image: invalid output path: directory" in result.stderr


# --- load


def load_daemon() -> FakeTransport:
    return FakeTransport().on(
        "POST",
        "/images/load",
        lambda _r: json_lines(
            {"status": "Loading layer", "id": "abc", "progressDetail": {"current": 5, "total": 9}},
            {"stream": "Loaded image: busybox:latest\n"},
        ),
    )


def test_load_from_file(wharf: RunWharf, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar"
    archive.write_bytes(b"archive-bytes")
    daemon = load_daemon()
    result = wharf(daemon, "load", "-i", str(archive))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Loaded image: busybox:latest\n"  # progress hidden off a terminal
    call = daemon.calls()[0]
    assert call.body == b"archive-bytes"
    assert call.param("quiet") == "1"


def test_load_from_stdin_on_a_terminal_output(wharf: RunWharf) -> None:
    daemon = load_daemon()
    result = wharf(daemon, "image", "load", input=b"from-stdin", stdout_tty=True)
    assert result.exit_code == 0, result.stderr
    assert daemon.calls()[0].body == b"from-stdin"
    assert daemon.calls()[0].param("quiet") == "0"
    assert "abc: Loading layer [" in result.stdout
    assert result.stdout.endswith("Loaded image: busybox:latest\n")


def test_load_refuses_a_terminal_stdin(wharf: RunWharf) -> None:
    result = wharf(None, "load", stdin_tty=True)
    assert result.exit_code == 1
    assert result.stderr == "requested load from stdin, but stdin is empty\n"


def test_load_missing_file(wharf: RunWharf, tmp_path: Path) -> None:
    result = wharf(None, "load", "-i", str(tmp_path / "nope.tar"))
    assert result.exit_code == 1
    assert result.stderr == f"open {tmp_path}/nope.tar: no such file or directory\n"


def test_load_error_in_the_stream(wharf: RunWharf, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar"
    archive.write_bytes(b"x")
    daemon = FakeTransport().on(
        "POST",
        "/images/load",
        json_lines({"errorDetail": {"message": "archive/tar: invalid header"}}),
    )
    result = wharf(daemon, "load", "-i", str(archive))
    assert result.exit_code == 1
    assert result.stderr == "archive/tar: invalid header\n"


def test_load_refused_by_the_daemon(wharf: RunWharf, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar"
    archive.write_bytes(b"x")
    daemon = FakeTransport().on(
        "POST", "/images/load", error_response(400, "invalid archive: no index.json")
    )
    result = wharf(daemon, "load", "-i", str(archive))
    assert result.stderr == "Error response from daemon: invalid archive: no index.json\n"


# --- import


def import_daemon() -> FakeTransport:
    return FakeTransport().on("POST", "/images/create", lambda _r: json_lines({"status": B}))


def _import_call(daemon: FakeTransport) -> RecordedRequest:
    (call,) = daemon.calls("POST", "/images/create")
    return call


def test_import_file_with_changes_prints_the_id(wharf: RunWharf, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(b"rootfs")
    daemon = import_daemon()
    result = wharf(
        daemon, "import", "-c", 'CMD ["sh"]', "--change", "ENV A=1", "-m", "msg",
        str(rootfs), "busybox:1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{B}\n"
    call = _import_call(daemon)
    assert call.body == b"rootfs"
    assert call.param("fromSrc") == "-"
    assert (call.param("repo"), call.param("tag")) == ("busybox", "1")
    assert call.params("changes") == ['CMD ["sh"]', "ENV A=1"]
    assert call.param("message") == "msg"


def test_import_from_stdin_and_url(wharf: RunWharf) -> None:
    daemon = import_daemon()
    wharf(daemon, "image", "import", "-", input=b"piped")
    assert _import_call(daemon).body == b"piped"
    daemon = import_daemon()
    wharf(daemon, "import", "https://example.com/rootfs.tar", "x")
    call = _import_call(daemon)
    assert call.param("fromSrc") == "https://example.com/rootfs.tar"
    assert call.body is None


def test_import_missing_file(wharf: RunWharf, tmp_path: Path) -> None:
    result = wharf(FakeTransport(), "import", str(tmp_path / "nope.tar"))
    assert result.exit_code == 1
    assert result.stderr == f"open {tmp_path}/nope.tar: no such file or directory\n"
