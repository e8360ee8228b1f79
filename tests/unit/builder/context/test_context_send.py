"""write_context_tar: what the docker CLI would send, in its order and with its headers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from wharf.builder.context.ignore import IgnoreMatcher
from wharf.builder.context.send import write_context_tar
from wharf.errdefs import InvalidArgument

MTIME = 1_500_000_000


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    for rel, text in {
        "Dockerfile": "FROM scratch\n",
        ".dockerignore": "node_modules\n*.log\ndocs\n!docs/README.md\nsecret/**\n",
        "main.go": "package main\n",
        "app.log": "log",
        "src/a.go": "a",
        "src/b.log": "b",
        "docs/README.md": "readme",
        "docs/other.md": "other",
        "node_modules/dep/index.js": "js",
        "secret/key": "k",
        "z/zz": "z",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "main.go").chmod(0o750)
    os.utime(root / "main.go", (MTIME, MTIME + 0.9))
    (root / "link").symlink_to("/etc/passwd")
    (root / "dirlink").symlink_to("src")
    os.link(root / "src" / "a.go", root / "src" / "a-hard.go")
    os.mkfifo(root / "pipe")
    os.chown(root / "z" / "zz", 1234, 1234)
    return root


def build_tar(
    ctx: Path, dockerfile: Path | None = None, text: str | None = None
) -> tuple[str, bytes]:
    ignore = (ctx / ".dockerignore").read_text() if text is None else text
    out = io.BytesIO()
    name = write_context_tar(
        ctx,
        out,
        matcher=IgnoreMatcher.for_build(ignore, "Dockerfile"),
        dockerfile=dockerfile,
    )
    return name, out.getvalue()


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: m for m in archive.getmembers()}


def test_context_tar_contents(ctx: Path) -> None:
    name, data = build_tar(ctx)
    assert name == "Dockerfile"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        infos = archive.getmembers()
        names = [m.name for m in infos]
        assert names == [
            ".dockerignore",
            "Dockerfile",
            "dirlink",
            "docs/README.md",  # re-included; its excluded parent has no entry
            "link",
            "main.go",
            "pipe",
            "secret",  # "secret/**" excludes what is inside, not the directory itself
            "src",
            "src/a-hard.go",
            "src/a.go",
            "src/b.log",  # "*.log" only matches at the top
            "z",
            "z/zz",
        ]
        by_name = {m.name: m for m in infos}
        assert archive.extractfile("docs/README.md").read() == b"readme"  # type: ignore[union-attr]
    assert by_name["src"].isdir()
    assert by_name["link"].issym() and by_name["link"].linkname == "/etc/passwd"
    assert by_name["dirlink"].issym() and by_name["dirlink"].linkname == "src"
    assert by_name["src/a-hard.go"].isreg()
    assert by_name["src/a.go"].islnk() and by_name["src/a.go"].linkname == "src/a-hard.go"
    assert by_name["pipe"].isfifo()
    assert by_name["main.go"].mode == 0o750
    assert by_name["main.go"].mtime == MTIME  # whole seconds
    for info in infos:
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")


def test_directory_entries_end_with_a_slash(ctx: Path) -> None:
    _, data = build_tar(ctx)
    raw_names = []
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            raw_names.append(member.name)
    assert b"src/\0" in data
    assert "src" in raw_names


def test_output_is_deterministic(ctx: Path) -> None:
    assert build_tar(ctx)[1] == build_tar(ctx)[1]


def test_excluded_build_files_are_still_sent(ctx: Path) -> None:
    _, data = build_tar(ctx, text="*\n")
    assert sorted(members(data)) == [".dockerignore", "Dockerfile"]


def test_dockerfile_outside_the_context(ctx: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "build.Dockerfile"
    outside.parent.mkdir()
    outside.write_text("FROM busybox\n")
    name, data = build_tar(ctx, dockerfile=outside)
    assert name.startswith(".dockerfile.") and len(name) == len(".dockerfile.") + 20
    infos = members(data)
    assert list(infos)[-1] == name
    assert infos[name].mode == 0o600
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.extractfile(name).read() == b"FROM busybox\n"  # type: ignore[union-attr]
        ignore = archive.extractfile(".dockerignore").read()  # type: ignore[union-attr]
    assert ignore == (ctx / ".dockerignore").read_bytes() + f"\n{name}\n".encode()
    # With no .dockerignore at all, one is made that hides itself and the Dockerfile.
    (ctx / ".dockerignore").unlink()
    name, data = build_tar(ctx, dockerfile=outside, text="")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        ignore = archive.extractfile(".dockerignore").read()  # type: ignore[union-attr]
    assert ignore == f".dockerignore\n{name}\n".encode()


def test_dockerfile_inside_the_context_is_named_relative(ctx: Path) -> None:
    (ctx / "build").mkdir()
    (ctx / "build" / "Dockerfile.dev").write_text("FROM x\n")
    name, _ = build_tar(ctx, dockerfile=ctx / "build" / "Dockerfile.dev")
    assert name == "build/Dockerfile.dev"


def test_default_dockerfile_names(tmp_path: Path) -> None:
    (tmp_path / "dockerfile").write_text("FROM x\n")
    out = io.BytesIO()
    assert write_context_tar(tmp_path, out, matcher=IgnoreMatcher([])) == "dockerfile"
    (tmp_path / "dockerfile").unlink()
    with pytest.raises(InvalidArgument, match="Cannot locate specified Dockerfile: Dockerfile"):
        write_context_tar(tmp_path, io.BytesIO(), matcher=IgnoreMatcher([]))
    with pytest.raises(InvalidArgument, match="unable to prepare context"):
        write_context_tar(tmp_path / "nope", io.BytesIO(), matcher=IgnoreMatcher([]))


_UNREADABLE = """
import io, sys
from pathlib import Path
from wharf.builder.context.ignore import IgnoreMatcher
from wharf.builder.context.send import write_context_tar
from wharf.errdefs import InvalidArgument
try:
    write_context_tar(Path(sys.argv[1]), io.BytesIO(), matcher=IgnoreMatcher([]))
except InvalidArgument as exc:
    print(exc)
"""


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    # Root reads everything, so the walk runs as "nobody" in a child process.
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another user")
    directory = Path(tempfile.mkdtemp(prefix="wharf-ctx-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        (directory / "Dockerfile").write_text("FROM x\n")
        (directory / "Dockerfile").chmod(0o644)
        (directory / "secret").write_text("s")
        (directory / "secret").chmod(0o000)
        src = Path(__file__).resolve().parents[4] / "src"
        result = subprocess.run(
            [sys.executable, "-c", _UNREADABLE, str(directory)],
            capture_output=True,
            text=True,
            user=65534,
            env={"PYTHONPATH": str(src), "PATH": os.environ.get("PATH", "")},
            check=False,
            timeout=60,
        )
        if "ModuleNotFoundError" in result.stderr or "Permission denied" in result.stderr:
            pytest.skip(f"the child cannot import wharf as nobody: {result.stderr[-200:]}")
        assert result.stdout.strip() == (
            f"error checking context: no permission to read from '{directory / 'secret'}'"
        )
    finally:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
