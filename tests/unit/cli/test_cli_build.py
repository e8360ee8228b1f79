"""``wharf build``, ``wharf builder prune`` and ``wharf system prune`` against a scripted daemon:
the request each sends (query, headers, context tar) and what each prints."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from cli_harness import RunWharf

from wharf.apitypes.build import SECRETS_HEADER, BuildOptions, parse_secrets_header
from wharf.cli.build import is_archive, key_values, parse_secret
from wharf.cli.opts import OptionError
from wharf.client.fake import (
    FakeTransport,
    RecordedRequest,
    error_response,
    json_lines,
    json_response,
)
from wharf.oci.platform import host_platform

IMAGE = "sha256:" + "ab" * 32
STEPS = [
    {"stream": "Step 1/2 : FROM busybox\n"},
    {"stream": " ---> 1a2b3c4d5e6f\n"},
    {"stream": "Step 2/2 : RUN true\n"},
    {"aux": {"ID": IMAGE}},
    {"stream": "Successfully built abababababab\n"},
]


def make_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            member.name: (archive.extractfile(member) or io.BytesIO()).read()
            for member in archive.getmembers()
            if member.isfile()
        }


def build_daemon(*lines: object) -> FakeTransport:
    return FakeTransport().on("POST", "/build", json_lines(*(lines or STEPS)))


def sent_options(request: RecordedRequest) -> BuildOptions:
    headers = dict(request.headers)
    return BuildOptions.from_request(list(request.query), headers)


CONTEXT = make_tar({"Dockerfile": b"FROM busybox\nRUN true\n"})


# --- the stdin context


def test_a_tar_on_stdin_goes_through_as_is(wharf: RunWharf) -> None:
    daemon = build_daemon()
    result = wharf(daemon, "build", "-t", "app:1", "-t", "app:2", "-", input=CONTEXT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"Sending build context to Wharf daemon  {len(CONTEXT) / 1000:.4g}kB\n"
        "Step 1/2 : FROM busybox\n"
        " ---> 1a2b3c4d5e6f\n"
        "Step 2/2 : RUN true\n"
        "Successfully built abababababab\n"
    )
    (call,) = daemon.calls("POST", "/build")
    assert call.body == CONTEXT
    assert call.streamed
    assert ("Content-Type", "application/x-tar") in call.headers
    assert call.params("t") == ["app:1", "app:2"]
    assert call.param("dockerfile") == "Dockerfile"
    assert call.param("version") == "1"
    assert SECRETS_HEADER not in dict(call.headers)


def test_a_compressed_context_on_stdin_goes_through_too(wharf: RunWharf) -> None:
    compressed = gzip.compress(CONTEXT)
    daemon = build_daemon()
    result = wharf(daemon, "build", "-f", "sub/Dockerfile", "-", input=compressed)
    assert result.exit_code == 0, result.stderr
    (call,) = daemon.calls()
    assert call.body == compressed
    assert call.param("dockerfile") == "sub/Dockerfile"


def test_a_dockerfile_on_stdin_becomes_a_one_file_context(wharf: RunWharf) -> None:
    daemon = build_daemon()
    result = wharf(daemon, "build", "-", input=b"FROM scratch\nLABEL a=b\n")
    assert result.exit_code == 0, result.stderr
    (call,) = daemon.calls()
    assert tar_members(call.body or b"") == {"Dockerfile": b"FROM scratch\nLABEL a=b\n"}
    assert call.param("dockerfile") == "Dockerfile"


def test_stdin_cannot_be_both_context_and_dockerfile(wharf: RunWharf) -> None:
    result = wharf(None, "build", "-f", "-", "-", input=CONTEXT)
    assert result.exit_code == 1
    assert result.stderr == (
        "invalid argument: can't use stdin for both build context and dockerfile\n"
    )


def test_archive_detection() -> None:
    assert is_archive(CONTEXT[:512])
    assert is_archive(gzip.compress(b"x")[:512])
    assert is_archive(b"\x28\xb5\x2f\xfd" + b"\0" * 20)
    assert not is_archive(b"FROM scratch\n")
    assert not is_archive(b"FROM scratch\n".ljust(512, b"#"))
    assert not is_archive(b"\0" * 512)


# --- output and failures


def test_a_failed_step_exits_with_its_code(wharf: RunWharf) -> None:
    message = "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    daemon = build_daemon(
        {"stream": "Step 1/1 : RUN exit 3\n"},
        {"errorDetail": {"message": message, "code": 3}, "error": message},
    )
    result = wharf(daemon, "build", "-", input=CONTEXT)
    assert result.exit_code == 3
    assert result.stdout.endswith("Step 1/1 : RUN exit 3\n")
    assert result.stderr == message + "\n"


def test_an_error_without_a_code_exits_1(wharf: RunWharf) -> None:
    daemon = build_daemon({"errorDetail": {"message": "no space"}, "error": "no space"})
    result = wharf(daemon, "build", "-", input=CONTEXT)
    assert (result.exit_code, result.stderr) == (1, "no space\n")


def test_a_refused_build_is_a_daemon_error(wharf: RunWharf) -> None:
    daemon = FakeTransport().on(
        "POST", "/build", error_response(400, "unknown instruction: FORM (line 1)")
    )
    result = wharf(daemon, "build", "-", input=CONTEXT)
    assert result.exit_code == 1
    assert result.stderr == "Error response from daemon: unknown instruction: FORM (line 1)\n"


def test_quiet_prints_only_the_id(wharf: RunWharf) -> None:
    daemon = build_daemon({"aux": {"ID": IMAGE}}, {"stream": IMAGE + "\n"})
    result = wharf(daemon, "build", "-q", "-", input=CONTEXT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == IMAGE + "\n"
    assert daemon.calls()[0].param("q") == "1"


def test_progress_quiet_is_quiet_and_held_text_shows_on_failure(wharf: RunWharf) -> None:
    daemon = build_daemon(
        {"stream": "Step 1/1 : RUN false\n"},
        {"errorDetail": {"message": "failed", "code": 1}, "error": "failed"},
    )
    result = wharf(daemon, "build", "--progress", "quiet", "-", input=CONTEXT)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Step 1/1 : RUN false\nfailed\n"


@pytest.mark.parametrize("mode", ["auto", "plain", "tty"])
def test_other_progress_modes_print_the_classic_stream(wharf: RunWharf, mode: str) -> None:
    result = wharf(build_daemon(), "build", "--progress", mode, "-", input=CONTEXT)
    assert "Step 2/2 : RUN true\n" in result.stdout


def test_iidfile_gets_the_id(wharf: RunWharf, tmp_path: Path) -> None:
    iidfile = tmp_path / "iid"
    result = wharf(build_daemon(), "build", "--iidfile", str(iidfile), "-", input=CONTEXT)
    assert result.exit_code == 0, result.stderr
    assert iidfile.read_text() == IMAGE


def test_a_failed_build_leaves_no_stale_iidfile(wharf: RunWharf, tmp_path: Path) -> None:
    iidfile = tmp_path / "iid"
    iidfile.write_text("sha256:old")
    daemon = build_daemon({"errorDetail": {"message": "x"}, "error": "x"})
    result = wharf(daemon, "build", "--iidfile", str(iidfile), "-", input=CONTEXT)
    assert result.exit_code == 1
    assert not iidfile.exists()


def test_no_id_no_iidfile(wharf: RunWharf, tmp_path: Path) -> None:
    iidfile = tmp_path / "iid"
    daemon = build_daemon({"stream": "done\n"})
    result = wharf(daemon, "build", "--iidfile", str(iidfile), "-", input=CONTEXT)
    assert result.exit_code == 1
    assert result.stderr == f"Server did not provide an image ID. Cannot write {iidfile}\n"


# --- flags


def test_flags_become_the_query(wharf: RunWharf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_ENV", "env-value")
    monkeypatch.delenv("NOT_SET", raising=False)
    host = str(host_platform().normalized())
    daemon = build_daemon()
    result = wharf(
        daemon, "build", "-",
        "--build-arg", "A=1", "--build-arg", "FROM_ENV", "--build-arg", "NOT_SET",
        "--label", "org.example=yes", "--label", "bare",
        "--target", "runtime", "--no-cache", "--pull", "--network", "host",
        "--add-host", "db=10.0.0.2", "--shm-size", "64m", "-m", "1g", "-c", "512",
        "--rm=false", "--explain-cache", "--compression", "zstd",
        "--cache-from", "base:1,base:2", "--cache-from", "base:3", "--platform", host,
        input=CONTEXT,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    options = sent_options(daemon.calls()[0])
    assert options == BuildOptions(
        build_args=(("A", "1"), ("FROM_ENV", "env-value"), ("NOT_SET", None)),
        labels=(("bare", ""), ("org.example", "yes")),
        target="runtime",
        no_cache=True,
        pull=True,
        network_mode="host",
        extra_hosts=("db:10.0.0.2",),
        shm_size=64 << 20,
        memory=1 << 30,
        cpu_shares=512,
        remove=False,
        explain_cache=True,
        compression=options.compression,
        cache_from=("base:1", "base:2", "base:3"),
        platform=host,
    )
    assert options.compression.value == "zstd"
    assert json.loads(daemon.calls()[0].param("buildargs") or "")["NOT_SET"] is None


def test_force_rm_implies_rm(wharf: RunWharf) -> None:
    daemon = build_daemon()
    wharf(daemon, "build", "--rm=false", "--force-rm", "-", input=CONTEXT)
    options = sent_options(daemon.calls()[0])
    assert options.force_remove and options.remove


def test_a_foreign_platform_is_refused_before_sending(wharf: RunWharf) -> None:
    foreign = "linux/s390x" if host_platform().architecture != "s390x" else "linux/amd64"
    result = wharf(None, "build", "--platform", foreign, "-", input=CONTEXT)
    assert result.exit_code == 1
    assert result.stderr.startswith(f'platform "{foreign}" is not supported: wharf builds only')
    assert str(host_platform().normalized()) in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("-t", "UPPER", 'invalid argument "UPPER" for "-t, --tag" flag: invalid reference format'),
        ("--progress", "fancy", 'invalid argument "fancy" for "--progress" flag: unknown'),
        ("--compression", "lz4", 'invalid argument "lz4" for "--compression" flag'),
        ("--shm-size", "big", 'invalid argument "big" for "--shm-size" flag'),
        ("--secret", "src", 'invalid argument "src" for "--secret" flag: invalid field'),
        ("--add-host", "nope", 'invalid argument "nope" for "--add-host" flag'),
        ("--build-arg", "=x", 'invalid argument "=x" for "--build-arg" flag'),
    ],
)
def test_bad_flag_values_exit_125(wharf: RunWharf, flag: str, value: str, complaint: str) -> None:
    result = wharf(None, "build", flag, value, "-", input=CONTEXT)
    assert result.exit_code == 125
    assert result.stderr.startswith(complaint)


def test_context_path_errors(wharf: RunWharf, tmp_path: Path) -> None:
    result = wharf(None, "build", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.stderr == f'unable to prepare context: path "{tmp_path / "nope"}" not found\n'
    result = wharf(None, "build", "https://github.com/x/y.git")
    assert result.exit_code == 1
    assert "remote build contexts are not supported by wharf" in result.stderr
    result = wharf(None, "build")
    assert result.exit_code == 1
    assert result.stderr.startswith("wharf: 'wharf build' requires 1 argument")


# --- secrets


def test_secret_syntax() -> None:
    assert parse_secret("id=npm,src=/run/npmrc") == ("npm", "/run/npmrc", "")
    aws = "/home/me/.aws/credentials"
    assert parse_secret(f"src={aws}") == ("credentials", aws, "")
    assert parse_secret("id=tok,env=TOKEN") == ("tok", "", "TOKEN")
    assert parse_secret("type=env,id=TOKEN") == ("TOKEN", "", "TOKEN")
    assert parse_secret("type=env,id=t,src=TOKEN") == ("t", "", "TOKEN")
    assert parse_secret("type=file,id=key") == ("key", "key", "")
    assert parse_secret("id=only") == ("only", "", "")
    for bad, message in [
        ("id=a,kind=x", "unexpected key 'kind'"),
        ("type=ssh,id=a", "unsupported secret type 'ssh'"),
        ("id=", "secret ID missing"),
        ("id=a,src=f,env=E", "not both"),
    ]:
        with pytest.raises(OptionError, match=message):
            parse_secret(bad)


def test_secrets_are_read_and_sent_in_the_header(
    wharf: RunWharf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "npmrc"
    secret_file.write_bytes(b"//registry/:_authToken=abc\n")
    monkeypatch.setenv("TOKEN", "t0ken")
    monkeypatch.setenv("BARE", "from-env")
    daemon = build_daemon()
    result = wharf(
        daemon, "build", "-",
        "--secret", f"id=npm,src={secret_file}", "--secret", "id=tok,env=TOKEN",
        "--secret", "id=BARE",
        input=CONTEXT,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    call = daemon.calls()[0]
    secrets = parse_secrets_header(dict(call.headers)[SECRETS_HEADER])
    assert {secret.id: secret.data for secret in secrets} == {
        "npm": b"//registry/:_authToken=abc\n",
        "tok": b"t0ken",
        "BARE": b"from-env",
    }
    # Never in the query, where proxies and logs would see it.
    assert "t0ken" not in json.dumps(call.query)
    assert base64.b64encode(b"t0ken").decode() not in json.dumps(call.query)


def test_a_missing_secret_fails_before_sending(wharf: RunWharf, tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    result = wharf(None, "build", "--secret", f"id=x,src={missing}", "-", input=CONTEXT)
    assert result.exit_code == 1
    assert result.stderr == f"secret x: failed to read {missing}: No such file or directory\n"
    result = wharf(None, "build", "--secret", "id=x,env=WHARF_UNSET_VAR", "-", input=CONTEXT)
    assert result.stderr == "secret x: environment variable WHARF_UNSET_VAR is not set\n"


def test_key_values_keep_bare_keys_as_none() -> None:
    assert key_values(["A=1", "B", "C=", "A=2"]) == {"A": "2", "B": None, "C": ""}


# --- directory contexts (the context writer of builder.context)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("wharf.builder.context.send")
    context = tmp_path / "ctx"
    (context / "src").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM busybox\nCOPY src /src\n")
    (context / "src" / "app.py").write_text("print('hi')\n")
    (context / "src" / "debug.log").write_text("noise\n")
    (context / ".dockerignore").write_text("**/*.log\nDockerfile\n")
    monkeypatch.chdir(tmp_path)
    return context


def test_a_directory_context_honours_dockerignore(wharf: RunWharf, project: Path) -> None:
    daemon = build_daemon()
    result = wharf(daemon, "build", "-t", "app", "ctx")
    assert result.exit_code == 0, result.stderr
    call = daemon.calls()[0]
    members = tar_members(call.body or b"")
    assert "src/app.py" in members
    assert "src/debug.log" not in members
    # The Dockerfile and .dockerignore always go, whatever .dockerignore says.
    assert members["Dockerfile"] == b"FROM busybox\nCOPY src /src\n"
    assert ".dockerignore" in members
    assert call.param("dockerfile") == "Dockerfile"
    assert result.stdout.startswith("Sending build context to Wharf daemon ")


def test_a_lowercase_dockerfile_is_found(wharf: RunWharf, project: Path) -> None:
    (project / "Dockerfile").rename(project / "dockerfile")
    daemon = build_daemon()
    result = wharf(daemon, "build", "ctx")
    assert result.exit_code == 0, result.stderr
    assert daemon.calls()[0].param("dockerfile") == "dockerfile"


def test_f_is_relative_to_the_current_directory(wharf: RunWharf, project: Path) -> None:
    (project / "build").mkdir()
    (project / "build" / "prod.Dockerfile").write_text("FROM scratch\n")
    daemon = build_daemon()
    result = wharf(daemon, "build", "-f", "ctx/build/prod.Dockerfile", "ctx")
    assert result.exit_code == 0, result.stderr
    call = daemon.calls()[0]
    assert call.param("dockerfile") == "build/prod.Dockerfile"
    assert tar_members(call.body or b"")["build/prod.Dockerfile"] == b"FROM scratch\n"


def test_a_dockerfile_outside_the_context_travels_inside_the_tar(
    wharf: RunWharf, project: Path
) -> None:
    outside = project.parent / "Outside.Dockerfile"
    outside.write_text("FROM scratch\nLABEL outside=1\n")
    daemon = build_daemon()
    result = wharf(daemon, "build", "-f", str(outside), "ctx")
    assert result.exit_code == 0, result.stderr
    call = daemon.calls()[0]
    name = call.param("dockerfile") or ""
    assert tar_members(call.body or b"")[name] == b"FROM scratch\nLABEL outside=1\n"


def test_a_dockerfile_from_stdin_with_a_directory_context(wharf: RunWharf, project: Path) -> None:
    daemon = build_daemon()
    result = wharf(daemon, "build", "-f", "-", "ctx", input=b"FROM scratch\nLABEL stdin=1\n")
    assert result.exit_code == 0, result.stderr
    call = daemon.calls()[0]
    members = tar_members(call.body or b"")
    assert members[call.param("dockerfile") or ""] == b"FROM scratch\nLABEL stdin=1\n"
    assert "src/app.py" in members


def test_a_missing_dockerfile_is_reported(wharf: RunWharf, project: Path) -> None:
    (project / "Dockerfile").unlink()
    result = wharf(None, "build", "ctx")
    assert result.exit_code == 1
    assert result.stderr == (
        "unable to prepare context: Cannot locate specified Dockerfile: Dockerfile\n"
    )
    result = wharf(None, "build", "-f", "nope.Dockerfile", "ctx")
    assert result.stderr == (
        "unable to prepare context: Cannot locate specified Dockerfile: nope.Dockerfile\n"
    )


# --- builder prune


def prune_daemon(deleted: list[str] | None, space: int) -> FakeTransport:
    return FakeTransport().on(
        "POST", "/build/prune", json_response({"CachesDeleted": deleted, "SpaceReclaimed": space})
    )


def test_builder_prune_asks_and_reports(wharf: RunWharf) -> None:
    daemon = prune_daemon(["k1", "k2"], 4261550)
    result = wharf(daemon, "builder", "prune", input="y\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "WARNING! This will remove all dangling build cache. "
        "Are you sure you want to continue? [y/N] "
        "Deleted build cache objects:\n"
        "k1\n"
        "k2\n"
        "\n"
        "Total reclaimed space: 4.262MB\n"
    )
    assert daemon.calls()[0].query == ()


def test_builder_prune_cancelled_does_nothing(wharf: RunWharf) -> None:
    daemon = prune_daemon(None, 0)
    result = wharf(daemon, "builder", "prune", "-a", input="n\n")
    assert result.exit_code == 0
    assert result.stdout == (
        "WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] "
    )
    assert daemon.calls() == []


def test_builder_prune_forced_with_everything(wharf: RunWharf) -> None:
    daemon = prune_daemon(None, 0)
    result = wharf(
        daemon, "builder", "prune", "-af", "--filter", "until=24h", "--keep-storage", "1g"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Total reclaimed space: 0B\n"
    call = daemon.calls()[0]
    assert call.param("all") == "1"
    assert call.param("keep-storage") == str(1 << 30)
    assert json.loads(call.param("filters") or "") == {"until": {"24h": True}}


# --- system prune


def system_daemon() -> FakeTransport:
    return (
        FakeTransport()
        .on("POST", "/containers/prune", json_response(
            {"ContainersDeleted": ["c" * 64], "SpaceReclaimed": 1000}))
        .on("POST", "/networks/prune", json_response({"NetworksDeleted": ["n1"]}))
        .on("POST", "/volumes/prune", json_response(
            {"VolumesDeleted": ["v1"], "SpaceReclaimed": 20000}))
        .on("POST", "/images/prune", json_response(
            {"ImagesDeleted": [{"Untagged": "x:1"}, {"Deleted": IMAGE}], "SpaceReclaimed": 300000}))
        .on("POST", "/build/prune", json_response(
            {"CachesDeleted": ["k1"], "SpaceReclaimed": 4000000}))
    )  # fmt: skip


def test_system_prune_includes_the_build_cache(wharf: RunWharf) -> None:
    daemon = system_daemon()
    result = wharf(daemon, "system", "prune", "-f")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Deleted Containers:\n"
        f"{'c' * 64}\n"
        "\n"
        "Deleted Networks:\n"
        "n1\n"
        "\n"
        "Deleted Images:\n"
        "untagged: x:1\n"
        f"deleted: {IMAGE}\n"
        "\n"
        "Deleted build cache objects:\n"
        "k1\n"
        "\n"
        "Total reclaimed space: 4.301MB\n"
    )
    assert [call.path for call in daemon.calls()] == [
        "/containers/prune",
        "/networks/prune",
        "/images/prune",
        "/build/prune",
    ]
    assert daemon.calls("POST", "/build/prune")[0].param("all") is None
    images_filters = json.loads(daemon.calls("POST", "/images/prune")[0].param("filters") or "")
    assert images_filters == {"dangling": {"true": True}}


def test_system_prune_all_prunes_all_cache_and_asks_first(wharf: RunWharf) -> None:
    daemon = system_daemon()
    result = wharf(daemon, "system", "prune", "-a", "--volumes", "--filter", "label=x", input="y\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "WARNING! This will remove:\n"
        "  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all images without at least one container associated to them\n"
        "  - all build cache\n"
        "\n"
        "  Items to be pruned will be filtered with:\n"
        "  - label=x\n"
        "\n"
        "Are you sure you want to continue? [y/N] "
    )
    assert "Deleted Volumes:\nv1\n\n" in result.stdout
    assert result.stdout.endswith("Total reclaimed space: 4.321MB\n")
    build = daemon.calls("POST", "/build/prune")[0]
    assert build.param("all") == "1"
    assert json.loads(build.param("filters") or "") == {"label": {"x": True}}


def test_system_prune_default_warning_and_cancel(wharf: RunWharf) -> None:
    daemon = system_daemon()
    result = wharf(daemon, "system", "prune", input="\n")
    assert result.exit_code == 0
    assert result.stdout == (
        "WARNING! This will remove:\n"
        "  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all dangling images\n"
        "  - unused build cache\n"
        "\n"
        "Are you sure you want to continue? [y/N] "
    )
    assert daemon.calls() == []


def test_system_prune_refuses_until_with_volumes(wharf: RunWharf) -> None:
    result = wharf(None, "system", "prune", "-f", "--volumes", "--filter", "until=1h")
    assert result.exit_code == 1
    assert result.stderr == 'ERROR: The "until" filter is not supported with "--volumes"\n'
