"""``system df [-v] [--format]``: what images, containers, volumes, the build cache and
container logs hold on disk, printed as docker prints it.

The summary is docker's table (``TYPE TOTAL ACTIVE SIZE RECLAIMABLE``) with its arithmetic:
an image is active when a container uses it, and only the unique bytes of active images are
not reclaimable; a container is active when running, paused or restarting; a volume when a
container references it; the build cache's size leaves out records shared with images. Then
one row of wharf's own, ``Container logs``: the json-file logs of every container (docker does
not count them), reclaimable for the containers that are not active. That row appears only
when the daemon reports logs (wharfd does, dockerd does not).

``-v`` prints docker's detailed sections (images, containers, local volumes, build cache) and,
when the daemon reports logs, a last section of each container's log bytes.
``--format``: ``table`` (the default), ``table TEMPLATE``, ``json``, ``raw`` or a template run
per row (per section row of the summary; with ``-v`` once over ``.Images``, ``.Containers``,
``.Volumes``, ``.BuildCache``).

Imports click, ``wharf.cli`` and ``wharf.client``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click

from wharf.cli.command import BIN, CliError, docker_command, out
from wharf.cli.containers import container_row
from wharf.cli.formatting import human_duration, human_size, tabwrite, truncate_id
from wharf.cli.images import familiar_name
from wharf.cli.state import state
from wharf.cli.tables import TABLE, render_rows
from wharf.cli.templates import Row, TemplateError, parse
from wharf.cli.volumes import volume_row
from wharf.client.api import split_reference
from wharf.client.container_results import ContainerSummary
from wharf.client.disk_usage import BuildCacheEntry, DiskUsage
from wharf.client.models import ImageSummary

SUMMARY_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
SUMMARY_RAW = (
    "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\n"
    "reclaimable: {{.Reclaimable}}\n"
)
SUMMARY_TITLES = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
    "\t{{.UniqueSize}}\t{{.Containers}}"
)
IMAGE_TITLES = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "Size": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}
CONTAINERS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
    "\t{{.Status}}\t{{.Names}}"
)
CONTAINER_TITLES = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "LocalVolumes": "LOCAL VOLUMES",
    "Size": "SIZE",
    "RunningFor": "CREATED",
    "Status": "STATUS",
    "Names": "NAMES",
}
VOLUMES_TABLE = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
VOLUME_TITLES = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
CACHE_TABLE = (
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
    "\t{{.UsageCount}}\t{{.Shared}}"
)
CACHE_TITLES = {
    "ID": "CACHE ID",
    "CacheType": "CACHE TYPE",
    "Size": "SIZE",
    "CreatedSince": "CREATED",
    "LastUsedSince": "LAST USED",
    "UsageCount": "USAGE",
    "Shared": "SHARED",
}
LOGS_TABLE = "table {{.ID}}\t{{.Names}}\t{{.Status}}\t{{.Size}}"
LOG_TITLES = {"ID": "CONTAINER ID", "Names": "NAMES", "Status": "STATUS", "Size": "SIZE"}
_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)
_ACTIVE_STATES = ("running", "paused", "restarting")


# --- the summary


def _with_percent(reclaimable: int, total: int) -> str:
    """docker's ``4.2MB (80%)``: the percentage is integer division, as Go's."""
    if total > 0:
        return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable)


def _active(container: ContainerSummary) -> bool:
    return any(word in container.state for word in _ACTIVE_STATES)


def summary_rows(usage: DiskUsage) -> list[Row]:
    """The rows of docker's summary table, then wharf's ``Container logs`` row."""
    images = usage.images
    used = sum(
        image.size - image.shared_size
        for image in images
        if image.containers != 0 and image.size != -1 and image.shared_size != -1
    )
    container_total = sum(c.size_rw for c in usage.containers)
    container_idle = sum(c.size_rw for c in usage.containers if not _active(c))
    sized_volumes = [v for v in usage.volumes if v.size != -1]
    volume_total = sum(v.size for v in sized_volumes)
    volume_idle = sum(v.size for v in sized_volumes if v.ref_count == 0)
    cache_in_use = sum(r.size for r in usage.build_cache if r.in_use and not r.shared)
    rows = [
        Row(
            Type="Images",
            TotalCount=str(len(images)),
            Active=str(sum(1 for image in images if image.containers > 0)),
            Size=human_size(usage.layers_size),
            Reclaimable=_with_percent(usage.layers_size - used, usage.layers_size),
        ),
        Row(
            Type="Containers",
            TotalCount=str(len(usage.containers)),
            Active=str(sum(1 for c in usage.containers if _active(c))),
            Size=human_size(container_total),
            Reclaimable=_with_percent(container_idle, container_total),
        ),
        Row(
            Type="Local Volumes",
            TotalCount=str(len(usage.volumes)),
            Active=str(sum(1 for v in usage.volumes if v.ref_count > 0)),
            Size=human_size(volume_total),
            Reclaimable=_with_percent(volume_idle, volume_total),
        ),
        Row(
            Type="Build Cache",
            TotalCount=str(len(usage.build_cache)),
            Active=str(sum(1 for r in usage.build_cache if r.in_use)),
            Size=human_size(usage.builder_size),
            Reclaimable=human_size(usage.builder_size - cache_in_use),
        ),
    ]
    if "LogsSize" in usage.raw:
        logged = [c for c in usage.containers if usage.log_sizes.get(c.id, 0) > 0]
        idle = sum(usage.log_sizes[c.id] for c in logged if not _active(c))
        rows.append(
            Row(
                Type="Container logs",
                TotalCount=str(len(logged)),
                Active=str(sum(1 for c in logged if _active(c))),
                Size=human_size(usage.logs_size),
                Reclaimable=_with_percent(idle, usage.logs_size),
            )
        )
    return rows


def summary_format(format_source: str) -> str:
    if format_source in ("", TABLE):
        return SUMMARY_TABLE
    if format_source == "raw":
        return SUMMARY_RAW
    return format_source


# --- the detailed sections


def _is_dangling(image: ImageSummary) -> bool:
    if not image.repo_tags and not image.repo_digests:
        return True
    return image.repo_tags == ("<none>:<none>",) and image.repo_digests == ("<none>@<none>",)


def image_row(image: ImageSummary, *, trunc: bool, now: float) -> Row:
    """docker's df image row: the first tag only, ``<none>`` for an untagged image."""
    repository = tag = "<none>"
    if image.repo_tags and not _is_dangling(image):
        name, tag_text = split_reference(image.repo_tags[0])
        if tag_text and "@" not in name:
            repository, tag = familiar_name(name), tag_text
    shared = "N/A" if image.shared_size == -1 else human_size(image.shared_size)
    unique = (
        "N/A"
        if image.shared_size == -1 or image.size == -1
        else human_size(image.size - image.shared_size)
    )
    return Row(
        Repository=repository,
        Tag=tag,
        ID=truncate_id(image.id) if trunc else image.id,
        CreatedSince=human_duration(now - image.created) + " ago",
        Size=human_size(image.size, 3),
        SharedSize=shared,
        UniqueSize=unique,
        Containers="N/A" if image.containers == -1 else str(image.containers),
    )


