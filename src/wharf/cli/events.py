"""``events`` (also ``system events``): the daemon's events, one line each, as they happen.

Request: ``GET /events`` with ``since``/``until`` converted as docker's CLI converts them
(``timetypes.GetTimestamp``: a Go duration back from now, a date or RFC 3339 time, or unix
seconds; see ``cli.logs.go_timestamp``) and ``-f`` filters as JSON. Without ``--until`` it
runs until interrupted; with it, until the daemon ends the stream.

Output, as docker's ``prettyPrintEvent``: the time in the local zone with nanoseconds
(``2006-01-02T15:04:05.000000000Z07:00``), type, action, actor ID and the attributes sorted
by key::

    2026-11-27T20:10:11.123456789Z container start 3f2a... (image=busybox, name=x)

``--format`` runs a template per event on docker's ``events.Message`` fields (``.Type``,
``.Action``, ``.Actor.ID``, ``.Actor.Attributes``, ``.Status``, ``.ID``, ``.From``,
``.Scope``, ``.Time``, ``.TimeNano``); ``json`` and ``{{json .}}`` print the wire JSON. A
template that cannot run on an empty event is refused up front (exit 64), as docker does.

Imports click, the standard library, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from wharf.cli.command import BIN, CliError, docker_command, out
from wharf.cli.listing import filter_option
from wharf.cli.logs import go_timestamp
from wharf.cli.state import state
from wharf.cli.templates import Template, TemplateError, WireRow, parse
from wharf.client.events import EventMessage

_NS = 1_000_000_000
_TEMPLATE_ERROR_EXIT = 64
_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)


def event_time(nanoseconds: int) -> str:
    """Go's ``rfc3339NanoFixed`` in the local zone: nine fraction digits, ``Z`` for UTC."""
    moment = datetime.fromtimestamp(nanoseconds // _NS).astimezone()
    offset = moment.utcoffset()
    if not offset:
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{nanoseconds % _NS:09d}{zone}"


def pretty_line(event: EventMessage) -> str:
    """One event as docker prints it without ``--format``."""
    stamp = ""
    if event.time_nano:
        stamp = event_time(event.time_nano) + " "
    elif event.time:
        stamp = event_time(event.time * _NS) + " "
    line = f"{stamp}{event.type} {event.action} {event.actor_id}"
    if event.attributes:
        pairs = ", ".join(f"{key}={value}" for key, value in sorted(event.attributes))
        line += f" ({pairs})"
    return line


def template_row(event: EventMessage) -> WireRow:
    """The event as a template sees it: ``events.Message``'s Go fields; JSON is the wire."""
    actor = WireRow(
        {"ID": event.actor_id, "Attributes": dict(event.attributes)},
        {"ID": event.actor_id, "Attributes": dict(event.attributes)},
    )
    return WireRow(
        {
            "Status": event.status,
            "ID": event.id,
            "From": event.from_image,
            "Type": event.type,
            "Action": event.action,
            "Actor": actor,
            "Scope": event.scope,
            "Time": event.time,
            "TimeNano": event.time_nano,
        },
        event.to_wire(),
    )


def make_template(format_source: str) -> Template | None:
    """The parsed ``--format``, checked on an empty event; None for the default output."""
    if not format_source:
        return None
    source = "{{json .}}" if format_source.strip() == "json" else format_source
    try:
        template = parse(source.replace("\\t", "\t").replace("\\n", "\n"))
        template.render(template_row(EventMessage(type="", action="", actor_id="")))
    except TemplateError as exc:
        raise CliError(f"Error parsing format: {exc}", _TEMPLATE_ERROR_EXIT) from exc
    return template


@docker_command(
    help="Get real time events from the server",
    aliases=(f"{BIN} system events", f"{BIN} events"),
)
@filter_option()
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option(
    "--since", default="", metavar="string", help="Show all events created since timestamp"
)
@click.option("--until", default="", metavar="string", help="Stream events until this timestamp")
def events_command(filters: tuple[str, ...], format_source: str, since: str, until: str) -> None:
    from wharf.cli.images import parse_filters

    template = make_template(format_source)
    parsed = parse_filters(filters)
    cli_state = state()
    now = datetime.fromtimestamp(cli_state.now()).astimezone()
    stream = cli_state.client().events(
        since=go_timestamp(since, now) if since else "",
        until=go_timestamp(until, now) if until else "",
        filters=parsed,
    )
    for event in stream:
        if template is None:
            out(pretty_line(event))
        else:
            try:
                out(template.render(template_row(event)))
            except TemplateError as exc:
                raise CliError(str(exc)) from exc
        sys.stdout.flush()
