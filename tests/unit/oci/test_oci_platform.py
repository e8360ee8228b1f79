"""Platforms: JSON, normalisation, host detection, matching and index selection."""

from __future__ import annotations

import pytest

from wharf.errdefs import InvalidArgument, NotFound
from wharf.oci import annotations as ann
from wharf.oci import mediatypes as mt
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform, host_platform, parse_platform, select_manifest


def _entry(
    n: int,
    platform: Platform | None,
    *,
    annotations: dict[str, str] | None = None,
    artifact_type: str | None = None,
) -> Descriptor:
    return Descriptor(
        mt.OCI_MANIFEST,
        Digest("sha256", f"{n:064x}"),
        500 + n,
        annotations=annotations or {},
        platform=platform,
        artifact_type=artifact_type,
    )


def test_json_round_trip_and_field_order() -> None:
    p = Platform("windows", "amd64", None, "10.0.17763.5329", ("win32k",))
    data = p.to_json()
    assert list(data) == ["architecture", "os", "os.version", "os.features"]
    assert Platform.from_json(data) == p
    assert Platform.from_json({"os": "linux", "architecture": "arm", "variant": "v7"}) == Platform(
        "linux", "arm", "v7"
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"architecture": "amd64"}, "os is required"),
        ({"os": "linux", "architecture": 5}, "architecture must be a string, not number"),
        ({"os": "", "architecture": "amd64"}, "os must not be empty"),
        ({"os": "linux", "architecture": "amd64", "os.features": "x"}, "must be an array"),
        ("linux/amd64", "expected a JSON object, not string"),
    ],
)
def test_from_json_rejects(obj: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Platform.from_json(obj)


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", Platform("linux", "amd64")),
        ("AMD64", Platform("linux", "amd64")),
        ("aarch64", Platform("linux", "arm64", "v8")),
        ("armv7l", Platform("linux", "arm", "v7")),
        ("armv6l", Platform("linux", "arm", "v6")),
        ("i686", Platform("linux", "386")),
        ("ppc64le", Platform("linux", "ppc64le")),
        ("s390x", Platform("linux", "s390x")),
        ("riscv64", Platform("linux", "riscv64")),
        ("loongarch64", Platform("linux", "loong64")),
    ],
)
def test_host_platform(machine: str, expected: Platform) -> None:
    assert host_platform(machine, "linux") == expected


def test_host_platform_probe_gives_go_names() -> None:
    host = host_platform()
    assert host.architecture not in {"x86_64", "aarch64"}
    assert host.normalized().architecture == host.architecture


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (Platform("Linux", "x86_64"), Platform("linux", "amd64")),
        (Platform("linux", "amd64", "v1"), Platform("linux", "amd64")),
        (Platform("linux", "aarch64", "8"), Platform("linux", "arm64")),
        (Platform("linux", "arm64", "v8"), Platform("linux", "arm64")),
        (Platform("linux", "arm"), Platform("linux", "arm", "v7")),
        (Platform("linux", "armhf"), Platform("linux", "arm", "v7")),
        (Platform("linux", "armel"), Platform("linux", "arm", "v6")),
        (Platform("linux", "i386"), Platform("linux", "386")),
    ],
)
def test_normalized(raw: Platform, normal: Platform) -> None:
    assert raw.normalized() == normal


@pytest.mark.parametrize(
    ("have", "wanted", "ok"),
    [
        (Platform("linux", "amd64"), Platform("linux", "x86_64"), True),
        (Platform("linux", "arm64", "v8"), Platform("linux", "arm64"), True),
        (Platform("linux", "arm64"), Platform("linux", "arm64", "v8"), True),
        (Platform("linux", "arm", "v6"), Platform("linux", "arm", "v7"), True),
        (Platform("linux", "arm", "v7"), Platform("linux", "arm", "v6"), False),
        (Platform("linux", "amd64", "v2"), Platform("linux", "amd64", "v3"), True),
        (Platform("linux", "amd64", "v3"), Platform("linux", "amd64"), False),
        (Platform("linux", "amd64"), Platform("linux", "arm64"), False),
        (Platform("windows", "amd64"), Platform("linux", "amd64"), False),
        (Platform("linux", "riscv64", "rva22"), Platform("linux", "riscv64"), False),
    ],
)
def test_matches(have: Platform, wanted: Platform, ok: bool) -> None:
    assert have.matches(wanted) is ok


def test_select_manifest_skips_attestations_and_prefers_closest_variant() -> None:
    attestation = _entry(
        9,
        Platform("unknown", "unknown"),
        annotations={ann.DOCKER_REFERENCE_TYPE: ann.ATTESTATION_MANIFEST},
    )
    entries = [
        attestation,
        _entry(1, Platform("linux", "amd64")),
        _entry(2, Platform("linux", "arm", "v6")),
        _entry(3, Platform("linux", "arm", "v7")),
        _entry(4, Platform("linux", "arm64", "v8")),
    ]
    assert select_manifest(entries, Platform("linux", "amd64")) == entries[1]
    assert select_manifest(entries, Platform("linux", "arm", "v7")) == entries[3]
    assert select_manifest(entries, Platform("linux", "arm", "v6")) == entries[2]
    assert select_manifest(entries, Platform("linux", "aarch64")) == entries[4]
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        select_manifest(entries, Platform("linux", "s390x"))
    with pytest.raises(NotFound):
        select_manifest([attestation], Platform("unknown", "unknown"))


def test_select_manifest_first_of_equals_and_platformless_fallback() -> None:
    a, b = _entry(1, Platform("linux", "amd64")), _entry(2, Platform("linux", "amd64"))
    assert select_manifest([a, b], Platform("linux", "amd64")) == a
    bare = _entry(3, None)
    artifact = _entry(4, None, artifact_type="application/vnd.example.sbom")
    assert select_manifest([artifact, bare], Platform("linux", "arm64")) == bare
    assert select_manifest([bare, a], Platform("linux", "amd64")) == a


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm/v6", Platform("linux", "arm", "v6")),
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux", Platform("linux", "arm64", "v8")),
        ("arm", Platform("linux", "arm", "v7")),
    ],
)
def test_parse_platform(text: str, expected: Platform) -> None:
    assert parse_platform(text, host=Platform("linux", "arm64", "v8")) == expected


@pytest.mark.parametrize("text", ["", "linux//amd64", "a/b/c/d", "/amd64"])
def test_parse_platform_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid platform"):
        parse_platform(text)
