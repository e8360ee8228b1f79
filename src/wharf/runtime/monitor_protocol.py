"""The attach protocol between the engine and a container's monitor, and a minimal JSON codec.

Both ends import this module: the monitor process (see monitor.py) and the engine
(monitor_client.py). It imports the standard library's C modules only (``_json``,
``_struct``): the pure Python ``json`` package pulls in ``re`` and ``enum``, about 1 MB of
private memory in every idle monitor.

Frames, on the monitor's attach socket (a unix stream socket), in both directions::

    [kind: u8][length: u32 big-endian][payload: length bytes]     length <= MAX_PAYLOAD

Kinds 0-2 are Docker's multiplexed-stream ids, so the API server can forward them as they are::

    0 STDIN        client -> monitor   bytes for the container's stdin
    1 STDOUT       monitor -> client   container output (with a tty, all output)
    2 STDERR       monitor -> client   container error output (never with a tty)
    3 HELLO        client -> monitor   {"stdin": bool, "stdout": bool, "stderr": bool};
                                       the first frame, exactly once
                   monitor -> client   empty: the acknowledgement, sent once the client is
                                       registered (output from then on reaches it)
    4 STDIN_CLOSE  client -> monitor   no more stdin from this client
    5 RESIZE       client -> monitor   {"height": int, "width": int} (the pty's window)
    6 EXIT         monitor -> client   {"exit_code": int, "finished_at": str, "signal": int|null};
                                       the last frame, then the monitor closes

A client that asks for no stream is a pure exit watcher. The exit file the monitor writes
holds the same JSON object as the EXIT payload.
"""

from __future__ import annotations

import _json
import _struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeGuard

KIND_STDIN = 0
KIND_STDOUT = 1
KIND_STDERR = 2
KIND_HELLO = 3
KIND_STDIN_CLOSE = 4
KIND_RESIZE = 5
KIND_EXIT = 6
KIND_COUNT = 7

HEADER = _struct.Struct(">BI")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD = 1 << 20


class ProtocolError(ValueError):
    """A malformed frame or payload; the connection that sent it is closed."""


def pack_frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame: header then payload."""
    if not 0 <= kind < KIND_COUNT:
        raise ProtocolError(f"unknown frame kind {kind}")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(kind, len(payload)) + payload


def unpack_header(header: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``(kind, payload length)`` from the first ``HEADER_SIZE`` bytes."""
    kind, length = HEADER.unpack_from(header)
    if kind >= KIND_COUNT:
        raise ProtocolError(f"unknown frame kind {kind}")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {length} bytes exceeds {MAX_PAYLOAD}")
    return kind, length


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get whole frames back."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buffer
        buf += data
        frames: list[tuple[int, bytes]] = []
        pos = 0
        end_of_data = len(buf)
        while end_of_data - pos >= HEADER_SIZE:
            kind, length = unpack_header(memoryview(buf)[pos : pos + HEADER_SIZE])
            end = pos + HEADER_SIZE + length
            if end > end_of_data:
                break
            frames.append((kind, bytes(buf[pos + HEADER_SIZE : end])))
            pos = end
        if pos:
            del buf[:pos]
        return frames


def encode_hello(*, stdin: bool, stdout: bool, stderr: bool) -> bytes:
    return json_dumps({"stdin": stdin, "stdout": stdout, "stderr": stderr}).encode()


def decode_hello(payload: bytes) -> tuple[bool, bool, bool]:
    """``(stdin, stdout, stderr)``; absent keys are false."""
    obj = _json_object(payload)
    flags = tuple(obj.get(key, False) for key in ("stdin", "stdout", "stderr"))
    if not all(isinstance(flag, bool) for flag in flags):
        raise ProtocolError("HELLO flags must be booleans")
    return flags[0] is True, flags[1] is True, flags[2] is True


def encode_resize(height: int, width: int) -> bytes:
    return json_dumps({"height": height, "width": width}).encode()


def decode_resize(payload: bytes) -> tuple[int, int]:
    """``(height, width)``, each within 0..65535 (a winsize field is 16 bits)."""
    obj = _json_object(payload)
    height, width = obj.get("height"), obj.get("width")
    if not (is_int(height) and is_int(width) and 0 <= height <= 0xFFFF and 0 <= width <= 0xFFFF):
        raise ProtocolError("RESIZE needs integer height and width in 0..65535")
    return height, width


def encode_exit(exit_code: int, finished_at: str, signal: int | None) -> bytes:
    return json_dumps(
        {"exit_code": exit_code, "finished_at": finished_at, "signal": signal}
    ).encode()


def decode_exit(payload: bytes) -> tuple[int, str, int | None]:
    """``(exit_code, finished_at, signal)``, as in an EXIT frame or the exit file."""
    obj = _json_object(payload)
    code, finished, signal = obj.get("exit_code"), obj.get("finished_at"), obj.get("signal")
    if not is_int(code) or not isinstance(finished, str):
        raise ProtocolError("exit record needs an integer exit_code and a finished_at string")
    if signal is not None and not is_int(signal):
        raise ProtocolError("exit record signal must be an integer or null")
    return code, finished, signal


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_object(payload: bytes) -> dict[str, object]:
    try:
        obj = json_loads(payload)
    except ValueError as exc:
        raise ProtocolError(f"payload is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("payload must be a JSON object")
    return obj


# --- minimal JSON on the C accelerator (the json package imports re and enum) -----------------


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads; plain ``json.loads`` defaults otherwise."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)


_scan_once = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
_JSON_SPACE = " \t\n\r"


def json_loads(text: str | bytes) -> object:
    """Parse one JSON document (like ``json.loads``; NaN and Infinity are refused)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"invalid UTF-8: {exc}") from exc
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    try:
        value, end = _scan_once(text, start)
    except StopIteration as exc:
        raise ValueError(f"invalid JSON at offset {exc.value}") from None
    if text[end:].strip(_JSON_SPACE):
        raise ValueError(f"extra data at offset {end}")
    return value


def json_dumps(value: object) -> str:
    """Compact JSON (ASCII) for None, bool, int, str, and lists/tuples/dicts of them."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            items.append(_json.encode_basestring_ascii(key) + ":" + json_dumps(item))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
