"""``logs``: a container's output, demultiplexed to our stdout and stderr (raw with a TTY).

Requests: ``GET /containers/{id}/json`` (is there a TTY?), then ``GET /containers/{id}/logs?
stdout=1&stderr=1&tail=all`` plus ``follow``, ``since``, ``until``, ``timestamps``, ``details``
as asked. Timestamps and details are written into the stream by the daemon.

``--since``/``--until`` take what docker's ``timetypes.GetTimestamp`` takes: a Go duration
(``10m``, ``1h30m``: that long before now), a date or RFC 3339 time (local time unless it has
a zone), or a unix timestamp (``1700000000[.123]``), and send ``<seconds>.<nanoseconds>``.

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta

import click

from wharf.apitypes.durations import parse_go_duration_ns
from wharf.cli.command import BIN, CliError, docker_command
from wharf.cli.state import state
from wharf.client.streams import StdcopyDecoder, StreamKind
from wharf.errdefs import EngineFailure, InvalidArgument

_UNIX = re.compile(r"\d+(?:\.\d{1,9})?")


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go duration (``1h30m``, ``-1.5s``, ``0``), or None if it is not one."""
    try:
        return parse_go_duration_ns(text) / 1e9
    except InvalidArgument:
        return None


def _fraction_to_micro(text: str) -> str:
    """fromisoformat takes at most 6 fractional digits; Go takes 9."""
    return re.sub(r"\.(\d{6})\d+", r".\1", text)


def go_timestamp(value: str, now: datetime) -> str:
    """docker's ``timetypes.GetTimestamp``: the API value for ``--since``/``--until``."""
    duration = parse_go_duration(value)
    if value != "0" and duration is not None:
        return str(int((now - timedelta(seconds=duration)).timestamp()))
    local = now.astimezone().tzinfo
    zoned = any(c in value for c in "zZ+") or value.count("-") == 3
    text = _fraction_to_micro(value)
    if text[-1:] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        if "T" not in text and not zoned:
            moment = datetime.strptime(text, "%Y-%m-%d")
        elif "T" not in text:
            moment = datetime.strptime(text.replace(":", ""), "%Y-%m-%d%z")
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        if "-" in value:
            raise CliError(f'parsing time "{value}": cannot parse as a timestamp') from None
        if not _UNIX.fullmatch(value):
            raise CliError(f'failed to parse value as time or duration: "{value}"') from None
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local)
    seconds = int(moment.timestamp() // 1)
    nanos = moment.microsecond * 1000
    return f"{seconds}.{nanos:09d}"


@docker_command(
    usage="[OPTIONS] CONTAINER",
    help="Fetch the logs of a container",
    aliases=(f"{BIN} container logs", f"{BIN} logs"),
    min_args=1,
    max_args=1,
)
@click.option("--details", is_flag=True, help="Show extra details provided to logs")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option(
    "--since",
    default="",
    metavar="string",
    help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for '
    "42 minutes)",
)
@click.option(
    "-n",
    "--tail",
    default="all",
    metavar="string",
    help='Number of lines to show from the end of the logs (default "all")',
)
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option(
    "--until",
    default="",
    metavar="string",
    help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" '
    "for 42 minutes)",
)
def logs_command(
    args: tuple[str, ...],
    details: bool,
    follow: bool,
    since: str,
    tail: str,
    timestamps: bool,
    until: str,
) -> None:
    cli_state = state()
    now = datetime.fromtimestamp(cli_state.now()).astimezone()
    since_value = go_timestamp(since, now) if since else ""
    until_value = go_timestamp(until, now) if until else ""
    client = cli_state.client()
    inspected = client.container_inspect(args[0])
    response = client.container_logs(
        inspected.id or args[0],
        follow=follow,
        since=since_value,
        until=until_value,
        timestamps=timestamps,
        tail=tail,
        details=details,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    stdout = sys.stdout.buffer
    stderr = sys.stderr.buffer
    with response:
        if inspected.tty:
            for chunk in response.iter_chunks():
                stdout.write(chunk)
                stdout.flush()
            return
        decoder = StdcopyDecoder()
        for chunk in response.iter_chunks():
            try:
                frames = decoder.feed(chunk)
            except EngineFailure as exc:
                raise CliError(exc.message) from exc
            for frame in frames:
                if frame.kind is StreamKind.STDERR:
                    stderr.write(frame.data)
                    stderr.flush()
                elif frame.kind is StreamKind.SYSTEM_ERROR:
                    raise CliError(frame.data.decode("utf-8", "replace").strip())
                else:
                    stdout.write(frame.data)
            stdout.flush()
        try:
            decoder.close()
        except EngineFailure as exc:
            raise CliError(exc.message) from exc
