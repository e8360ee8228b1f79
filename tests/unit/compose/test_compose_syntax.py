"""Short syntaxes: ports, volumes, Go durations, byte sizes, extra hosts, policies."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.compose import syntax


def _port(
    target: int, published: str = "", host_ip: str = "", protocol: str = "tcp"
) -> dict[str, object]:
    return {
        "target": target,
        "published": published,
        "host_ip": host_ip,
        "protocol": protocol,
        "mode": "ingress",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [_port(80)]),
        ("8080:80", [_port(80, "8080")]),
        ("127.0.0.1:8080:80/udp", [_port(80, "8080", "127.0.0.1", "udp")]),
        ("127.0.0.1::80", [_port(80, "", "127.0.0.1")]),
        ("[::1]:8080:80", [_port(80, "8080", "::1")]),
        ("::1:8080:80", [_port(80, "8080", "::1")]),
        ("80/SCTP", [_port(80, protocol="sctp")]),
        ("8080-8081:80-81", [_port(80, "8080"), _port(81, "8081")]),
        ("8080-8081:80", [_port(80, "8080-8081")]),
        ("3000-3001", [_port(3000), _port(3001)]),
    ],
)
def test_ports(spec: str, expected: list[dict[str, object]]) -> None:
    assert syntax.parse_port(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("abc", 'invalid port "abc"'),
        ("0", 'invalid port "0"'),
        ("70000", 'invalid port "70000"'),
        ("81-80", 'invalid port "81-80"'),
        ("80/icmp", 'invalid protocol "icmp" in port "80/icmp"'),
        ("8080:80-81", 'invalid port "8080:80-81": ranges of different sizes'),
        ("1.2.3.999:80:80", 'invalid host IP "1.2.3.999" in port "1.2.3.999:80:80"'),
        ("-1", 'invalid port "-1"'),
    ],
)
def test_port_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        syntax.parse_port(spec)
    assert str(info.value) == message


BASE = Path("/project")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/data", {"type": "volume", "source": "", "target": "/data"}),
        ("db:/var/lib/db", {"type": "volume", "source": "db", "target": "/var/lib/db"}),
        (
            "db:/var/lib/db:ro",
            {"type": "volume", "source": "db", "target": "/var/lib/db", "read_only": True},
        ),
        (
            "db:/x:nocopy",
            {"type": "volume", "source": "db", "target": "/x", "volume": {"nocopy": True}},
        ),
        (
            "./data:/data",
            {
                "type": "bind",
                "source": "/project/data",
                "target": "/data",
                "bind": {"create_host_path": True},
            },
        ),
        (
            "../up:/u:rw,z,rshared",
            {
                "type": "bind",
                "source": "/up",
                "target": "/u",
                "read_only": False,
                "bind": {"create_host_path": True, "selinux": "z", "propagation": "rshared"},
            },
        ),
        (
            "/abs:/x",
            {"type": "bind", "source": "/abs", "target": "/x", "bind": {"create_host_path": True}},
        ),
        (
            "~/cfg:/cfg:ro",
            {
                "type": "bind",
                "source": "/home/me/cfg",
                "target": "/cfg",
                "read_only": True,
                "bind": {"create_host_path": True},
            },
        ),
    ],
)
def test_volumes(spec: str, expected: dict[str, object]) -> None:
    assert syntax.parse_volume(spec, BASE, "/home/me") == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("db:data", 'invalid volume "db:data": target must be an absolute path'),
        ("a:/b:ro:x", 'invalid volume "a:/b:ro:x"'),
        ("a:/b:bogus", 'invalid volume "a:/b:bogus": unknown option "bogus"'),
        ("db:/b:z", 'invalid volume "db:/b:z": bind options on a named volume'),
        ("./d:/b:nocopy", 'invalid volume "./d:/b:nocopy": "nocopy" on a bind mount'),
        ("", 'invalid volume ""'),
    ],
)
def test_volume_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        syntax.parse_volume(spec, BASE, "/home/me")
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("10s", 10_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5s", 1_500_000_000),
        ("500ms", 500_000_000),
        ("2us", 2_000),
        ("2µs", 2_000),
        ("7ns", 7),
        ("1h", 3_600_000_000_000),
        ("1h2m3.25s", 3_723_250_000_000),
        (".5s", 500_000_000),
    ],
)
def test_durations(text: str, ns: int) -> None:
    assert syntax.parse_duration(text) == ns


@pytest.mark.parametrize("text", ["10", "5 seconds", "1d", "s", "", "1.s.", "1m 2s"])
def test_duration_errors(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        syntax.parse_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [(0, "0s"), (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (1_500, "1.5us")],
)
def test_format_duration_like_go(ns: int, text: str) -> None:
    assert syntax.format_duration(ns) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_duration_round_trip(ns: int) -> None:
    assert syntax.parse_duration(syntax.format_duration(ns)) == ns


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 << 20),
        ("1g", 1 << 30),
        ("1GB", 1 << 30),
        ("1.5g", 3 << 29),
        ("100k", 102400),
        ("100kb", 102400),
        ("64", 64),
        (4096, 4096),
    ],
)
def test_sizes(text: str | int, size: int) -> None:
    assert syntax.parse_size(text) == size


@pytest.mark.parametrize("text", ["abc", "1x", "-5", ""])
def test_size_errors(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        syntax.parse_size(text)


def test_extra_hosts_and_policies() -> None:
    assert syntax.parse_extra_host("db:10.0.0.2") == "db:10.0.0.2"
    assert syntax.parse_extra_host("db=::1") == "db:::1"
    with pytest.raises(ValueError, match='invalid extra host "db"'):
        syntax.parse_extra_host("db")
    for policy in ("no", "always", "unless-stopped", "on-failure", "on-failure:3"):
        assert syntax.check_restart(policy) == policy
    with pytest.raises(ValueError, match='invalid restart policy "sometimes"'):
        syntax.check_restart("sometimes")
    assert syntax.check_pull_policy("if_not_present") == "missing"
    assert syntax.check_pull_policy("every_2h30m") == "every_2h30m"
    with pytest.raises(ValueError, match='invalid pull policy "often"'):
        syntax.check_pull_policy("often")
