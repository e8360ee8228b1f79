"""Compression: sniffing, round trips, determinism, and truncation that must not look like EOF."""

from __future__ import annotations

import gzip
import io
import os

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from wharf.archive.compression import (
    detect_compression,
    open_auto,
    open_compressor,
    open_decompressed,
)
from wharf.errdefs import InvalidArgument
from wharf.oci.mediatypes import Compression

# Compressible but not trivially so: both formats produce several blocks.
PAYLOAD = b"".join(os.urandom(64) * 40 for _ in range(200))


def _compress(data: bytes, compression: Compression, **kwargs: int) -> bytes:
    out = io.BytesIO()
    with open_compressor(out, compression, **kwargs) as writer:
        for start in range(0, len(data), 70_000):
            writer.write(data[start : start + 70_000])
    assert not out.closed
    return out.getvalue()


def _read_all(compression: Compression, blob: bytes, chunk: int = 50_000) -> bytes:
    reader = open_decompressed(io.BytesIO(blob), compression)
    parts = []
    while part := reader.read(chunk):
        parts.append(part)
    return b"".join(parts)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1f\x8b\x08\x00", Compression.GZIP),
        (b"\x28\xb5\x2f\xfd", Compression.ZSTD),
        (b"usr/\x00\x00\x00\x00", Compression.NONE),
        (b"", Compression.NONE),
        (b"\x1f", Compression.NONE),
        (b"\x28\xb5\x2f", Compression.NONE),
    ],
)
def test_detect_compression(head: bytes, expected: Compression) -> None:
    assert detect_compression(head) is expected


@pytest.mark.parametrize("compression", list(Compression))
def test_round_trip(compression: Compression) -> None:
    blob = _compress(PAYLOAD, compression)
    if compression is not Compression.NONE:
        assert len(blob) < len(PAYLOAD)
    assert detect_compression(blob[:4]) is compression
    assert _read_all(compression, blob) == PAYLOAD
    sniffed, reader = open_auto(io.BytesIO(blob))
    assert sniffed is compression
    assert reader.read() == PAYLOAD


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_output_is_deterministic(compression: Compression) -> None:
    assert _compress(PAYLOAD, compression) == _compress(PAYLOAD, compression)


def test_gzip_header_carries_no_name_or_time() -> None:
    class Named(io.BytesIO):
        name = "/var/lib/secret-host-path.tar"

    out = Named()
    with open_compressor(out, Compression.GZIP) as writer:
        writer.write(b"data")
    blob = out.getvalue()
    assert blob[3] & 0x08 == 0  # FNAME flag
    assert blob[4:8] == b"\x00\x00\x00\x00"  # MTIME
    assert gzip.decompress(blob) == b"data"


def test_stdlib_and_zstd_cli_formats_are_read() -> None:
    assert _read_all(Compression.GZIP, gzip.compress(PAYLOAD, mtime=0)) == PAYLOAD
    frames = zstandard.ZstdCompressor(write_checksum=True).compress(PAYLOAD[:1000])
    frames += zstandard.ZstdCompressor(write_content_size=False).compress(PAYLOAD[1000:])
    assert _read_all(Compression.ZSTD, frames) == PAYLOAD


def test_zstd_skippable_frames_are_skipped() -> None:
    skippable = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"hello"
    blob = skippable + zstandard.ZstdCompressor().compress(b"abc") + skippable
    assert _read_all(Compression.ZSTD, blob) == b"abc"


def test_multi_member_gzip() -> None:
    blob = gzip.compress(b"one") + gzip.compress(b"two")
    assert _read_all(Compression.GZIP, blob) == b"onetwo"


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
@settings(max_examples=40, deadline=None)
@given(fraction=st.floats(min_value=0.0, max_value=0.9999))
def test_truncated_stream_is_an_error(compression: Compression, fraction: float) -> None:
    blob = _compress(PAYLOAD, compression)
    cut = int(len(blob) * fraction)
    with pytest.raises(InvalidArgument, match=r"unexpected end of data|corrupt"):
        _read_all(compression, blob[:cut])


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_truncated_by_one_byte_is_an_error(compression: Compression) -> None:
    blob = _compress(PAYLOAD, compression)
    with pytest.raises(InvalidArgument, match="unexpected end of data"):
        _read_all(compression, blob[:-1])


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_corrupt_stream_is_an_error(compression: Compression) -> None:
    blob = bytearray(_compress(PAYLOAD, compression))
    middle = len(blob) // 2
    blob[middle : middle + 64] = bytes(64)
    with pytest.raises(InvalidArgument, match="corrupt"):
        _read_all(compression, bytes(blob))


def test_garbage_after_zstd_frame_is_an_error() -> None:
    blob = zstandard.ZstdCompressor().compress(b"abc") + b"garbage!"
    with pytest.raises(InvalidArgument, match="corrupt zstd stream"):
        _read_all(Compression.ZSTD, blob)


def test_source_errors_pass_through() -> None:
    class Failing:
        def read(self, size: int = -1, /) -> bytes:
            raise ConnectionResetError("peer went away")

    for compression in Compression:
        with pytest.raises(ConnectionResetError):
            open_decompressed(Failing(), compression).read(10)


@pytest.mark.parametrize(
    ("compression", "level"),
    [(Compression.GZIP, 4), (Compression.GZIP, -1), (Compression.ZSTD, 23)],
)
def test_level_out_of_range(compression: Compression, level: int) -> None:
    with pytest.raises(InvalidArgument, match="level"):
        open_compressor(io.BytesIO(), compression, level=level)


def test_levels_change_output() -> None:
    fast = _compress(PAYLOAD, Compression.ZSTD, level=1)
    strong = _compress(PAYLOAD, Compression.ZSTD, level=19)
    assert fast != strong
    assert _read_all(Compression.ZSTD, strong) == PAYLOAD