def cache_row(record: BuildCacheEntry, *, trunc: bool, now: float) -> Row:
    record_id = truncate_id(record.id) if trunc else record.id
    last_used = record.last_used_at
    return Row(
        ID=record_id + ("*" if record.in_use else ""),
        Parent=", ".join(record.parents),
        CacheType=record.type,
        Description=record.description,
        Size=human_size(record.size, 3),
        CreatedSince=human_duration(now - record.created_at) + " ago",
        LastUsedSince="" if last_used is None else human_duration(now - last_used) + " ago",
        UsageCount=str(record.usage_count),
        InUse="true" if record.in_use else "false",
        Shared="true" if record.shared else "false",
    )


def _cache_order(record: BuildCacheEntry) -> tuple[bool, float, str]:
    """docker's order: never-used records first, then by last use, ties by ID."""
    return (record.last_used_at is not None, record.last_used_at or 0.0, record.id)


def log_row(container: ContainerSummary, size: int, *, trunc: bool) -> Row:
    names = [name.removeprefix("/") for name in container.names]
    return Row(
        ID=truncate_id(container.id) if trunc else container.id,
        Names=",".join(names),
        Status=container.status,
        Size=human_size(size, 3),
    )


def verbose_rows(usage: DiskUsage, *, trunc: bool, now: float) -> dict[str, list[Row]]:
    return {
        "Images": [image_row(image, trunc=trunc, now=now) for image in usage.images],
        # docker does not show the virtual size here.
        "Containers": [
            container_row(c._replace(size_root_fs=0), trunc=trunc, now=now)
            for c in usage.containers
        ],
        "Volumes": [volume_row(volume) for volume in usage.volumes],
        "BuildCache": [
            cache_row(record, trunc=trunc, now=now)
            for record in sorted(usage.build_cache, key=_cache_order)
        ],
    }


