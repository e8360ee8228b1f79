"""Docker's ``--format`` for list commands: ``table``, ``table TEMPLATE``, ``json``, ``TEMPLATE``.

A list command turns each item into a ``templates.Row`` (docker's per-row "context": string
fields named as in docker, e.g. ``.Repository``, ``.CreatedSince``) and gives this module the
format and the column titles. Table formats print a header (the template run on the titles)
and align columns with Go's tabwriter (min width 10, padding 3); ``json`` prints one JSON
object per line; any other template prints one rendered line per row.

Literal ``\\t`` and ``\\n`` in a format are tabs and newlines, as in docker.
Pure code; imports only ``cli.templates`` and ``cli.formatting``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wharf.cli.formatting import tabwrite
from wharf.cli.templates import Row, parse

TABLE = "table"
JSON = "json"


def is_table(format_source: str) -> bool:
    return format_source.startswith(TABLE)


def render_rows(format_source: str, rows: Iterable[Row], titles: Mapping[str, str]) -> str:
    """Everything the command prints for ``rows``, each line newline-terminated."""
    table = is_table(format_source)
    if format_source.strip() == JSON:
        source = "{{json .}}"
    elif table:
        source = format_source[len(TABLE) :]
    else:
        source = format_source
    source = source.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    template = parse(source)
    body = "".join(template.render(row) + "\n" for row in rows)
    if not table:
        return body
    header = template.render(Row(titles), header=True)
    return tabwrite(header + "\n" + body, minwidth=10, padding=3)
