"""Image commands: ``images``/``image ls``, ``history``, ``tag``, ``rmi``, ``image prune``,
``save``, ``load``, ``import`` (``inspect`` lives in ``cli.inspect``), with docker's flags and
output shapes.

Row fields for ``--format`` are docker's: images ``.ID .Repository .Tag .Digest .CreatedSince
.CreatedAt .Size .Containers .SharedSize .UniqueSize .VirtualSize``; history ``.ID
.CreatedSince .CreatedAt .CreatedBy .Size .Comment``.

``save -o FILE`` writes a temporary file beside FILE and renames it into place only when the
whole archive arrived, so a failed save leaves FILE as it was (or absent).

Imports click, ``wharf.client`` (types, the JSON stream error) and ``wharf.cli``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

import click

from wharf.cli.command import BIN, CliError, DockerGroup, Entry, docker_command, err, out
from wharf.cli.formatting import ellipsis as cut
from wharf.cli.formatting import go_time, human_duration, human_size, rfc3339, truncate_id
from wharf.cli.inspect import image_inspect_command
from wharf.cli.listing import (
    PRUNE_FILTER_HELP,
    filter_option,
    force_option,
    print_deleted,
    print_reclaimed,
    print_rows,
)
from wharf.cli.progress import display
from wharf.cli.state import state
from wharf.cli.tables import TABLE, is_table
from wharf.cli.templates import Row
from wharf.client.api import split_reference
from wharf.client.errors import DaemonError, StreamError
from wharf.client.models import DeleteKind, HistoryEntry, ImageSummary, JSONMessage
from wharf.errdefs import NotFound

if TYPE_CHECKING:
    from pathlib import Path  # imported where saves need it: images, rmi start faster

_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template."
)
_READ_CHUNK = 1 << 20
_NONE = "<none>"

# --- images


IMAGE_TITLES = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}
DEFAULT_IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
DIGEST_IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)


def familiar_name(name: str) -> str:
    """Docker Hub names shortened as docker prints them (``docker.io/library/x`` -> ``x``)."""
    for prefix in ("docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            if name.startswith("library/") and name.count("/") == 1:
                name = name[len("library/") :]
            break
    return name


def _is_dangling(image: ImageSummary) -> bool:
    if not image.repo_tags and not image.repo_digests:
        return True
    return image.repo_tags == ("<none>:<none>",) and image.repo_digests == ("<none>@<none>",)


def _rows_for(
    image: ImageSummary, *, want_digests: bool, digest_rows: bool
) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows of one image, as docker's image formatter lays them out."""
    if _is_dangling(image):
        return [(_NONE, _NONE, _NONE)]
    tags: dict[str, list[str]] = {}
    for ref in image.repo_tags:
        if "<" in ref:
            continue
        name, tag = split_reference(ref)
        if "@" in name or not tag:
            continue
        tags.setdefault(familiar_name(name), []).append(tag)
    digests: dict[str, list[str]] = {}
    for ref in image.repo_digests:
        name, sep, digest = ref.partition("@")
        if not sep or "<" in ref:
            continue
        digests.setdefault(familiar_name(name), []).append(digest)
    rows: list[tuple[str, str, str]] = []
    for repo, repo_tags in tags.items():
        # A digest of a tagged repository never gets a row of its own.
        repo_digests = digests.pop(repo, [])
        if not want_digests:
            repo_digests = []
        for tag in repo_tags:
            if not repo_digests:
                rows.append((repo, tag, _NONE))
            rows.extend((repo, tag, digest) for digest in repo_digests)
    for repo, repo_digests in digests.items():
        if digest_rows:
            rows.extend((repo, _NONE, digest) for digest in repo_digests)
        else:
            rows.append((repo, _NONE, ""))
    return rows


