"""``apitypes.build``: Docker's ``/build`` query decoded into ``BuildOptions`` and encoded back,
the secrets header, the build stream's lines and the prune report."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, MultiDict

from wharf.apitypes.build import (
    SECRETS_HEADER,
    BuildMessage,
    BuildOptions,
    BuildPruneReport,
    BuildSecret,
    docker_bool,
    parse_secrets_header,
)
from wharf.errdefs import InvalidArgument, Unsupported
from wharf.oci.mediatypes import Compression


def parse(*pairs: tuple[str, str], headers: dict[str, str] | None = None) -> BuildOptions:
    return BuildOptions.from_request(list(pairs), headers or {})


# --- decoding the query


def test_an_empty_query_is_the_defaults() -> None:
    assert parse() == BuildOptions()
    assert BuildOptions().remove is True
    assert BuildOptions().dockerfile == "Dockerfile"
    assert BuildOptions().compression is Compression.GZIP


def test_the_docker_cli_query() -> None:
    # What DOCKER_BUILDKIT=0 docker build -t t1 -t t2:v ctx sends (SPEC-NOTES).
    query = MultiDict([("dockerfile", "Dockerfile"), ("t", "t1"), ("t", "t2:v"), ("version", "1")])
    options = BuildOptions.from_request(query, CIMultiDict())
    assert options.tags == ("t1", "t2:v")
    assert options.dockerfile == "Dockerfile"


def test_a_plain_mapping_works_too() -> None:
    options = BuildOptions.from_request({"t": "app", "target": "build"}, {})
    assert options.tags == ("app",)
    assert options.target == "build"


def test_every_docker_parameter_lands_in_its_field() -> None:
    options = parse(
        ("dockerfile", "sub/Dockerfile.dev"),
        ("t", "app:1"),
        ("extrahosts", "db:10.0.0.2"),
        ("extrahosts", "cache:10.0.0.3"),
        ("q", "1"),
        ("nocache", "true"),
        ("cachefrom", '["base:1","base:2"]'),
        ("pull", "True"),
        ("rm", "0"),
        ("memory", "1048576"),
        ("memswap", "-1"),
        ("cpushares", "512"),
        ("cpusetcpus", "0-1"),
        ("cpuperiod", "100000"),
        ("cpuquota", "50000"),
        ("buildargs", '{"B":"2","A":"1","UNSET":null}'),
        ("shmsize", "67108864"),
        ("labels", '{"z":"last","a":"first"}'),
        ("networkmode", "host"),
        ("platform", "linux/amd64"),
        ("target", "runtime"),
        ("outputs", '[{"Type":"moby","Attrs":{}}]'),
        ("explaincache", "1"),
        ("compression", "zstd"),
    )
    assert options == BuildOptions(
        tags=("app:1",),
        dockerfile="sub/Dockerfile.dev",
        build_args=(("A", "1"), ("B", "2"), ("UNSET", None)),
        target="runtime",
        no_cache=True,
        pull=True,
        quiet=True,
        remove=False,
        labels=(("a", "first"), ("z", "last")),
        network_mode="host",
        platform="linux/amd64",
        extra_hosts=("db:10.0.0.2", "cache:10.0.0.3"),
        shm_size=67108864,
        memory=1048576,
        cpu_shares=512,
        cache_from=("base:1", "base:2"),
        explain_cache=True,
        compression=Compression.ZSTD,
    )


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "yes", "on", " 1 "])
def test_docker_booleans_true(value: str) -> None:
    assert docker_bool(value)
    assert parse(("nocache", value)).no_cache


@pytest.mark.parametrize("value", ["", "0", "false", "False", "no", "NONE", " 0 "])
def test_docker_booleans_false(value: str) -> None:
    assert not docker_bool(value)
    assert not parse(("nocache", value)).no_cache


def test_rm_defaults_to_true_and_forcerm_implies_it() -> None:
    assert parse(("rm", "")).remove
    assert not parse(("rm", "false")).remove
    forced = parse(("rm", "0"), ("forcerm", "1"))
    assert forced.remove and forced.force_remove


def test_the_first_value_of_a_repeated_scalar_wins_as_in_go() -> None:
    assert parse(("target", "a"), ("target", "b")).target == "a"


def test_platform_is_normalized() -> None:
    assert parse(("platform", "LINUX/x86_64")).platform == "linux/amd64"
    assert parse(("platform", "linux/arm64/v8")).platform == "linux/arm64"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("buildargs", "{not json", "buildargs"),
        ("buildargs", '["A"]', "buildargs"),
        ("buildargs", '{"A": 1}', "buildargs"),
        ("labels", "{", "labels"),
        ("labels", '{"a": null}', "labels"),
        ("cachefrom", "base", "cachefrom"),
        ("cachefrom", "[1]", "cachefrom"),
        ("outputs", "[", "outputs"),
        ("shmsize", "64m", "shmsize"),
        ("memory", "lots", "memory"),
        ("cpushares", "1.5", "cpushares"),
        ("memswap", "x", "memswap"),
        ("platform", "a/b/c/d", "platform"),
        ("compression", "brotli", "compression"),
    ],
)
def test_malformed_parameters_name_themselves(key: str, value: str, named: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse((key, value))
    assert named in str(caught.value)


def test_remote_contexts_are_refused_with_the_url() -> None:
    url = "https://github.com/user/repo.git#main"
    with pytest.raises(Unsupported) as caught:
        parse(("remote", url))
    assert str(caught.value) == f"remote build contexts are not supported by wharf: {url}"


def test_buildkit_is_refused_clearly() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse(("version", "2"))
    assert "BuildKit" in str(caught.value)
    assert "DOCKER_BUILDKIT=0" in str(caught.value)
    with pytest.raises(InvalidArgument, match="builder version"):
        parse(("version", "3"))


def test_squash_and_security_options_are_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"^squash is not supported$"):
        parse(("squash", "1"))
    assert parse(("squash", "0")) == BuildOptions()
    with pytest.raises(InvalidArgument, match="security options"):
        parse(("securityopt", "credentialspec=x"))


def test_outputs_other_than_the_image_store_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="'local'"):
        parse(("outputs", '[{"Type":"local","Attrs":{"dest":"/tmp/x"}}]'))
    assert parse(("outputs", "[]")) == BuildOptions()


@pytest.mark.parametrize("tag", ["UPPER:case", "a@sha256:" + "0" * 64, "x:", ":tag"])
def test_bad_tags_are_refused(tag: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid tag"):
        parse(("t", tag))


# --- secrets


def _header(payload: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_secrets_travel_in_a_header_found_whatever_its_case() -> None:
    header = _header({"npm": base64.b64encode(b"tok\x00en").decode(), "aws": ""})
    options = parse(headers={SECRETS_HEADER.lower(): header})
    assert options.secrets == (BuildSecret("aws", b""), BuildSecret("npm", b"tok\x00en"))


def test_secret_bytes_never_show_in_a_repr() -> None:
    options = BuildOptions(secrets=(BuildSecret("npm", b"hunter2"),))
    assert "hunter2" not in repr(options)
    assert "npm" in repr(options)


@pytest.mark.parametrize(
    "header",
    [
        "%%%",
        base64.urlsafe_b64encode(b"[1]").decode(),
        _header({"id": "not base64 !"}),
        base64.urlsafe_b64encode(b'{"id": 3}').decode(),
        _header({"": "eA=="}),
    ],
)
def test_malformed_secrets_headers_are_refused(header: str) -> None:
    with pytest.raises(InvalidArgument, match=SECRETS_HEADER):
        parse_secrets_header(header)


def test_no_secrets_no_header() -> None:
    assert BuildOptions().secrets_header() is None
    assert parse_secrets_header(None) == ()


# --- encoding for the client


def test_the_default_query_is_what_the_docker_cli_sends() -> None:
    assert BuildOptions().to_query() == [("dockerfile", "Dockerfile"), ("version", "1")]


def test_query_keys_are_sorted_and_defaults_omitted() -> None:
    query = BuildOptions(
        tags=("b", "a"), remove=False, network_mode="default", target="x", quiet=True
    ).to_query()
    assert query == [
        ("dockerfile", "Dockerfile"),
        ("q", "1"),
        ("rm", "0"),
        ("t", "b"),
        ("t", "a"),
        ("target", "x"),
        ("version", "1"),
    ]


def test_null_build_args_stay_null_on_the_wire() -> None:
    query = dict(BuildOptions(build_args=(("A", None), ("B", "x"))).to_query())
    assert json.loads(query["buildargs"]) == {"A": None, "B": "x"}


_TAGS = st.sampled_from(["app", "app:1", "localhost:5000/team/app:v2", "docker.io/library/x"])
_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_KEY = st.text(alphabet="ABCDEFGHIJ_xyz0", min_size=1, max_size=6)
_SIZE = st.integers(min_value=0, max_value=1 << 40)


@st.composite
def build_options(draw: st.DrawFn) -> BuildOptions:
    build_args = draw(st.dictionaries(_KEY, st.none() | _TEXT, max_size=4))
    labels = draw(st.dictionaries(_TEXT.filter(bool), _TEXT, max_size=3))
    secrets = draw(st.dictionaries(_KEY, st.binary(max_size=40), max_size=3))
    force_remove = draw(st.booleans())
    return BuildOptions(
        tags=tuple(draw(st.lists(_TAGS, max_size=3))),
        dockerfile=draw(st.sampled_from(["Dockerfile", "sub/Dockerfile.dev", "a b/Docker file"])),
        build_args=tuple(sorted(build_args.items())),
        target=draw(st.sampled_from(["", "build", "stage-2"])),
        no_cache=draw(st.booleans()),
        pull=draw(st.booleans()),
        quiet=draw(st.booleans()),
        remove=force_remove or draw(st.booleans()),
        force_remove=force_remove,
        labels=tuple(sorted(labels.items())),
        network_mode=draw(st.sampled_from(["", "host", "none", "my-net"])),
        platform=draw(st.sampled_from(["", "linux/amd64", "linux/arm/v7"])),
        extra_hosts=tuple(draw(st.lists(st.sampled_from(["a:10.0.0.1", "b:::1"]), max_size=2))),
        shm_size=draw(_SIZE),
        memory=draw(_SIZE),
        cpu_shares=draw(st.integers(min_value=0, max_value=262144)),
        cache_from=tuple(draw(st.lists(_TAGS, max_size=2))),
        secrets=tuple(BuildSecret(key, value) for key, value in sorted(secrets.items())),
        explain_cache=draw(st.booleans()),
        compression=draw(st.sampled_from([Compression.GZIP, Compression.ZSTD])),
    )


@given(build_options())
def test_what_the_client_encodes_the_router_decodes(options: BuildOptions) -> None:
    header = options.secrets_header()
    headers = {SECRETS_HEADER: header} if header is not None else {}
    assert BuildOptions.from_request(options.to_query(), headers) == options


# --- the stream


def test_stream_line_shapes_are_dockers() -> None:
    assert BuildMessage(stream="Step 1/2 : FROM x\n").to_wire() == {"stream": "Step 1/2 : FROM x\n"}
    assert BuildMessage(aux_id="sha256:ab").to_wire() == {"aux": {"ID": "sha256:ab"}}
    assert BuildMessage(error="boom", error_code=2).to_wire() == {
        "errorDetail": {"message": "boom", "code": 2},
        "error": "boom",
    }
    assert BuildMessage(error="boom").to_wire() == {
        "errorDetail": {"message": "boom"},
        "error": "boom",
    }


@given(
    st.builds(
        BuildMessage,
        stream=_TEXT,
        aux_id=st.sampled_from(["", "sha256:" + "a" * 64]),
        error=_TEXT,
        error_code=st.none() | st.integers(min_value=-5, max_value=255),
    )
)
def test_messages_survive_the_wire(message: BuildMessage) -> None:
    decoded = BuildMessage.from_wire(json.loads(json.dumps(message.to_wire())))
    expected_code = message.error_code if message.error else None
    assert decoded == BuildMessage(message.stream, message.aux_id, message.error, expected_code)


def test_dockerd_pull_progress_reads_as_text_and_bars_are_dropped() -> None:
    status = BuildMessage.from_wire(
        {"status": "Pulling fs layer", "id": "a1", "progressDetail": {}}
    )
    assert status == BuildMessage(stream="a1: Pulling fs layer\n")
    plain = BuildMessage.from_wire({"status": "Digest: sha256:x"})
    assert plain.stream == "Digest: sha256:x\n"
    bar = BuildMessage.from_wire(
        {"status": "Downloading", "id": "a1", "progressDetail": {"current": 1, "total": 9}}
    )
    assert bar == BuildMessage()


def test_an_error_without_detail_still_reads() -> None:
    assert BuildMessage.from_wire({"error": "x"}) == BuildMessage(error="x")
    assert BuildMessage.from_wire({"errorDetail": {"message": "y", "code": True}}) == BuildMessage(
        error="y"
    )
    with pytest.raises(InvalidArgument):
        BuildMessage.from_wire(["not", "an", "object"])


# --- prune


def test_prune_report_wire() -> None:
    report = BuildPruneReport(("c1", "c2"), 4096)
    assert report.to_wire() == {"CachesDeleted": ["c1", "c2"], "SpaceReclaimed": 4096}
    assert BuildPruneReport.from_wire(report.to_wire()) == report
    assert BuildPruneReport.from_wire({"CachesDeleted": None, "SpaceReclaimed": 0}) == (
        BuildPruneReport()
    )
    with pytest.raises(InvalidArgument):
        BuildPruneReport.from_wire({"CachesDeleted": [1], "SpaceReclaimed": 0})
