"""Printing JSON progress streams (load, import; later pull, push, build) as docker does.

Not on a terminal (``jsonmessage.Display`` with ``isTerminal`` false): progress-bar updates are
dropped; every other message prints one line, ``<id>: <status>`` or the ``stream`` text as is.
On a terminal each ``id`` owns a line that later messages for that id rewrite in place
(cursor up, clear line), with a 50-column bar drawn from ``progressDetail``.
An error line ends the stream: the client raises ``StreamError`` and the CLI prints it.

Imports only the standard library, ``cli.formatting`` and the client's message type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from wharf.cli.formatting import human_size

if TYPE_CHECKING:
    from wharf.client.models import JSONMessage

_BAR_WIDTH = 50


def progress_bar(current: int, total: int) -> str:
    """Docker's ``JSONProgress.String()``: ``[=====>     ]  1.2MB/4.5MB``."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(_BAR_WIDTH, int(_BAR_WIDTH * current / total))
    bar = "=" * filled + (">" if filled < _BAR_WIDTH else "") + " " * (_BAR_WIDTH - filled - 1)
    sizes = f"{human_size(current):>8}/{human_size(total)}"
    return f"[{bar[:_BAR_WIDTH].ljust(_BAR_WIDTH)}] {sizes}"


def _line(message: JSONMessage, *, terminal: bool) -> str:
    prefix = f"{message.id}: " if message.id else ""
    if terminal and message.has_progress:
        bar = progress_bar(message.progress_current, message.progress_total) or message.progress
        return f"{prefix}{message.status} {bar}"
    if message.stream:
        return prefix + message.stream
    return f"{prefix}{message.status}\n"


def display(messages: Iterable[JSONMessage], out: TextIO, *, terminal: bool) -> str:
    """Print ``messages``; returns the last ``aux`` id seen (build results), or ""."""
    aux_id = ""
    lines: dict[str, int] = {}  # id -> its line, counted from the first id line
    total_lines = 0
    for message in messages:
        if message.aux_id:
            aux_id = message.aux_id
            continue
        if not (message.status or message.stream or message.id or message.error):
            continue  # an aux-only message (a push's Tag/Digest/Size) has nothing to show
        if not terminal:
            if message.has_progress and not message.stream:
                continue
            out.write(_line(message, terminal=False))
            out.flush()
            continue
        text = _line(message, terminal=True)
        if message.id and not message.stream:
            text = text.rstrip("\n")
            if message.id not in lines:
                lines[message.id] = total_lines
                total_lines += 1
                out.write(text + "\n")
            else:
                up = total_lines - lines[message.id]
                # Up to the id's line, clear it, rewrite it, come back down.
                out.write(f"\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r")
        else:
            out.write(text)
            total_lines += text.count("\n")
        out.flush()
    return aux_id