def image_rows(
    images: Iterable[ImageSummary],
    *,
    truncate: bool,
    digests: bool,
    format_source: str,
    now: float,
) -> list[Row]:
    want_digests = digests or "{{.Digest}}" in format_source
    rows = []
    for image in images:
        size = human_size(image.size, 3)
        shared = "N/A" if image.shared_size == -1 else human_size(image.shared_size)
        unique = (
            "N/A"
            if image.shared_size == -1 or image.size == -1
            else human_size(image.size - image.shared_size)
        )
        common = {
            "ID": truncate_id(image.id) if truncate else image.id,
            "CreatedSince": human_duration(now - image.created) + " ago",
            "CreatedAt": go_time(image.created),
            "Size": size,
            "VirtualSize": human_size(image.size),
            "SharedSize": shared,
            "UniqueSize": unique,
            "Containers": "N/A" if image.containers == -1 else str(image.containers),
        }
        for repo, tag, digest in _rows_for(image, want_digests=want_digests, digest_rows=digests):
            rows.append(Row(common, Repository=repo, Tag=tag, Digest=digest))
    return rows


def images_format(format_source: str, *, quiet: bool, digests: bool) -> str:
    """The effective format, as docker's ``NewImageFormat`` chooses it."""
    source = format_source or TABLE
    if source == TABLE:
        if quiet:
            return "{{.ID}}"
        return DIGEST_IMAGES_TABLE if digests else DEFAULT_IMAGES_TABLE
    if is_table(source) and digests and "{{.Digest}}" not in source:
        source += "\t{{.Digest}}"
    return source


