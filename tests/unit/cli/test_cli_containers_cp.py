"""``cp`` in both directions against a scripted daemon: docker's placement rules, renames,
tar on stdin/stdout, and extraction that cannot escape the destination."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cli_harness import RunWharf

from wharf.cli.command import CliError
from wharf.cli.cp import plan_copy, rebase_name, split_cp_arg, split_dir_entry
from wharf.client.fake import FakeTransport, RecordedRequest, error_response, response

DIR_MODE = (1 << 31) | 0o755


def stat_header(name: str, mode: int, link: str = "") -> dict[str, str]:
    payload = {"name": name, "size": 0, "mode": mode, "mtime": "", "linkTarget": link}
    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(payload).encode()).decode()}


def make_tar(
    entries: list[tuple[str, bytes | None]], *, symlinks: dict[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 4242
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def tar_names(data: bytes) -> dict[str, bytes | None]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        result: dict[str, bytes | None] = {}
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            result[member.name] = handle.read() if handle else None
        return result


# --- the rules


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("web:/etc/hosts", ("web", "/etc/hosts")),
        ("/abs:path", ("", "/abs:path")),
        ("./file:name", ("", "./file:name")),
        ("plain", ("", "plain")),
        ("web:", ("web", "")),
    ],
)
def test_split_cp_arg(arg: str, expected: tuple[str, str]) -> None:
    assert split_cp_arg(arg) == expected


def test_split_dir_entry_keeps_dot() -> None:
    assert split_dir_entry("/a/b/") == ("/a", "b")
    assert split_dir_entry("/a/b/.") == ("/a/b", ".")
    assert split_dir_entry("file") == (".", "file")


def test_plan_copy_follows_docker() -> None:
    def plan(**kwargs: Any) -> tuple[str, str]:
        result = plan_copy(source_path="/src/item", **kwargs)
        return result.directory, result.top

    existing_dir = {"dest_exists": True, "dest_is_dir": True}
    assert plan(source_is_dir=False, dest_path="/d", **existing_dir) == ("/d", "item")
    assert plan(source_is_dir=False, dest_path="/d/f", dest_exists=True, dest_is_dir=False) == (
        "/d",
        "f",
    )
    assert plan(source_is_dir=True, dest_path="/d/new", dest_exists=False, dest_is_dir=False) == (
        "/d",
        "new",
    )
    assert plan(source_is_dir=False, dest_path="/d/new", dest_exists=False, dest_is_dir=False) == (
        "/d",
        "new",
    )
    with pytest.raises(CliError, match="cannot copy directory"):
        plan(source_is_dir=True, dest_path="/d/f", dest_exists=True, dest_is_dir=False)
    with pytest.raises(CliError, match="no such directory"):
        plan(source_is_dir=False, dest_path="/d/new/", dest_exists=False, dest_is_dir=False)
    contents = plan_copy(
        source_path="/src/.", source_is_dir=True, dest_path="/d", dest_exists=True, dest_is_dir=True
    )
    assert (contents.directory, contents.top) == ("/d", ".")


def test_rebase_name() -> None:
    assert rebase_name("item", "item", "new") == "new"
    assert rebase_name("item/a/b", "item", "new") == "new/a/b"
    assert rebase_name("itemx", "item", "new") == "itemx"
    assert rebase_name("./a", ".", "new") == "new/a"
    assert rebase_name(".", ".", "new") == "new"
    assert rebase_name("a", ".", "new") == "new/a"


# --- from a container


def archive_daemon(path: str, tar: bytes, mode: int) -> FakeTransport:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return FakeTransport().on(
        "GET",
        "/containers/web/archive",
        lambda _r: response(200, tar, stat_header(name, mode)),
    )


def test_copy_a_directory_out_to_a_new_name(wharf: RunWharf, tmp_path: Path) -> None:
    tar = make_tar(
        [
            ("etc", None),
            ("etc/hosts", b"127.0.0.1 localhost\n"),
            ("etc/sub", None),
            ("etc/sub/x", b"x"),
        ]
    )
    daemon = archive_daemon("/etc", tar, DIR_MODE)
    result = wharf(daemon, "cp", "web:/etc", str(tmp_path / "copy"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "copy" / "hosts").read_bytes() == b"127.0.0.1 localhost\n"
    assert (tmp_path / "copy" / "sub" / "x").read_bytes() == b"x"
    assert daemon.calls()[0].query == (("path", "/etc"),)


def test_copy_a_file_into_an_existing_directory(wharf: RunWharf, tmp_path: Path) -> None:
    daemon = archive_daemon("/etc/hostname", make_tar([("hostname", b"box\n")]), 0o644)
    assert wharf(daemon, "cp", "web:/etc/hostname", str(tmp_path)).exit_code == 0
    assert (tmp_path / "hostname").read_bytes() == b"box\n"


def test_copy_out_to_stdout_is_the_raw_tar(wharf: RunWharf) -> None:
    tar = make_tar([("hostname", b"box\n")])
    result = wharf(archive_daemon("/etc/hostname", tar, 0o644), "cp", "web:/etc/hostname", "-")
    assert result.stdout_bytes == tar


def test_hostile_archive_cannot_escape_the_destination(wharf: RunWharf, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        top = tarfile.TarInfo("evil")
        top.type = tarfile.DIRTYPE
        archive.addfile(top)
        link = tarfile.TarInfo("evil/link")
        link.type = tarfile.SYMTYPE
        link.linkname = str(outside)
        archive.addfile(link)
        for name in ("evil/link/pwned", "evil/../../escaped"):
            info = tarfile.TarInfo(name)
            info.size = 6
            archive.addfile(info, io.BytesIO(b"gotcha"))
    daemon = archive_daemon("/evil", buffer.getvalue(), DIR_MODE)
    result = wharf(daemon, "cp", "web:/evil", str(dest))
    assert not (outside / "pwned").exists()
    assert not (tmp_path / "escaped").exists()
    assert (dest / "evil" / "link").is_symlink()  # symlink targets are data
    if result.exit_code == 0:
        # Followed inside the destination, as if it were the root.
        assert (dest / str(outside).lstrip("/") / "pwned").read_bytes() == b"gotcha"
    else:
        assert "escapes the root" in result.stderr


def test_missing_container_path(wharf: RunWharf, tmp_path: Path) -> None:
    daemon = FakeTransport().on(
        "GET",
        "/containers/web/archive",
        error_response(404, "Could not find the file /nope in container web"),
    )
    result = wharf(daemon, "cp", "web:/nope", str(tmp_path))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "Error response from daemon: Could not find the file /nope in container web\n"
    )


# --- into a container


def put_daemon(dest_mode: int | None) -> tuple[FakeTransport, list[RecordedRequest]]:
    puts: list[RecordedRequest] = []
    daemon = FakeTransport()
    if dest_mode is None:
        daemon.on("HEAD", "/containers/web/archive", lambda _r: response(404))
    else:
        daemon.on(
            "HEAD",
            "/containers/web/archive",
            lambda _r: response(200, headers=stat_header("x", dest_mode)),
        )

    def put(request: RecordedRequest) -> Any:
        puts.append(request)
        return response(200)

    daemon.on("PUT", "/containers/web/archive", put)
    return daemon, puts


def test_copy_a_directory_in_to_a_new_name(wharf: RunWharf, tmp_path: Path) -> None:
    source = tmp_path / "site"
    (source / "css").mkdir(parents=True)
    (source / "index.html").write_text("hi")
    (source / "css" / "a.css").write_text("body{}")
    daemon, puts = put_daemon(None)
    result = wharf(daemon, "cp", str(source), "web:/srv/www")
    assert result.exit_code == 0, result.stderr
    (put,) = puts
    assert dict(put.query)["path"] == "/srv"
    assert dict(put.query)["noOverwriteDirNonDir"] == "true"
    names = tar_names(put.body or b"")
    assert names["www/index.html"] == b"hi"
    assert names["www/css/a.css"] == b"body{}"
    assert "www" in names


def test_copy_a_file_into_an_existing_directory_keeps_its_name(
    wharf: RunWharf, tmp_path: Path
) -> None:
    source = tmp_path / "app.conf"
    source.write_text("x=1")
    daemon, puts = put_daemon(DIR_MODE)
    assert wharf(daemon, "cp", "-a", str(source), "web:/etc").exit_code == 0
    (put,) = puts
    assert dict(put.query) == {"path": "/etc", "noOverwriteDirNonDir": "true", "copyUIDGID": "true"}
    assert tar_names(put.body or b"") == {"app.conf": b"x=1"}


def test_copy_contents_with_dot(wharf: RunWharf, tmp_path: Path) -> None:
    source = tmp_path / "d"
    source.mkdir()
    (source / "f").write_text("1")
    daemon, puts = put_daemon(DIR_MODE)
    assert wharf(daemon, "cp", f"{source}/.", "web:/dst").exit_code == 0
    names = tar_names(puts[0].body or b"")
    assert names["./f"] == b"1"
    assert dict(puts[0].query)["path"] == "/dst"


def test_tar_from_stdin_needs_a_directory(wharf: RunWharf) -> None:
    tar = make_tar([("f", b"data")])
    daemon, puts = put_daemon(DIR_MODE)
    assert wharf(daemon, "cp", "-", "web:/tmp", input=tar).exit_code == 0
    assert puts[0].body == tar
    daemon, _ = put_daemon(0o644)
    result = wharf(daemon, "cp", "-", "web:/etc/hosts", input=tar)
    assert result.exit_code == 1
    assert result.stderr == 'destination "web:/etc/hosts" must be a directory\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "b"], "must specify at least one container source"),
        (["a:/x", "b:/y"], "copying between containers is not supported"),
        (["a:", "/tmp"], "source can not be empty"),
    ],
)
def test_argument_errors(wharf: RunWharf, args: list[str], message: str) -> None:
    result = wharf(None, "cp", *args)
    assert result.exit_code == 1
    assert result.stderr == message + "\n"


def test_missing_local_source(wharf: RunWharf, tmp_path: Path) -> None:
    daemon, puts = put_daemon(DIR_MODE)
    result = wharf(daemon, "cp", str(tmp_path / "nope"), "web:/tmp")
    assert result.exit_code == 1
    assert result.stderr == f"lstat {tmp_path}/nope: no such file or directory\n"
    assert puts == []
