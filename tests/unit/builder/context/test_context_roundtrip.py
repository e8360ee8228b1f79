"""Client to daemon: a context tarred by send, unpacked by tree, copied by copy."""

from __future__ import annotations

import io
import os
from pathlib import Path

from wharf.builder.context.copy import copy_sources
from wharf.builder.context.ignore import IgnoreMatcher
from wharf.builder.context.send import write_context_tar
from wharf.builder.context.sources import checksum, resolve_sources
from wharf.builder.context.tree import extract_context


def test_context_round_trip(tmp_path: Path) -> None:
    client = tmp_path / "client"
    (client / "app" / "lib").mkdir(parents=True)
    (client / "Dockerfile").write_text("FROM scratch\nCOPY . /srv/\n")
    (client / ".dockerignore").write_text("*.tmp\n")
    (client / "app" / "run.sh").write_text("#!/bin/sh\n")
    (client / "app" / "run.sh").chmod(0o755)
    (client / "app" / "lib" / "x.py").write_text("x")
    (client / "app" / "scratch.tmp").write_text("no")
    (client / "junk.tmp").write_text("no")
    (client / "app" / "current").symlink_to("lib")
    os.utime(client / "app" / "run.sh", (1_000_000, 1_000_000))

    out = io.BytesIO()
    matcher = IgnoreMatcher.for_build((client / ".dockerignore").read_text(), "Dockerfile")
    assert write_context_tar(client, out, matcher=matcher) == "Dockerfile"

    daemon = tmp_path / "daemon"
    extract_context(io.BytesIO(out.getvalue()), daemon)
    assert not (daemon / "junk.tmp").exists()
    assert (daemon / "app" / "scratch.tmp").exists()  # "*.tmp" only matches at the top

    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    sources = resolve_sources(daemon, ["app"])
    first = checksum(sources)
    written = copy_sources(
        sources, rootfs, "/srv/", workdir="/", owner=None, chmod=None, dest_is_dir_hint=False
    )
    assert (rootfs / "srv" / "run.sh").stat().st_mtime == 1_000_000
    assert (rootfs / "srv" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert os.readlink(rootfs / "srv" / "current") == "lib"
    assert "/srv/lib/x.py" in written

    # The same context sent again gives the same cache checksum.
    again = tmp_path / "again"
    out2 = io.BytesIO()
    write_context_tar(client, out2, matcher=matcher)
    extract_context(io.BytesIO(out2.getvalue()), again)
    assert checksum(resolve_sources(again, ["app"])) == first