def parse_filters(values: Sequence[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep:
            raise CliError(
                f'invalid argument "{value}" for "-f, --filter" flag: '
                "bad format of filter (expected name=value)\n"
                f"See '{click.get_current_context().command_path} --help'.",
                125,
            )
        filters.setdefault(key.strip().lower(), []).append(item)
    return filters


@docker_command(
    usage="[OPTIONS] [REPOSITORY[:TAG]]",
    help="List images",
    aliases=(f"{BIN} image ls", f"{BIN} image list", f"{BIN} images"),
    max_args=1,
)
@click.option(
    "-a",
    "--all",
    "show_all",
    is_flag=True,
    help="Show all images (default hides intermediate images)",
)
@click.option("--digests", is_flag=True, help="Show digests")
@filter_option()
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
def images_command(
    args: tuple[str, ...],
    show_all: bool,
    digests: bool,
    filters: tuple[str, ...],
    format_source: str,
    no_trunc: bool,
    quiet: bool,
) -> None:
    parsed = parse_filters(filters)
    if args:
        parsed.setdefault("reference", []).append(args[0])
    cli_state = state()
    images = cli_state.client().images(all=show_all, digests=digests, filters=parsed)
    source = images_format(format_source, quiet=quiet, digests=digests)
    rows = image_rows(
        images, truncate=not no_trunc, digests=digests, format_source=source, now=cli_state.now()
    )
    print_rows(source, rows, IMAGE_TITLES)


# --- history


HISTORY_TITLES = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
DEFAULT_HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
PLAIN_HISTORY_TABLE = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
_EPOCH_2000 = 946684800  # docker shows no age for layers "created" before 2000 (zeroed dates)


def history_rows(
    entries: Iterable[HistoryEntry], *, truncate: bool, human: bool, now: float
) -> list[Row]:
    rows = []
    for entry in entries:
        created_at = rfc3339(entry.created)
        if not human:
            created_since = created_at
        elif entry.created <= _EPOCH_2000:
            created_since = ""
        else:
            created_since = human_duration(now - entry.created) + " ago"
        created_by = entry.created_by.replace("\t", " ")
        rows.append(
            Row(
                ID=truncate_id(entry.id) if truncate else entry.id,
                CreatedSince=created_since,
                CreatedAt=created_at,
                CreatedBy=cut(created_by, 45) if truncate else created_by,
                Size=human_size(entry.size, 3) if human else str(entry.size),
                Comment=entry.comment,
            )
        )
    return rows


@docker_command(
    usage="[OPTIONS] IMAGE",
    help="Show the history of an image",
    aliases=(f"{BIN} image history", f"{BIN} history"),
    min_args=1,
    max_args=1,
)
@click.option("--format", "format_source", default="", metavar="string", help=_FORMAT_HELP)
@click.option(
    "-H",
    "--human",
    is_flag=True,
    default=True,
    help="Print sizes and dates in human readable format",
)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
def history_command(
    args: tuple[str, ...], format_source: str, human: bool, no_trunc: bool, quiet: bool
) -> None:
    cli_state = state()
    entries = cli_state.client().image_history(args[0])
    source = format_source or TABLE
    if source == TABLE:
        source = "{{.ID}}" if quiet else (DEFAULT_HISTORY_TABLE if human else PLAIN_HISTORY_TABLE)
    rows = history_rows(entries, truncate=not no_trunc, human=human, now=cli_state.now())
    print_rows(source, rows, HISTORY_TITLES)


# --- tag


@docker_command(
    usage="SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    help="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    aliases=(f"{BIN} image tag", f"{BIN} tag"),
    min_args=2,
    max_args=2,
)
def tag_command(args: tuple[str, ...]) -> None:
    source, target = args
    from wharf.errdefs import InvalidArgument
    from wharf.oci.reference import parse_normalized

    try:
        parse_normalized(target)
    except InvalidArgument as exc:
        # The docker CLI validates the target before asking the daemon, with these words.
        raise CliError(
            f'Error parsing reference: "{target}" is not a valid repository/tag: {exc.message}'
        ) from None
    if "@" in target:
        raise CliError("refusing to create a tag with a digest reference")
    repo, tag = split_reference(target)
    state().client().image_tag(source, repo, tag or "latest")


# --- rmi


@docker_command(
    usage="[OPTIONS] IMAGE [IMAGE...]",
    help="Remove one or more images",
    aliases=(f"{BIN} image rm", f"{BIN} image remove", f"{BIN} rmi"),
    min_args=1,
    max_args=None,
)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
def rmi_command(args: tuple[str, ...], force: bool, no_prune: bool) -> None:
    client = state().client()
    errors: list[str] = []
    fatal = False
    for name in args:
        try:
            removed = client.image_remove(name, force=force, noprune=no_prune)
        except DaemonError as exc:
            fatal = fatal or not isinstance(exc, NotFound)
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        for item in removed:
            label = "Deleted" if item.kind is DeleteKind.DELETED else "Untagged"
            out(f"{label}: {item.ref}")
    if errors:
        message = "\n".join(errors)
        # With --force, names that do not exist are reported but are not a failure (docker).
        if not force or fatal:
            raise CliError(message)
        err(message)


# --- prune


_DANGLING_WARNING = (
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
)
_ALL_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them.\n"
    "Are you sure you want to continue?"
)


def confirm(message: str) -> bool:
    """Docker's ``[y/N]`` prompt: only ``y``/``Y`` (after trimming) says yes; EOF says no."""
    out(f"{message} [y/N] ", nl=False)
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip() in ("y", "Y")


@docker_command(
    help="Remove unused images",
    name="prune",
)
@click.option(
    "-a",
    "--all",
    "prune_all",
    is_flag=True,
    help="Remove all unused images, not just dangling ones",
)
@filter_option(PRUNE_FILTER_HELP, short=False)
@force_option
def prune_command(prune_all: bool, filters: tuple[str, ...], force: bool) -> None:
    parsed = parse_filters(filters)
    if not force and not confirm(_ALL_WARNING if prune_all else _DANGLING_WARNING):
        return  # cancelled: docker exits 0 without a word
    report = state().client().images_prune(dangling_only=not prune_all, filters=parsed)
    print_deleted(
        "Images",
        [
            f"{'deleted' if item.kind is DeleteKind.DELETED else 'untagged'}: {item.ref}"
            for item in report.deleted
        ],
    )
    print_reclaimed(report.space_reclaimed if report.deleted else 0)


# --- save


class AtomicFile:
    """A file written beside ``path`` and renamed over it by ``commit``; else removed."""

    def __init__(self, path: Path) -> None:
        directory = path.parent
        if path.is_dir():
            raise CliError(f"failed to save image: invalid output path: {path} is a directory")
        if not directory.is_dir():
            raise CliError(
                f'failed to save image: invalid output path: directory "{directory}" does not exist'
            )
        import tempfile  # only saves to a file need it
        from pathlib import Path

        self.path = path
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        self.temp = Path(temp)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.chmod(self.temp, 0o600)
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


def _binary_stdout() -> BinaryIO:
    sys.stdout.flush()
    return sys.stdout.buffer


@docker_command(
    usage="[OPTIONS] IMAGE [IMAGE...]",
    help="Save one or more images to a tar archive (streamed to STDOUT by default)",
    aliases=(f"{BIN} image save", f"{BIN} save"),
    min_args=1,
    max_args=None,
)
@click.option(
    "-o", "--output", default="", metavar="string", help="Write to a file, instead of STDOUT"
)
def save_command(args: tuple[str, ...], output: str) -> None:
    cli_state = state()
    if not output:
        if cli_state.stdout_isatty():
            raise CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        chunks = cli_state.client().image_save(list(args))
        sink = _binary_stdout()
        for chunk in chunks:
            sink.write(chunk)
        sink.flush()
        return
    from pathlib import Path

    target = AtomicFile(Path(output))
    try:
        for chunk in cli_state.client().image_save(list(args)):
            target.file.write(chunk)
        target.commit()
    except BaseException:
        target.discard()
        raise


# --- load and import


def _read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(_READ_CHUNK):
        yield chunk


def _open_input(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise CliError(f"open {path}: no such file or directory") from exc
    except IsADirectoryError as exc:
        raise CliError(f"read {path}: is a directory") from exc
    except OSError as exc:
        raise CliError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc


def _show_stream(messages: Iterable[JSONMessage]) -> None:
    try:
        display(messages, sys.stdout, terminal=state().stdout_isatty())
    except StreamError as exc:
        raise CliError(exc.message) from exc


@docker_command(
    help="Load an image from a tar archive or STDIN",
    aliases=(f"{BIN} image load", f"{BIN} load"),
)
@click.option(
    "-i",
    "--input",
    "input_path",
    default="",
    metavar="string",
    help="Read from tar archive file, instead of STDIN",
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
def load_command(input_path: str, quiet: bool) -> None:
    cli_state = state()
    if input_path:
        source = _open_input(input_path)
    else:
        if cli_state.stdin_isatty():
            raise CliError("requested load from stdin, but stdin is empty")
        source = sys.stdin.buffer
    with source:
        quiet = quiet or not cli_state.stdout_isatty()
        _show_stream(cli_state.client().image_load(_read_chunks(source), quiet=quiet))


@docker_command(
    usage="[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    help="Import the contents from a tarball to create a filesystem image",
    aliases=(f"{BIN} image import", f"{BIN} import"),
    min_args=1,
    max_args=2,
)
@click.option(
    "-c",
    "--change",
    "changes",
    multiple=True,
    metavar="list",
    help="Apply Dockerfile instruction to the created image",
)
@click.option(
    "-m", "--message", default="", metavar="string", help="Set commit message for imported image"
)
@click.option(
    "--platform",
    default="",
    metavar="string",
    help="Set platform if server is multi-platform capable",
)
def import_command(
    args: tuple[str, ...], changes: tuple[str, ...], message: str, platform: str
) -> None:
    source_name = args[0]
    reference = args[1] if len(args) > 1 else ""
    client = state().client()
    if source_name.startswith(("http://", "https://")):
        _show_stream(
            client.image_import(
                None,
                repo=reference,
                changes=changes,
                message=message,
                source=source_name,
                platform=platform,
            )
        )
        return
    stream = sys.stdin.buffer if source_name == "-" else _open_input(source_name)
    with stream:
        _show_stream(
            client.image_import(
                _read_chunks(stream),
                repo=reference,
                changes=changes,
                message=message,
                platform=platform,
            )
        )


# --- the ``image`` management command


image_group = DockerGroup(
    "image",
    help="Manage images",
    aliases={"list": "ls", "remove": "rm"},
    entries={
        "pull": Entry("wharf.cli.pull:pull_command", "Download an image from a registry"),
        "push": Entry("wharf.cli.login:push_command", "Upload an image to a registry"),
        "build": Entry("wharf.cli.build:build_command", "Build an image from a Dockerfile"),
    },
)
image_group.add_command(history_command, "history")
image_group.add_command(import_command, "import")
image_group.add_command(load_command, "load")
image_group.add_command(images_command, "ls")
image_group.add_command(prune_command, "prune")
image_group.add_command(rmi_command, "rm")
image_group.add_command(save_command, "save")
image_group.add_command(tag_command, "tag")
image_group.add_command(image_inspect_command, "inspect")
