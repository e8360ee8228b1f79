"""Entry point of the per-container monitor process, and the names the engine imports from it.

The engine starts one monitor per container (monitor_client.py)::

    python3 -I -S /abs/path/to/wharf/runtime/monitor.py <state_dir>/monitor.json

The process itself is monitor_process.py, its configuration file monitor_config.py; the
attach protocol is monitor_protocol.py and the json-file log writer monitor_logfile.py, both
re-exported here. All of them import the standard library only, so that they run under
``-I -S`` (no site-packages, no environment), and the cheapest parts of it: ``posix`` rather
than ``os`` (which costs 250 KB), the C accelerators rather than ``json``, ``socket`` and
``signal`` (which pull in ``enum`` and ``re``, about 1 MB).

Why this file is tiny: Python compiles a script run by path from source every time, and
compiling the whole monitor costs about 3 MB of private memory that the process never gives
back (measured: 11.7 MB RSS instead of 8.5 MB). Modules imported from here load from their
cached bytecode instead. To import them, the directory that holds the ``wharf`` package goes
first on ``sys.path``, so ``wharf/__init__.py`` and ``wharf/runtime/__init__.py`` must stay
free of imports (tests/unit/runtime/test_runtime_monitor_protocol.py checks what the monitor
imports).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # The engine runs us by absolute path: <root>/wharf/runtime/monitor.py -> <root>.
    sys.path.insert(0, __file__.rpartition("/wharf/runtime/")[0] or ".")

from wharf.runtime.monitor_logfile import (
    MAX_LOG_LINE,
    JsonLogWriter,
    docker_json_string,
    format_timestamp,
)
from wharf.runtime.monitor_process import main
from wharf.runtime.monitor_protocol import (
    HEADER_SIZE,
    KIND_COUNT,
    KIND_EXIT,
    KIND_HELLO,
    KIND_RESIZE,
    KIND_STDERR,
    KIND_STDIN,
    KIND_STDIN_CLOSE,
    KIND_STDOUT,
    MAX_PAYLOAD,
    FrameDecoder,
    ProtocolError,
    decode_exit,
    decode_hello,
    decode_resize,
    encode_exit,
    encode_hello,
    encode_resize,
    json_dumps,
    json_loads,
    pack_frame,
    unpack_header,
)

__all__ = [
    "HEADER_SIZE",
    "KIND_COUNT",
    "KIND_EXIT",
    "KIND_HELLO",
    "KIND_RESIZE",
    "KIND_STDERR",
    "KIND_STDIN",
    "KIND_STDIN_CLOSE",
    "KIND_STDOUT",
    "MAX_LOG_LINE",
    "MAX_PAYLOAD",
    "FrameDecoder",
    "JsonLogWriter",
    "ProtocolError",
    "decode_exit",
    "decode_hello",
    "decode_resize",
    "docker_json_string",
    "encode_exit",
    "encode_hello",
    "encode_resize",
    "format_timestamp",
    "json_dumps",
    "json_loads",
    "main",
    "pack_frame",
    "unpack_header",
]

if __name__ == "__main__":
    sys.exit(main(sys.argv))
