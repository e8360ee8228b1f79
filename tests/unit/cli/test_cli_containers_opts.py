"""The container flag parsers: docker's values and messages, and properties over many inputs."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.cli.opts import (
    OptionError,
    effective_caps,
    parse_mount,
    parse_nano_cpus,
    parse_port_spec,
    parse_port_specs,
    parse_restart_policy,
    parse_size,
    parse_ulimit,
    parse_volume,
    read_env_file,
    validate_extra_host,
)
from wharf.client.container_spec import MountType, PortBinding, RestartPolicy, Ulimit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32m", 32 << 20),
        ("32M", 32 << 20),
        ("1g", 1 << 30),
        ("1.5k", 1536),
        ("100", 100),
        ("10b", 10),
        ("64MiB", 64 << 20),
        ("64mb", 64 << 20),
        ("2 GB", 2 << 30),
    ],
)
def test_parse_size_is_ram_in_bytes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "invalid size: 'abc'"),
        ("", "invalid size: ''"),
        ("12x", "invalid suffix: 'x'"),
        ("12kx", "invalid suffix: 'kx'"),
        ("12bb", "invalid suffix: 'bb'"),
        ("1.2.3", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
    ],
)
def test_parse_size_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_size(text)
    assert info.value.message == message


@given(st.integers(min_value=0, max_value=1 << 40), st.sampled_from(["k", "m", "g", ""]))
def test_parse_size_scales_integers_exactly(number: int, unit: str) -> None:
    factor = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "": 1}[unit]
    assert parse_size(f"{number}{unit}") == number * factor


def test_nano_cpus() -> None:
    assert parse_nano_cpus("1.5") == 1_500_000_000
    assert parse_nano_cpus("3/2") == 1_500_000_000
    assert parse_nano_cpus("0.000000001") == 1
    with pytest.raises(OptionError, match="too precise"):
        parse_nano_cpus("0.0000000001")


def test_ulimits() -> None:
    assert parse_ulimit("nofile=1024:2048") == Ulimit("nofile", 1024, 2048)
    assert parse_ulimit("core=-1") == Ulimit("core", -1, -1)
    with pytest.raises(OptionError, match="soft limit must be less than or equal"):
        parse_ulimit("nofile=10:5")
    with pytest.raises(OptionError, match="too many limit value arguments"):
        parse_ulimit("nofile=1:2:3")


@given(
    container=st.integers(min_value=1, max_value=65535),
    host=st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
    proto=st.sampled_from(["tcp", "udp", "sctp"]),
    ip=st.sampled_from(["", "127.0.0.1", "::1"]),
)
def test_port_spec_round_trip(container: int, host: int | None, proto: str, ip: str) -> None:
    host_text = "" if host is None else str(host)
    shown_ip = f"[{ip}]" if ":" in ip else ip
    spec = (
        f"{shown_ip}:{host_text}:{container}/{proto}"
        if ip
        else (f"{host_text}:{container}/{proto}" if host_text else f"{container}/{proto}")
    )
    assert parse_port_spec(spec) == [(f"{container}/{proto}", PortBinding(ip, host_text))]


def test_port_ranges_and_dynamic_host_ranges() -> None:
    assert parse_port_spec("8000-8001:80-81") == [
        ("80/tcp", PortBinding("", "8000")),
        ("81/tcp", PortBinding("", "8001")),
    ]
    assert parse_port_spec("8000-8010:80") == [("80/tcp", PortBinding("", "8000-8010"))]
    with pytest.raises(OptionError, match="invalid ranges specified"):
        parse_port_spec("8000-8002:80-81")


def test_same_port_twice_gives_two_bindings() -> None:
    exposed, bindings = parse_port_specs(["8080:80", "127.0.0.1:9090:80"])
    assert exposed == ("80/tcp",)
    assert bindings == (("80/tcp", (PortBinding("", "8080"), PortBinding("127.0.0.1", "9090"))),)


def test_long_publish_syntax() -> None:
    _, bindings = parse_port_specs(["target=80,published=8080,protocol=udp"])
    assert bindings == (("80/udp", (PortBinding("", "8080"),)),)


@given(st.text(min_size=1, max_size=30))
def test_port_parser_never_crashes(spec: str) -> None:
    with contextlib.suppress(OptionError):
        parse_port_specs([spec])


@given(st.text(max_size=40))
def test_volume_parser_never_crashes(spec: str) -> None:
    with contextlib.suppress(OptionError):
        parse_volume(spec)


def test_volume_specs() -> None:
    anonymous = parse_volume("/data")
    assert anonymous.anonymous and anonymous.target == "/data"
    bind = parse_volume("/src:/dst:ro")
    assert (bind.source, bind.target, bind.mode, bind.is_bind_path) == ("/src", "/dst", "ro", True)
    named = parse_volume("data:/v")
    assert not named.is_bind_path
    with pytest.raises(OptionError, match="too many colons"):
        parse_volume("a:b:c:d")


def test_mounts() -> None:
    mount = parse_mount("type=bind,src=/a,dst=/b,ro=true")
    assert (mount.type, mount.source, mount.target, mount.read_only) == (
        MountType.BIND,
        "/a",
        "/b",
        True,
    )
    assert parse_mount("target=/v").type is MountType.VOLUME
    with pytest.raises(OptionError, match="cannot mix 'volume-\\*' options with mount type 'bind'"):
        parse_mount("type=bind,src=/a,dst=/b,volume-nocopy")
    with pytest.raises(OptionError, match="unexpected key 'bogus'"):
        parse_mount("dst=/b,bogus=1")
    with pytest.raises(OptionError, match="invalid field 'weird' must be a key=value pair"):
        parse_mount("dst=/b,weird")


def test_restart_policies() -> None:
    assert parse_restart_policy("no") == RestartPolicy("no")
    assert parse_restart_policy("on-failure:5") == RestartPolicy("on-failure", 5)
    assert parse_restart_policy("") == RestartPolicy()
    with pytest.raises(OptionError, match="no policy provided before colon"):
        parse_restart_policy(":3")


def test_caps() -> None:
    assert effective_caps(["net_admin", "CAP_SYS_TIME", "net_admin"], ["chown", "NET_ADMIN"]) == (
        ("CAP_NET_ADMIN", "CAP_SYS_TIME"),
        ("CAP_CHOWN",),
    )
    assert effective_caps(["all", "chown"], []) == (("ALL",), ())


def test_extra_hosts() -> None:
    assert validate_extra_host("db:10.0.0.1") == "db:10.0.0.1"
    assert validate_extra_host("db=::1") == "db:::1"
    assert validate_extra_host("db=[::1]") == "db:::1"
    with pytest.raises(OptionError, match='invalid IP address in add-host: "nope"'):
        validate_extra_host("db:nope")


def test_env_file(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\n\n# skip\n   B= spaced\nPASS\nMISSING\n")
    env = {"PASS": "from-env"}
    assert read_env_file(str(path), env.get) == ["A=1", "B= spaced", "PASS=from-env"]
    bad = tmp_path / "bad"
    bad.write_text("MY VAR=1\n")
    with pytest.raises(OptionError, match="variable 'MY VAR' contains whitespaces"):
        read_env_file(str(bad), env.get)
