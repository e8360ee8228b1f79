"""Descriptors, frozen maps and the Go-compatible JSON encoder."""

from __future__ import annotations

import base64
import json

import pytest

from wharf.errdefs import InvalidArgument
from wharf.oci import mediatypes as mt
from wharf.oci.annotations import FrozenMap
from wharf.oci.codec import dump
from wharf.oci.descriptor import EMPTY_DESCRIPTOR, EMPTY_JSON, Descriptor
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform

HEX = "77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"


def test_to_json_orders_fields_like_go_and_omits_empty() -> None:
    d = Descriptor(
        mt.OCI_LAYER_GZIP,
        Digest("sha256", HEX),
        6,
        annotations={"z": "1", "a": "2"},
        urls=("https://example.com/l",),
        platform=Platform("linux", "arm64", "v8"),
        artifact_type="application/x-test",
        data=b"layer1",
    )
    assert list(d.to_json()) == [
        "mediaType",
        "digest",
        "size",
        "urls",
        "annotations",
        "data",
        "platform",
        "artifactType",
    ]
    assert list(d.to_json()["annotations"]) == ["a", "z"]  # type: ignore[call-overload]
    assert Descriptor.from_json(d.to_json()) == d
    bare = Descriptor(mt.OCI_CONFIG, Digest("sha256", HEX), 6)
    assert bare.to_json() == {"mediaType": mt.OCI_CONFIG, "digest": f"sha256:{HEX}", "size": 6}


def test_descriptors_hash_by_value() -> None:
    a = Descriptor(mt.OCI_CONFIG, Digest("sha256", HEX), 6, annotations={"k": "v"})
    b = Descriptor(mt.OCI_CONFIG, Digest("sha256", HEX), 6, annotations=FrozenMap({"k": "v"}))
    assert a == b and hash(a) == hash(b)
    assert isinstance(a.annotations, FrozenMap)
    assert len({a, b, a.with_annotations({})}) == 2


def test_of_bytes_and_empty_descriptor() -> None:
    d = Descriptor.of_bytes(mt.OCI_EMPTY, EMPTY_JSON, inline=True)
    assert d == EMPTY_DESCRIPTOR
    assert EMPTY_DESCRIPTOR.size == 2
    assert EMPTY_DESCRIPTOR.to_json()["data"] == "e30="
    assert Descriptor.of_bytes(mt.OCI_CONFIG, b"layer1").digest == Digest("sha256", HEX)


def _good() -> dict[str, object]:
    return {"mediaType": mt.OCI_CONFIG, "digest": f"sha256:{HEX}", "size": 6}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"mediaType": None}, "mediaType is required"),
        ({"mediaType": ""}, "mediaType must not be empty"),
        ({"mediaType": 1}, "mediaType must be a string, not number"),
        ({"digest": "sha256:abc"}, "digest: invalid digest"),
        ({"digest": None}, "digest is required"),
        ({"size": "6"}, "size must be an integer, not string"),
        ({"size": True}, "size must be an integer, not boolean"),
        ({"size": 6.0}, "size must be an integer, not number"),
        ({"size": -1}, "size must not be negative"),
        ({"urls": "x"}, "urls must be an array, not string"),
        ({"urls": [1]}, r"urls\[0\] must be a string"),
        ({"annotations": {"k": 1}}, r"annotations\['k'\] must be a string"),
        ({"annotations": []}, "annotations must be an object, not array"),
        ({"platform": {"os": "linux"}}, "platform.architecture is required"),
        ({"data": "!!!"}, "data is not valid base64"),
        ({"data": base64.b64encode(b"layer").decode()}, "holds 5 bytes but size says 6"),
        ({"data": base64.b64encode(b"layerX").decode()}, "does not match digest"),
    ],
)
def test_from_json_rejects(patch: dict[str, object], message: str) -> None:
    obj = _good()
    for key, value in patch.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    with pytest.raises(InvalidArgument, match=f"^invalid descriptor: .*{message}"):
        Descriptor.from_json(obj)


def test_from_json_accepts_inline_data_and_ignores_unknown_fields() -> None:
    obj = _good() | {"data": base64.b64encode(b"layer1").decode(), "x-extra": [1, 2]}
    assert Descriptor.from_json(obj).data == b"layer1"


def test_frozen_map() -> None:
    m = FrozenMap({"b": "1", "a": "2"})
    assert m == {"a": "2", "b": "1"}
    assert m != {"a": "2"}
    assert hash(m) == hash(FrozenMap([("a", "2"), ("b", "1")]))
    assert list(m) == ["b", "a"]
    assert list(m.sorted_dict()) == ["a", "b"]
    assert FrozenMap.of(m) is m
    with pytest.raises(TypeError):
        m["c"] = "3"  # type: ignore[index]


def test_dump_matches_go_encoding() -> None:
    value = {"Cmd": ["/bin/sh", "-c", "a && b > c < d"], "é": "\u2028", "n": 1}
    raw = dump(value)
    assert raw == (
        b'{"Cmd":["/bin/sh","-c","a \\u0026\\u0026 b \\u003e c \\u003c d"],'
        b'"\xc3\xa9":"\\u2028","n":1}'
    )
    assert json.loads(raw) == value
    assert dump({"s": "\ud800"}) == '{"s":"\ufffd"}'.encode()
