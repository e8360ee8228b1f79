"""--user resolution against a rootfs, read as if chroot'ed: never the host's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import InvalidArgument
from wharf.runtime.users import (
    ExecUser,
    parse_group,
    parse_passwd,
    read_file_in_root,
    resolve_user,
)

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
# a comment

daemon:x:1:1::/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App,,,:/home/app:/bin/sh
broken line
bad:x:notanumber:1::/:
"""
GROUP = """\
root:x:0:
wheel:x:10:root,app
app:x:1000:
docker:x:999:app
staff:x:50
"""


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    return root


def test_parsers_skip_comments_and_malformed_lines() -> None:
    assert [p.name for p in parse_passwd(PASSWD)] == ["root", "daemon", "app"]
    app = parse_passwd(PASSWD)[2]
    assert (app.uid, app.gid, app.home, app.shell) == (1000, 1000, "/home/app", "/bin/sh")
    groups = {g.name: g for g in parse_group(GROUP)}
    assert groups["wheel"].members == ("root", "app")
    assert groups["staff"].members == ()


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", (0, 0, (10,))),
        ("root", (0, 0, (10,))),
        ("app", (1000, 1000, (10, 999))),
        ("1000", (1000, 1000, (10, 999))),  # a known uid gets its entry's groups
        ("4242", (4242, 0, ())),  # numeric ids need no entry
        ("4242:4343", (4242, 4343, ())),
        ("app:docker", (1000, 999, ())),  # an explicit group replaces the supplementary ones
        ("app:77", (1000, 77, ())),
        ("0:wheel", (0, 10, ())),
        ("daemon", (1, 1, ())),
    ],
)
def test_resolve(rootfs: Path, user: str, expected: tuple[int, int, tuple[int, ...]]) -> None:
    resolved = resolve_user(rootfs, user)
    assert resolved == expected
    uid, gid, sgids = resolved
    assert isinstance(resolved, ExecUser) and (uid, gid, sgids) == expected


def test_unknown_user_and_group_use_dockers_words(rootfs: Path) -> None:
    with pytest.raises(
        InvalidArgument, match=r"^unable to find user nobody: no matching entries in passwd file$"
    ):
        resolve_user(rootfs, "nobody")
    with pytest.raises(
        InvalidArgument, match=r"^unable to find group nogroup: no matching entries in group file$"
    ):
        resolve_user(rootfs, "app:nogroup")


@pytest.mark.parametrize("user", ["2147483648", "-1", "1:2147483648"])
def test_ids_out_of_range(rootfs: Path, user: str) -> None:
    with pytest.raises(InvalidArgument, match="range 0-2147483647"):
        resolve_user(rootfs, user)


def test_group_add(rootfs: Path) -> None:
    assert resolve_user(rootfs, "app", group_add=("staff", "5000", "wheel")).additional_gids == (
        10,
        999,
        50,
        5000,
    )
    with pytest.raises(InvalidArgument, match="unable to find group ghosts"):
        resolve_user(rootfs, "app", group_add=("ghosts",))


def test_missing_files_mean_no_entries(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert resolve_user(empty, "") == (0, 0, ())
    assert resolve_user(empty, "1000:1000") == (1000, 1000, ())
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        resolve_user(empty, "app")


def test_relative_symlink_cannot_climb_out_of_the_rootfs(tmp_path: Path, rootfs: Path) -> None:
    # Followed by the host, etc/passwd -> ../../host-passwd would be tmp_path/host-passwd.
    (tmp_path / "host-passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    (rootfs / "etc/passwd").unlink()
    (rootfs / "etc/passwd").symlink_to("../../host-passwd")
    with pytest.raises(InvalidArgument, match="unable to find user evil"):
        resolve_user(rootfs, "evil")
    # Inside the root ".." stops at "/": the link means /host-passwd of the rootfs.
    (rootfs / "host-passwd").write_text("inside:x:7:7::/:/bin/sh\n")
    assert resolve_user(rootfs, "inside") == (7, 7, ())


def test_absolute_symlink_is_resolved_inside_the_rootfs(tmp_path: Path, rootfs: Path) -> None:
    host_etc = tmp_path / "hostetc"
    host_etc.mkdir()
    (host_etc / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    (rootfs / "etc/passwd").unlink()
    (rootfs / "etc/passwd").symlink_to(host_etc / "passwd")  # an absolute host path
    with pytest.raises(InvalidArgument, match="unable to find user evil"):
        resolve_user(rootfs, "evil")
    # The same absolute path, created inside the rootfs, is what is read.
    inner = rootfs / str(host_etc).lstrip("/")
    inner.mkdir(parents=True)
    (inner / "passwd").write_text("good:x:5:5::/:/bin/sh\n")
    assert resolve_user(rootfs, "good") == (5, 5, ())


def test_symlinked_etc_directory_pointing_at_the_host(tmp_path: Path) -> None:
    host_etc = tmp_path / "hostetc"
    host_etc.mkdir()
    (host_etc / "passwd").write_text("root:x:0:0::/:/bin/sh\nevil:x:0:0::/:/bin/sh\n")
    root = tmp_path / "root2"
    root.mkdir()
    (root / "etc").symlink_to(host_etc)  # would be the host's directory if followed
    assert read_file_in_root(root, "/etc/passwd") is None
    with pytest.raises(InvalidArgument, match="unable to find user evil"):
        resolve_user(root, "evil")
    (root / "etc").unlink()
    (root / "etc").symlink_to("/etc")  # /etc -> /etc inside the root: a loop, not the host
    with pytest.raises(InvalidArgument, match="too many levels"):
        read_file_in_root(root, "/etc/passwd")


def test_symlink_loops_are_an_error(rootfs: Path) -> None:
    (rootfs / "etc/passwd").unlink()
    (rootfs / "etc/passwd").symlink_to("/etc/passwd")
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        resolve_user(rootfs, "app")


def test_special_files_are_not_read(rootfs: Path) -> None:
    (rootfs / "etc/passwd").unlink()
    os.mkfifo(rootfs / "etc/passwd")  # opening it for reading would block
    assert read_file_in_root(rootfs, "etc/passwd") is None
    assert resolve_user(rootfs, "4:4") == (4, 4, ())
    (rootfs / "etc/passwd").unlink()
    (rootfs / "etc/passwd").mkdir()
    assert read_file_in_root(rootfs, "/etc/passwd") is None


def test_path_through_a_file_is_missing(rootfs: Path) -> None:
    assert read_file_in_root(rootfs, "/etc/passwd/x") is None
    assert read_file_in_root(rootfs, "/nope/passwd") is None
    assert read_file_in_root(rootfs, "/./etc/../etc/passwd") == PASSWD.encode()


@given(st.text(max_size=300))
def test_parsers_never_crash(text: str) -> None:
    for entry in parse_passwd(text):
        assert entry.uid >= 0 and entry.gid >= 0
    for group in parse_group(text):
        assert group.gid >= 0
