"""Image configs: a Docker-written busybox-like config, OCI round trips, validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import InvalidArgument
from wharf.oci.config import (
    ContainerConfig,
    HealthConfig,
    HistoryEntry,
    ImageConfig,
    parse_image_config,
)
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform

DIFF1 = "sha256:65014c70e84b6817fa8b8ea0bbd3a9d1f6b1d6a6cbf2c6b3a4e7a3e1c1b9a4f2"
DIFF2 = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

# As Docker's classic builder writes it: extra keys, nulls, reserved fields.
DOCKER_CONFIG = json.dumps(
    {
        "architecture": "amd64",
        "config": {
            "Hostname": "",
            "Domainname": "",
            "User": "app",
            "AttachStdin": False,
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
            "Tty": False,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
            "Healthcheck": {
                "Test": ["CMD-SHELL", "wget -q -O- http://localhost:8080/ || exit 1"],
                "Interval": 30000000000,
                "Timeout": 5000000000,
                "StartPeriod": 10000000000,
                "StartInterval": 1000000000,
                "Retries": 3,
            },
            "ArgsEscaped": True,
            "Image": "sha256:abc",
            "Volumes": {"/data": {}},
            "WorkingDir": "/srv",
            "Entrypoint": None,
            "OnBuild": ["RUN echo child build", "COPY . /srv"],
            "Labels": {"org.opencontainers.image.title": "busybox-app", "maintainer": "x"},
            "StopSignal": "SIGQUIT",
            "Shell": ["/bin/sh", "-eu", "-c"],
            "Memory": 0,
        },
        "container": "4b1c0a2f",
        "container_config": {"Cmd": ["/bin/sh", "-c", '#(nop) CMD ["sh"]']},
        "created": "2024-05-01T10:00:00.123456789Z",
        "docker_version": "20.10.23",
        "history": [
            {
                "created": "2024-04-30T20:00:00.1Z",
                "created_by": "/bin/sh -c #(nop) ADD file:9a1b in / ",
            },
            {
                "created": "2024-04-30T20:00:00.2Z",
                "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                "empty_layer": True,
            },
            {
                "created": "2024-05-01T10:00:00.1Z",
                "created_by": "RUN /bin/sh -c adduser -D app # buildkit",
                "comment": "buildkit.dockerfile.v0",
                "author": "ops@example.com",
            },
        ],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [DIFF1, DIFF2]},
    },
    indent=2,
).encode()

# Compact OCI form, as Wharf (and moby's dockerspec) write it.
OCI_CONFIG = (
    b'{"created":"2024-05-01T10:00:00Z","author":"ops","architecture":"arm64","os":"linux",'
    b'"variant":"v8","config":{"User":"1000:1000","ExposedPorts":{"80/tcp":{}},'
    b'"Env":["A=1","B=x \\u0026 y"],"Entrypoint":["/entry"],"Cmd":[],'
    b'"Volumes":{"/a":{},"/b":{}},"WorkingDir":"/w","Labels":{"a":"1","b":"2"},'
    b'"StopSignal":"SIGTERM","ArgsEscaped":true,'
    b'"Healthcheck":{"Test":["NONE"]},"OnBuild":["RUN true"],"Shell":["/bin/bash","-c"]},'
    b'"rootfs":{"type":"layers","diff_ids":["' + DIFF1.encode() + b'"]},'
    b'"history":[{"created":"2024-05-01T10:00:00Z","created_by":"ADD x /","empty_layer":true},'
    b'{"created_by":"RUN true"}]}'
)


def test_docker_config_reads_every_typed_field() -> None:
    cfg = parse_image_config(DOCKER_CONFIG)
    assert cfg.platform == Platform("linux", "amd64")
    assert cfg.created == "2024-05-01T10:00:00.123456789Z"
    assert cfg.rootfs_diff_ids == (Digest.parse(DIFF1), Digest.parse(DIFF2))
    c = cfg.config
    assert c.user == "app"
    assert c.exposed_ports == ("8080/tcp", "53/udp")
    assert c.env[0].startswith("PATH=")
    assert c.entrypoint is None
    assert c.cmd == ("sh",)
    assert c.volumes == ("/data",)
    assert c.working_dir == "/srv"
    assert c.labels == {"org.opencontainers.image.title": "busybox-app", "maintainer": "x"}
    assert c.stop_signal == "SIGQUIT"
    assert c.args_escaped is True
    assert c.healthcheck == HealthConfig(
        test=("CMD-SHELL", "wget -q -O- http://localhost:8080/ || exit 1"),
        interval=30_000_000_000,
        timeout=5_000_000_000,
        start_period=10_000_000_000,
        start_interval=1_000_000_000,
        retries=3,
    )
    assert c.on_build == ("RUN echo child build", "COPY . /srv")
    assert c.shell == ("/bin/sh", "-eu", "-c")
    assert [h.empty_layer for h in cfg.history] == [False, True, False]
    assert cfg.history[2] == HistoryEntry(
        created="2024-05-01T10:00:00.1Z",
        created_by="RUN /bin/sh -c adduser -D app # buildkit",
        author="ops@example.com",
        comment="buildkit.dockerfile.v0",
    )


def test_docker_config_rewritten_drops_unknown_keys_and_reads_back_equal() -> None:
    cfg = parse_image_config(DOCKER_CONFIG)
    written = json.loads(cfg.to_bytes())
    assert set(written) == {"created", "architecture", "os", "config", "rootfs", "history"}
    assert "Hostname" not in written["config"] and "Memory" not in written["config"]
    assert written["config"]["ExposedPorts"] == {"53/udp": {}, "8080/tcp": {}}
    assert written["config"]["Healthcheck"]["StartInterval"] == 1_000_000_000
    assert parse_image_config(cfg.to_bytes()).config.healthcheck == cfg.config.healthcheck


def test_oci_config_round_trips_byte_for_byte() -> None:
    cfg = parse_image_config(OCI_CONFIG)
    assert cfg.config.cmd == ()  # "set to nothing" survives, unlike an absent Cmd
    assert cfg.config.entrypoint == ("/entry",)
    assert cfg.config.env[1] == "B=x & y"
    assert cfg.config.healthcheck == HealthConfig(test=("NONE",))
    assert cfg.history[1] == HistoryEntry(created_by="RUN true")
    assert cfg.to_bytes() == OCI_CONFIG


def test_minimal_config_writes_required_fields_only() -> None:
    cfg = ImageConfig(architecture="amd64", os="linux")
    assert cfg.to_bytes() == (
        b'{"architecture":"amd64","os":"linux","config":{},'
        b'"rootfs":{"type":"layers","diff_ids":[]}}'
    )
    assert parse_image_config(cfg.to_bytes()) == cfg
    assert hash(cfg) == hash(ImageConfig(architecture="amd64", os="linux"))


def _base() -> dict[str, object]:
    return {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"architecture": None}, "architecture is required"),
        ({"architecture": ""}, "architecture must not be empty"),
        ({"os": None}, "os is required"),
        ({"os": ["linux"]}, "os must be a string, not array"),
        ({"rootfs": None}, "rootfs is required"),
        ({"rootfs": {"type": "tarball", "diff_ids": []}}, 'rootfs.type must be "layers"'),
        ({"rootfs": {"diff_ids": []}}, "rootfs.type is required"),
        ({"rootfs": {"type": "layers", "diff_ids": ["md5:x"]}}, r"rootfs.diff_ids\[0\]"),
        ({"rootfs": {"type": "layers", "diff_ids": "x"}}, "rootfs.diff_ids must be an array"),
        ({"config": []}, "config must be an object, not array"),
        ({"config": {"Env": "A=1"}}, "config.Env must be an array, not string"),
        ({"config": {"Cmd": ["a", 1]}}, r"config.Cmd\[1\] must be a string, not number"),
        ({"config": {"ExposedPorts": ["80/tcp"]}}, "config.ExposedPorts must be an object"),
        ({"config": {"Labels": {"a": 1}}}, r"config.Labels\['a'\] must be a string"),
        ({"config": {"ArgsEscaped": "true"}}, "config.ArgsEscaped must be a boolean"),
        (
            {"config": {"Healthcheck": {"Interval": "30s"}}},
            "config.Healthcheck.Interval must be an integer, not string",
        ),
        (
            {"config": {"Healthcheck": {"Retries": -1}}},
            "config.Healthcheck.Retries must not be negative",
        ),
        ({"history": [{"empty_layer": 1}]}, r"history\[0\].empty_layer must be a boolean"),
        ({"history": {}}, "history must be an array, not object"),
        ({"created": 1714557600}, "created must be a string, not number"),
    ],
)
def test_rejects(patch: dict[str, object], message: str) -> None:
    obj = _base()
    for key, value in patch.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    with pytest.raises(InvalidArgument, match=f"^invalid image config: {message}"):
        parse_image_config(json.dumps(obj).encode())


@pytest.mark.parametrize("data", [b"", b"null", b"[]", b"{", b'"config"'])
def test_rejects_non_objects(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match=r"^invalid image config"):
        parse_image_config(data)


def test_null_fields_read_as_absent() -> None:
    obj = _base() | {
        "config": {"Env": None, "Cmd": None, "Labels": None, "Healthcheck": None},
        "history": None,
        "created": None,
    }
    cfg = parse_image_config(json.dumps(obj).encode())
    assert cfg.config == ContainerConfig()
    assert cfg.history == () and cfg.created is None


# -- properties ----------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=10)
_strings = st.lists(st.text(max_size=10), max_size=3).map(tuple)
_nonempty_strings = st.lists(_text, max_size=3).map(tuple)
_durations = st.integers(min_value=0, max_value=2**62)
_health = st.builds(
    HealthConfig,
    _nonempty_strings,
    _durations,
    _durations,
    _durations,
    _durations,
    st.integers(min_value=0, max_value=100),
)
_containers = st.builds(
    ContainerConfig,
    user=st.text(max_size=8),
    exposed_ports=st.sets(_text, max_size=3).map(lambda s: tuple(sorted(s))),
    env=_strings,
    entrypoint=st.none() | _strings,
    cmd=st.none() | _strings,
    volumes=st.sets(_text, max_size=3).map(lambda s: tuple(sorted(s))),
    working_dir=st.text(max_size=8),
    labels=st.dictionaries(_text, st.text(max_size=8), max_size=3),
    stop_signal=st.text(max_size=8),
    args_escaped=st.booleans(),
    healthcheck=st.none() | _health,
    on_build=_strings,
    shell=_strings,
)
_history = st.builds(
    HistoryEntry,
    st.none() | _text,
    st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.booleans(),
)
_digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map(lambda h: Digest("sha256", h))
_configs = st.builds(
    ImageConfig,
    architecture=_text,
    os=_text,
    variant=st.none() | _text,
    os_version=st.none() | _text,
    created=st.none() | _text,
    author=st.text(max_size=8),
    config=_containers,
    rootfs_diff_ids=st.lists(_digests, max_size=3).map(tuple),
    history=st.lists(_history, max_size=3).map(tuple),
    os_features=_nonempty_strings,
)


@given(_configs)
def test_round_trip(cfg: ImageConfig) -> None:
    raw = cfg.to_bytes()
    assert parse_image_config(raw) == cfg
    assert cfg.to_bytes() == raw
