"""Text shapes the docker CLI prints, reproduced: sizes, durations, ids, tables, JSON.

- ``human_size``: go-units ``HumanSizeWithPrecision`` (decimal units: ``4.26MB``, ``0B``).
- ``bytes_size``: go-units ``BytesSize`` (binary units: ``31.27GiB``).
- ``human_duration``: go-units ``HumanDuration`` (``3 minutes``, ``About an hour``).
- ``tabwrite``: Go's ``text/tabwriter`` with the docker CLI's settings (cell = text up to a
  tab; columns are aligned per block of consecutive lines that have that column).
- ``go_json``: JSON as Go's ``encoding/json`` writes it (HTML-escaped unless asked not to).

Pure functions; imports only the standard library.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scaled(size: float, base: float, units: Sequence[str]) -> tuple[float, str]:
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    return size, units[index]


def human_size(size: float, precision: int = 4) -> str:
    """``units.HumanSizeWithPrecision``; ``precision`` 3 is what tables use, 4 ``HumanSize``."""
    value, unit = _scaled(float(size), 1000.0, _DECIMAL_UNITS)
    return f"{value:.{precision}g}{unit}"


def bytes_size(size: float) -> str:
    """``units.BytesSize``: binary units, 4 significant digits."""
    value, unit = _scaled(float(size), 1024.0, _BINARY_UNITS)
    return f"{value:.4g}{unit}"


def human_duration(seconds: float) -> str:
    """``units.HumanDuration``: the coarse "how long" the docker CLI shows."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = math.floor(seconds / 3600 + 0.5)  # Go's Duration.Round(time.Hour)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def since(timestamp: float, now: float | None = None) -> str:
    """``3 minutes ago``."""
    current = time.time() if now is None else now
    return human_duration(current - timestamp) + " ago"


def go_time(timestamp: float) -> str:
    """Go's ``time.Unix(ts, 0).String()`` in local time: ``2024-09-26 23:31:34 +0200 CEST``."""
    moment = datetime.fromtimestamp(timestamp).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %z ") + (moment.tzname() or "")


def rfc3339(timestamp: float) -> str:
    """Go's ``time.RFC3339`` in local time (``Z`` for UTC)."""
    moment = datetime.fromtimestamp(timestamp).astimezone()
    if moment.utcoffset() == UTC.utcoffset(None):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds")


def truncate_id(image_id: str) -> str:
    """``stringid.TruncateID``: drop the algorithm, keep 12 characters."""
    _, sep, rest = image_id.partition(":")
    return (rest if sep else image_id)[:12]


def ellipsis(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, the last one an ellipsis, as docker's formatter."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return "…"
    return text[: width - 1] + "…"


def tabwrite(text: str, *, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-separated cells like Go's ``tabwriter.NewWriter(w, minwidth, 1, padding, ' ', 0)``.

    A cell is the text before a tab; the text after a line's last tab is not part of a column.
    A column's width is decided over a block of consecutive lines that all have that column.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []

    def write_lines(widths: list[int], first: int, stop: int) -> None:
        for index in range(first, stop):
            cells = lines[index]
            parts = []
            for column, cell in enumerate(cells):
                if column < len(widths):
                    parts.append(cell + " " * (widths[column] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def format_block(widths: list[int], first: int, stop: int) -> None:
        column = len(widths)
        line0 = first
        this = first
        while this < stop:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(widths, line0, this)
            line0 = this
            width = minwidth
            while this < stop and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            format_block([*widths, width], line0, this)
            line0 = this
        write_lines(widths, line0, stop)

    format_block([], 0, len(lines))
    return "\n".join(out)


def _escape_go(text: str, escape_html: bool) -> str:
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        # Only inside strings can these occur in JSON text, so a plain replace is exact.
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def go_json(value: object, *, indent: int | None = None, escape_html: bool = True) -> str:
    """JSON as Go writes it: UTF-8 kept; ``<>&`` escaped if ``escape_html`` (Marshal's default)."""
    if indent is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _escape_go(text, escape_html)