def _section(format_source: str, rows: Sequence[Row], titles: Mapping[str, str]) -> str:
    return render_rows(format_source, rows, titles)


def verbose_text(usage: DiskUsage, *, now: float) -> str:
    """docker's ``df -v`` sections, then wharf's logs section when the daemon counts logs."""
    sections = verbose_rows(usage, trunc=True, now=now)
    parts = [
        "Images space usage:\n\n",
        _section(IMAGES_TABLE, sections["Images"], IMAGE_TITLES),
        "\nContainers space usage:\n\n",
        _section(CONTAINERS_TABLE, sections["Containers"], CONTAINER_TITLES),
        "\nLocal Volumes space usage:\n\n",
        _section(VOLUMES_TABLE, sections["Volumes"], VOLUME_TITLES),
        f"\nBuild cache usage: {human_size(usage.builder_size)}\n\n",
        _section(CACHE_TABLE, sections["BuildCache"], CACHE_TITLES),
    ]
    if "LogsSize" in usage.raw:
        logged = [
            log_row(c, usage.log_sizes[c.id], trunc=True)
            for c in usage.containers
            if usage.log_sizes.get(c.id, 0) > 0
        ]
        parts += [
            f"\nContainer logs usage: {human_size(usage.logs_size)}\n\n",
            _section(LOGS_TABLE, logged, LOG_TITLES),
        ]
    return "".join(parts)


def verbose_template(format_source: str, usage: DiskUsage, *, now: float) -> str:
    """A custom ``-v`` format, run once over the four lists of rows."""
    source = "{{json .}}" if format_source.strip() == "json" else format_source
    source = source.removeprefix(TABLE).strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    text = parse(source).render(
        Row(verbose_rows(usage, trunc=format_source.startswith(TABLE), now=now))
    )
    return tabwrite(text, minwidth=10, padding=3) if format_source.startswith(TABLE) else text


@docker_command(help=f"Show {BIN} disk usage", name="df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
def df_command(verbose: bool, format_source: str) -> None:
    cli_state = state()
    usage = cli_state.client().disk_usage()
    now = cli_state.now()
    try:
        if verbose and format_source in ("", TABLE):
            text = verbose_text(usage, now=now)
        elif verbose:
            text = verbose_template(format_source, usage, now=now)
            text += "" if text.endswith("\n") or not text else "\n"
        else:
            text = render_rows(summary_format(format_source), summary_rows(usage), SUMMARY_TITLES)
    except TemplateError as exc:
        raise CliError(str(exc)) from exc
    out(text, nl=False)
