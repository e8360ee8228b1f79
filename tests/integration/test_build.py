"""``wharf build`` end to end: the Dockerfile corpus in ``build_corpus/`` builds, the images'
containers behave, the cache hits and misses exactly where it should, secrets stay out of
every layer, and a failed build leaves nothing behind."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from support.daemon import WharfDaemon

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parent / "build_corpus"


def _context(tmp_path: Path, case: str) -> Path:
    target = tmp_path / case
    shutil.copytree(CORPUS / case, target, symlinks=True)
    return target


def _build(d: WharfDaemon, context: Path, *args: str, check: bool = True) -> str:
    proc = d.wharf("build", *args, context, check=check)
    return proc.stdout + proc.stderr


def _run(d: WharfDaemon, image: str, *args: str) -> str:
    return d.wharf("run", "--rm", image, *args).stdout


def _unique(tmp_path: Path, name: str) -> str:
    return f"{name}-{abs(hash(tmp_path)) % 10**8}:test"


def test_multistage_copies_from_stages_and_skips_unneeded_ones(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "multistage")
    output = _build(
        busybox_daemon, _context(tmp_path, "multistage"), "-t", tag, "--build-arg", "GREETING=ahoy"
    )
    assert "this stage is not needed" not in output  # the failing unused stage never ran
    assert _run(busybox_daemon, tag) == "ahoy from the builder\n"
    assert _run(busybox_daemon, tag, "cat", "/opt/copy.txt") == "ahoy from the builder\n"
    busybox_daemon.wharf("rmi", tag)


def test_target_stops_at_the_named_stage(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "target")
    _build(busybox_daemon, _context(tmp_path, "multistage"), "-t", tag, "--target", "builder")
    assert _run(busybox_daemon, tag, "cat", "message.txt") == "hello from the builder\n"
    config = json.loads(busybox_daemon.wharf("image", "inspect", tag).stdout)[0]["Config"]
    assert config["WorkingDir"] == "/src"
    busybox_daemon.wharf("rmi", tag)


def test_heredocs_run_and_copy(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "heredocs")
    _build(busybox_daemon, _context(tmp_path, "heredocs"), "-t", tag)
    assert _run(busybox_daemon, tag) == "first\nsecond\nliteral $HOME line\nwelcome to wharf\n"
    busybox_daemon.wharf("rmi", tag)


def test_onbuild_triggers_run_in_the_child(busybox_daemon, tmp_path):
    _build(busybox_daemon, _context(tmp_path, "onbuild-base"), "-t", "onbuild-base:test")
    base = json.loads(busybox_daemon.wharf("image", "inspect", "onbuild-base:test").stdout)[0]
    assert base["Config"]["OnBuild"] == [
        "COPY payload.txt /app/",
        "RUN wc -c < /app/payload.txt > /app/size",
    ]
    tag = _unique(tmp_path, "onbuild-child")
    _build(busybox_daemon, _context(tmp_path, "onbuild-child"), "-t", tag)
    assert _run(busybox_daemon, tag).strip() == "12"
    child = json.loads(busybox_daemon.wharf("image", "inspect", tag).stdout)[0]
    assert not child["Config"].get("OnBuild")  # triggers fire once, in the direct child
    busybox_daemon.wharf("rmi", tag, "onbuild-base:test")


def test_user_workdir_env_interplay(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "userworkdir")
    _build(busybox_daemon, _context(tmp_path, "userworkdir"), "-t", tag)
    assert _run(busybox_daemon, tag) == "1000 /home/app/work app app /srv hi there\n"
    busybox_daemon.wharf("rmi", tag)


def test_entrypoint_and_cmd_combine_as_docker(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "entrypoint")
    _build(busybox_daemon, _context(tmp_path, "entrypoint"), "-t", tag)
    assert _run(busybox_daemon, tag) == "entry default args\n"
    assert _run(busybox_daemon, tag, "other") == "entry other\n"
    busybox_daemon.wharf("rmi", tag)


def test_dockerignore_with_exceptions(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "dockerignore")
    _build(busybox_daemon, _context(tmp_path, "dockerignore"), "-t", tag)
    files = sorted(_run(busybox_daemon, tag).split())
    assert files == [
        "/ctx/.dockerignore",
        "/ctx/Dockerfile",
        "/ctx/app.txt",
        "/ctx/keep.log",
        "/ctx/sub/y.txt",
    ]
    busybox_daemon.wharf("rmi", tag)


def test_add_extracts_local_tars(busybox_daemon, tmp_path):
    tag = _unique(tmp_path, "addtar")
    _build(busybox_daemon, _context(tmp_path, "addtar"), "-t", tag)
    assert _run(busybox_daemon, tag) == "from the tarball\nplain\n"
    busybox_daemon.wharf("rmi", tag)


def test_rebuild_is_all_cache_hits_and_a_late_change_reruns_only_from_its_copy(
    busybox_daemon, tmp_path
):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "early.txt").write_text("early\n")
    (context / "late.txt").write_text("late v1\n")
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "COPY early.txt /e.txt\n"
        "RUN echo built-early-step\n"
        "COPY late.txt /l.txt\n"
        "RUN echo built-late-step && cat /l.txt\n"
        "ENV DONE=1\n"
    )
    tag = _unique(tmp_path, "cache")
    first = _build(busybox_daemon, context, "-t", tag)
    assert "built-early-step" in first and "built-late-step" in first
    first_id = json.loads(busybox_daemon.wharf("image", "inspect", tag).stdout)[0]["Id"]

    again = _build(busybox_daemon, context, "-t", tag)
    assert again.count("Using cache") == 5
    assert "built-" not in again.replace("RUN echo built-", "")
    assert json.loads(busybox_daemon.wharf("image", "inspect", tag).stdout)[0]["Id"] == first_id

    (context / "late.txt").write_text("late v2\n")
    changed = _build(busybox_daemon, context, "-t", tag)
    steps = changed.split("Step ")
    assert "Using cache" in steps[2] and "Using cache" in steps[3]  # COPY early, RUN early
    assert "Using cache" not in steps[4] and "files changed: context:late.txt" in steps[4]
    assert "late v2" in steps[5] and "Using cache" not in steps[6]
    assert _run(busybox_daemon, tag, "cat", "/l.txt") == "late v2\n"

    nocache = _build(busybox_daemon, context, "-t", tag, "--no-cache")
    assert "Using cache" not in nocache
    busybox_daemon.wharf("rmi", tag)


def test_cache_mounts_persist_across_builds_and_stay_out_of_the_image(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    marker = f"cache-{abs(hash(tmp_path)) % 10**8}"
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        f"RUN --mount=type=cache,target=/var/cache/app,id={marker} "
        "echo x >> /var/cache/app/count && echo runs=$(wc -l < /var/cache/app/count)\n"
    )
    tag = _unique(tmp_path, "cachemount")
    assert "runs=1" in _build(busybox_daemon, context, "-t", tag)
    assert "runs=2" in _build(busybox_daemon, context, "-t", tag, "--no-cache")
    listing = busybox_daemon.wharf("run", "--rm", tag, "ls", "-a", "/var/cache/app", check=False)
    assert "count" not in listing.stdout
    busybox_daemon.wharf("rmi", tag)


def test_secrets_are_readable_in_run_and_never_stored(busybox_daemon, tmp_path):
    secret_value = f"s3cr3t-{abs(hash(tmp_path)) % 10**8}"
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(secret_value)
    digest = hashlib.sha1(secret_value.encode()).hexdigest()
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN --mount=type=secret,id=token "
        f'test "$(sha1sum < /run/secrets/token | cut -c1-40)" = {digest} && echo secret-ok\n'
        "RUN --mount=type=secret,id=token,target=/etc/app-token,required=true "
        "wc -c < /etc/app-token > /token-size\n"
    )
    tag = _unique(tmp_path, "secret")
    output = _build(busybox_daemon, context, "-t", tag, "--secret", f"id=token,src={secret_file}")
    assert "secret-ok" in output
    saved = busybox_daemon.wharf_bytes("save", tag).stdout
    assert secret_value.encode() not in saved
    assert secret_value not in busybox_daemon.wharf("history", "--no-trunc", tag).stdout
    for names, blob in _layer_texts(saved):
        assert secret_value.encode() not in blob
        assert not any(n.startswith(("run/secrets", "etc/app-token")) for n in names)
    assert _run(busybox_daemon, tag, "cat", "/token-size").strip() == str(len(secret_value))
    missing = busybox_daemon.wharf("build", context, check=False)
    assert missing.returncode == 1 and "secret token not found" in missing.stderr
    busybox_daemon.wharf("rmi", tag)


def test_secret_not_in_any_layer_when_not_copied(busybox_daemon, tmp_path):
    secret_value = f"n0tst0red-{abs(hash(tmp_path)) % 10**8}"
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(secret_value)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN --mount=type=secret,id=api wc -c /run/secrets/api > /size\n"
    )
    tag = _unique(tmp_path, "secret2")
    _build(busybox_daemon, context, "-t", tag, "--secret", f"id=api,src={secret_file}")
    saved = busybox_daemon.wharf_bytes("save", tag).stdout
    assert secret_value.encode() not in saved
    for names, blob in _layer_texts(saved):
        assert secret_value.encode() not in blob
        assert not any(name.startswith("run/secrets") for name in names)
    assert _run(busybox_daemon, tag, "cat", "/size").startswith(str(len(secret_value)))
    busybox_daemon.wharf("rmi", tag)


def _layer_texts(saved: bytes) -> list[tuple[list[str], bytes]]:
    """(member names, uncompressed bytes) of every layer blob in a saved image archive."""
    layers = []
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith("blobs/"):
                continue
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            try:
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    names = [m.name.lstrip("./") for m in layer.getmembers()]
            except tarfile.TarError:
                continue  # a config or a manifest
            layers.append((names, data))
    assert layers
    return layers


def test_failed_run_reports_step_code_and_output_and_leaves_nothing(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN echo about to fail && echo oops >&2 && exit 7\nRUN echo never\n"
    )
    before = busybox_daemon.wharf("ps", "-aq").stdout
    proc = busybox_daemon.wharf("build", context, check=False)
    assert proc.returncode != 0
    assert "about to fail" in proc.stdout
    assert "returned a non-zero code: 7" in proc.stderr
    assert "never" not in proc.stdout.replace("RUN echo never", "")
    assert busybox_daemon.wharf("ps", "-aq").stdout == before


def test_parse_error_names_the_line(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN true\nBOGUS thing\n")
    proc = busybox_daemon.wharf("build", context, check=False)
    assert proc.returncode == 1
    assert "line 3" in proc.stderr and "unknown instruction" in proc.stderr.lower()


def test_missing_copy_source_is_a_clear_error(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY nothere.txt /\n")
    proc = busybox_daemon.wharf("build", context, check=False)
    assert proc.returncode == 1
    assert "nothere.txt" in proc.stderr


def test_context_from_stdin_tar_quiet_and_iidfile(busybox_daemon, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        dockerfile = b"FROM busybox\nCOPY hello.txt /\nLABEL stage=stdin\n"
        for name, data in (("Dockerfile", dockerfile), ("hello.txt", b"hello from stdin\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    iidfile = tmp_path / "iid"
    tags = (_unique(tmp_path, "stdin-a"), _unique(tmp_path, "stdin-b"))
    proc = busybox_daemon.wharf_bytes(
        "build", "-q", "--iidfile", str(iidfile), "-t", tags[0], "-t", tags[1],
        "--label", "extra=yes", "-", input=buffer.getvalue(),
    )  # fmt: skip
    image_id = proc.stdout.decode().strip()
    assert image_id.startswith("sha256:") and iidfile.read_text().strip() == image_id
    for tag in tags:
        inspect = json.loads(busybox_daemon.wharf("image", "inspect", tag).stdout)[0]
        assert inspect["Id"] == image_id
        assert inspect["Config"]["Labels"] == {"stage": "stdin", "extra": "yes"}
    assert _run(busybox_daemon, tags[0], "cat", "/hello.txt") == "hello from stdin\n"
    busybox_daemon.wharf("rmi", *tags)


def test_history_and_metadata_as_docker_writes_them(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "LABEL a=b\n"
        "EXPOSE 80 53/udp\n"
        "VOLUME /data\n"
        "STOPSIGNAL SIGINT\n"
        'SHELL ["/bin/sh", "-ec"]\n'
        "HEALTHCHECK --interval=5s --retries=2 CMD true\n"
        "RUN echo layer > /f\n"
    )
    tag = _unique(tmp_path, "meta")
    _build(busybox_daemon, context, "-t", tag)
    inspect = json.loads(busybox_daemon.wharf("image", "inspect", tag).stdout)[0]
    config = inspect["Config"]
    assert config["Labels"] == {"a": "b"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGINT"
    assert config["Shell"] == ["/bin/sh", "-ec"]
    assert config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }
    history = busybox_daemon.wharf(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", tag
    ).stdout
    lines = history.splitlines()
    assert lines[0].startswith("RUN /bin/sh -ec echo layer > /f|")
    assert lines[1].startswith("HEALTHCHECK") and lines[1].endswith("|0B")
    busybox_daemon.wharf("rmi", tag)


def test_cache_survives_restart_and_builder_prune_clears_it(daemon, base_image_tars, tmp_path):
    from support.rootfs import BUSYBOX_REF

    daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo step-ran > /x\n")
    _build(daemon, context, "-t", "cached:1")
    daemon.restart()
    assert "Using cache" in _build(daemon, context, "-t", "cached:1")
    pruned = daemon.wharf("builder", "prune", "-a", "-f").stdout
    assert "Total reclaimed space" in pruned
    assert "Using cache" not in _build(daemon, context, "-t", "cached:1")


def test_copy_chown_chmod_bind_mount_from_stage_and_network_none(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "tool.sh").write_text("#!/bin/sh\necho tool-ran\n")
    (context / "Dockerfile").write_text(
        "FROM busybox AS assets\n"
        "RUN mkdir /assets && echo from-assets > /assets/data.txt\n"
        "FROM busybox\n"
        "COPY --chown=123:456 --chmod=750 tool.sh /usr/local/bin/tool\n"
        "RUN --mount=type=bind,from=assets,source=/assets,target=/mnt/assets "
        "cat /mnt/assets/data.txt > /copied.txt\n"
        "RUN --network=none sh -c 'ls /sys/class/net' > /ifaces.txt\n"
    )
    tag = _unique(tmp_path, "flags")
    _build(busybox_daemon, context, "-t", tag)
    out = _run(
        busybox_daemon,
        tag,
        "sh",
        "-c",
        "stat -c '%u:%g %a' /usr/local/bin/tool; tool; "
        "cat /copied.txt /ifaces.txt; ls /mnt/assets 2>&1 | head -1",
    )
    lines = out.splitlines()
    assert lines[0] == "123:456 750"
    assert lines[1] == "tool-ran"
    assert lines[2] == "from-assets"
    assert lines[3:-1] == ["lo"]
    assert "No such file" in lines[-1]  # the bind mount's target stays out of the image
    busybox_daemon.wharf("rmi", tag)


def test_add_fetches_urls_and_explain_cache_says_why(busybox_daemon, tmp_path):
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "remote.txt").write_text("fetched over http\n")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = tmp_path / "ctx"
        context.mkdir()
        url = f"http://127.0.0.1:{server.server_address[1]}/remote.txt"
        (context / "Dockerfile").write_text(
            f"FROM busybox\nARG FLAVOUR=plain\nADD {url} /opt/\nRUN echo $FLAVOUR > /flavour\n"
        )
        tag = _unique(tmp_path, "addurl")
        first = _build(busybox_daemon, context, "-t", tag, "--explain-cache")
        assert "Cache miss:" in first
        assert (
            _run(busybox_daemon, tag, "cat", "/opt/remote.txt", "/flavour")
            == "fetched over http\nplain\n"
        )
        changed = _build(busybox_daemon, context, "-t", tag, "--build-arg", "FLAVOUR=spicy")
        assert "build args changed: FLAVOUR" in changed
        (served / "remote.txt").write_text("changed upstream\n")
        refetched = _build(busybox_daemon, context, "-t", tag)
        assert "files changed" in refetched
        busybox_daemon.wharf("rmi", tag)
    finally:
        server.shutdown()
        server.server_close()


def test_bad_flags_fail_before_anything_runs(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo should-not-run\n")
    wrong_platform = busybox_daemon.wharf(
        "build", "--platform", "linux/s390x", context, check=False
    )
    assert wrong_platform.returncode == 1 and "only for the host platform" in wrong_platform.stderr
    bad_tag = busybox_daemon.wharf("build", "-t", "Bad:Tag!", context, check=False)
    assert bad_tag.returncode != 0 and "should-not-run" not in bad_tag.stdout
    no_target = busybox_daemon.wharf("build", "--target", "nope", context, check=False)
    assert no_target.returncode == 1 and "failed to reach build target nope" in no_target.stderr
    missing_base = tmp_path / "missing"
    missing_base.mkdir()
    (missing_base / "Dockerfile").write_text("FROM 127.0.0.1:1/nothing/here:latest\n")
    unreachable = busybox_daemon.wharf("build", missing_base, check=False)
    assert unreachable.returncode == 1
    assert "failed to pull 127.0.0.1:1/nothing/here" in unreachable.stderr


def test_dockerfile_outside_the_context_and_ignored_build_files(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.txt").write_text("app\n")
    (context / ".dockerignore").write_text(".dockerignore\nDockerfile\n")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\n")
    outside = tmp_path / "build.Dockerfile"
    outside.write_text('FROM busybox\nCOPY . /ctx/\nCMD ["ls", "-A", "/ctx"]\n')
    tag = _unique(tmp_path, "outside")
    _build(busybox_daemon, context, "-t", tag, "-f", str(outside))
    assert _run(busybox_daemon, tag).split() == ["app.txt"]
    busybox_daemon.wharf("rmi", tag)


def test_independent_stages_run_in_parallel(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    # Each stage records when its RUN began and ended; overlapping spans mean parallel stages.
    (context / "Dockerfile").write_text(
        "FROM busybox AS left\n"
        "RUN echo left-start && date +%s > /span && sleep 2 && date +%s >> /span\n"
        "FROM busybox AS right\n"
        "RUN echo right-start && date +%s > /span && sleep 2 && date +%s >> /span\n"
        "FROM busybox\n"
        "COPY --from=left /span /left\n"
        "COPY --from=right /span /right\n"
    )
    tag = _unique(tmp_path, "parallel")
    output = _build(busybox_daemon, context, "-t", tag)
    left_start, left_end = map(int, _run(busybox_daemon, tag, "cat", "/left").split())
    right_start, right_end = map(int, _run(busybox_daemon, tag, "cat", "/right").split())
    assert left_start < right_end and right_start < left_end
    # ... while the output still reads in Dockerfile order.
    assert output.index("Step 2/7") < output.index("left-start") < output.index("Step 3/7")
    assert output.index("Step 4/7") < output.index("right-start") < output.index("Step 5/7")
    busybox_daemon.wharf("rmi", tag)


def test_docker_cli_classic_builder_builds_here(busybox_daemon, tmp_path):
    docker = shutil.which("docker")
    assert docker, "the docker CLI is part of this machine's toolset"
    context = _context(tmp_path, "entrypoint")
    tag = _unique(tmp_path, "dockercli")
    env = {**busybox_daemon.env, "DOCKER_HOST": busybox_daemon.host}
    env.pop("DOCKER_BUILDKIT", None)
    # /_ping says Builder-Version 1, so the CLI picks its classic builder by itself.
    for extra in ({}, {"DOCKER_BUILDKIT": "0"}):
        proc = subprocess.run(
            [docker, "build", "-t", tag, str(context)], env={**env, **extra},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "Successfully tagged" in proc.stdout
    assert _run(busybox_daemon, tag) == "entry default args\n"
    busybox_daemon.wharf("rmi", tag)


def test_kill9_during_a_build_keeps_committed_steps_and_leaves_nothing_else(
    daemon, base_image_tars, tmp_path
):
    import time

    from support.rootfs import BUSYBOX_REF

    daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "data.txt").write_text("committed before the crash\n")
    (context / "Dockerfile").write_text(
        "FROM busybox\nCOPY data.txt /\nRUN echo sleeping && sleep 60\n"
    )
    build = subprocess.Popen(
        [str(daemon.wharf_path), "build", "-t", "crashy:1", str(context)],
        env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "sleeping" not in seen and time.monotonic() < deadline:
            seen += build.stdout.readline()  # type: ignore[union-attr]
        assert "sleeping" in seen
        daemon.kill9()
    finally:
        build.wait(timeout=30)
    daemon.restart()
    assert daemon.wharf("ps", "-aq").stdout == ""  # the step's container is gone
    snapshots = daemon.data_root / "snapshots"
    keys = [json.loads(info.read_text())["key"] for info in snapshots.glob("*/info.json")]
    assert not [key for key in keys if key.startswith("build-")]
    (context / "Dockerfile").write_text("FROM busybox\nCOPY data.txt /\nRUN cat /data.txt\n")
    rebuilt = _build(daemon, context, "-t", "crashy:1")
    assert rebuilt.split("Step 2/3")[1].split("Step 3/3")[0].count("Using cache") == 1
    assert "committed before the crash" in rebuilt


def test_zstd_layers_on_request(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo packed > /packed.txt\n")
    tag = _unique(tmp_path, "zstd")
    _build(busybox_daemon, context, "-t", tag, "--compression", "zstd")
    saved = busybox_daemon.wharf_bytes("save", tag).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        blobs = {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile() and member.name.startswith("blobs/")
        }
    documents = [json.loads(data) for data in blobs.values() if data.startswith(b"{")]
    layers = [
        layer
        for document in documents
        if isinstance(document.get("layers"), list)  # a manifest, not a config
        for layer in document["layers"]
    ]
    top = layers[-1]
    assert top["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    assert blobs["blobs/sha256/" + top["digest"].split(":")[1]][:4] == b"\x28\xb5\x2f\xfd"
    assert _run(busybox_daemon, tag, "cat", "/packed.txt") == "packed\n"
    busybox_daemon.wharf("rmi", tag)


def test_a_failing_stage_is_reported_not_the_stages_it_cancelled(busybox_daemon, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox AS slow\n"
        "RUN sleep 2\n"
        "RUN echo slow-done > /slow\n"
        "FROM busybox AS broken\n"
        "RUN echo breaking && exit 5\n"
        "FROM busybox\n"
        "COPY --from=slow /slow /\n"
        "COPY --from=broken /etc/hostname /\n"
    )
    proc = busybox_daemon.wharf("build", context, check=False)
    assert proc.returncode == 5
    assert "returned a non-zero code: 5" in proc.stderr
    assert "cancelled" not in proc.stderr
    assert "breaking" in proc.stdout
