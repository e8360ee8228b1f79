"""What ``wharf compose`` prints, in docker compose v2's shapes.

- Progress (stderr, one line as each step finishes; no redrawn tty view)::

      ✔ Network shop_default  Created
      ✔ Volume "shop_data"  Created
      ✔ Container shop-web-1  Started

  A step still under way (``Waiting``) prints only in ``--progress plain``.
- Warnings (stderr): ``WARN[0000] <message>``.
- Log lines (stdout): ``web-1  | text``, the name padded to the widest container name plus
  one, then `` | ``; with colours (a tty, no ``--no-color``) each container's prefix gets the
  next colour of compose's rainbow, in the order containers first print.
- ``ps`` rows: NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS, through the shared templates
  (``--format`` table/json/Go template), with compose's field names.

Imports click, the standard library, ``wharf.cli`` and ``wharf.compose`` (events and logs only).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from wharf.cli.command import err
from wharf.cli.containers import container_row
from wharf.cli.templates import Row
from wharf.compose.events import Event, Kind, Status

if TYPE_CHECKING:
    from wharf.client.container_results import ContainerSummary
    from wharf.compose.logs import LogLine

DONE = "✔"
FAILED = "✘"
# docker compose's rainbow: cyan, yellow, green, magenta, blue, then their intense forms.
_RAINBOW = ("36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1")

PS_TABLE = (
    "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}"
    "\t{{.Ports}}"
)
PS_TITLES = {
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "Names": "NAMES",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "Service": "SERVICE",
    "Project": "PROJECT",
    "RunningFor": "CREATED",
    "CreatedAt": "CREATED AT",
    "State": "STATE",
    "Status": "STATUS",
    "Health": "HEALTH",
    "ExitCode": "EXIT CODE",
    "Ports": "PORTS",
    "Labels": "LABELS",
    "Networks": "NETWORKS",
    "Mounts": "MOUNTS",
}


def event_line(event: Event) -> str:
    mark = FAILED if event.status is Status.ERROR else DONE
    name = f'"{event.name}"' if event.kind is Kind.VOLUME else event.name
    detail = f" {event.detail}" if event.detail else ""
    return f" {mark} {event.kind.value} {name}  {event.status.value}{detail}"


class ProgressPrinter:
    """The CLI's ``Reporter``: events and warnings to stderr, step output to stderr as well
    (stdout is kept for what the user asked to see: logs, ``ps``, ``config``)."""

    def __init__(self, *, plain: bool = False, quiet: bool = False, stream: TextIO | None = None):
        self.plain = plain
        self.quiet = quiet
        self._stream = stream
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        with self._lock:
            sys.stdout.flush()
            stream.write(text)
            stream.flush()

    def event(self, event: Event) -> None:
        if self.quiet or (event.status is Status.WAITING and not self.plain):
            return
        self._write(event_line(event) + "\n")

    def warning(self, message: str) -> None:
        self._write(f"WARN[0000] {message}\n")

    def output(self, text: str) -> None:
        if not self.quiet:
            self._write(text)


class LogPrinter:
    """Prints ``LogLine``s with compose's prefix; one instance per command."""

    def __init__(self, sources: Sequence[str], *, color: bool, prefix: bool = True) -> None:
        self.width = max((len(s) for s in sources), default=0) + 1
        self.color = color
        self.prefix = prefix
        self._colors: dict[str, str] = {}

    def widen(self, source: str) -> None:
        self.width = max(self.width, len(source) + 1)

    def _prefix(self, source: str) -> str:
        text = f"{source.ljust(self.width)} | "
        if not self.color:
            return text
        code = self._colors.get(source)
        if code is None:
            code = _RAINBOW[len(self._colors) % len(_RAINBOW)]
            self._colors[source] = code
        return f"\x1b[{code}m{text}\x1b[0m"

    def line(self, line: LogLine) -> None:
        text = (self._prefix(line.source) if self.prefix else "") + line.text
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def notice(self, source: str, message: str) -> None:
        """A line about a container, not from it (``web-1 exited with code 0``)."""
        if self.color:
            code = self._colors.get(source) or _RAINBOW[len(self._colors) % len(_RAINBOW)]
            self._colors.setdefault(source, code)
            sys.stdout.write(f"\x1b[{code}m{source} {message}\x1b[0m\n")
        else:
            sys.stdout.write(f"{source} {message}\n")
        sys.stdout.flush()


def ps_row(summary: ContainerSummary, *, now: float) -> Row:
    from wharf.compose import naming

    labels = dict(summary.labels)
    row = container_row(summary, trunc=True, now=now)
    name = summary.names[0].removeprefix("/") if summary.names else ""
    status = summary.status
    health = ""
    for word in ("healthy", "unhealthy", "health: starting"):
        if f"({word})" in status:
            health = word.removeprefix("health: ")
            break
    exit_code = ""
    if summary.state == "exited" and status.startswith("Exited ("):
        exit_code = status[len("Exited (") :].split(")", 1)[0]
    row.update(
        Name=name,
        Service=labels.get(naming.SERVICE, ""),
        Project=labels.get(naming.PROJECT, ""),
        Health=health,
        ExitCode=exit_code or "0",
    )
    return row


def print_error(message: str) -> None:
    err(message)
