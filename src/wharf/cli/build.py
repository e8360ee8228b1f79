"""``wharf build`` (also ``builder build``) and ``wharf builder prune``.

``build`` is the docker CLI's classic builder client (``DOCKER_BUILDKIT=0 docker build``):

- PATH is a directory: ``-f`` is relative to the current directory (default
  ``PATH/Dockerfile``, else ``PATH/dockerfile``); ``.dockerignore`` at the context root is
  applied (``builder.context.ignore``), never to the Dockerfile or ``.dockerignore``
  themselves; the context tar (``builder.context.send``) is written to an anonymous temporary
  file and streamed to the daemon. A Dockerfile outside the context, or read from stdin
  (``-f -``), travels inside the tar under the name the writer gives it.
- PATH ``-`` is a context tar on stdin, passed through as is (gzip, bzip2, xz and zstd too:
  the daemon decompresses). Stdin that is not an archive is a lone Dockerfile, as docker
  takes it.
- Output is the daemon's ``stream`` text as it arrives, after docker's "Sending build context
  to ... daemon" line. A failed build prints its error on stderr and exits with the failing
  step's exit code (1 when the daemon gives none), as the docker CLI does. ``-q`` prints only
  the image ID (and, on failure, the held output on stderr); ``--iidfile`` gets the ID.
- ``--progress`` accepts BuildKit's modes; all print the classic stream (``quiet`` = ``-q``).
- ``--secret id=ID[,src=PATH|,env=VAR][,type=file|env]`` is buildx's syntax; with neither
  ``src`` nor ``env`` the ID names an environment variable if one is set, else a file.
- ``--platform`` must be the host's: the classic builder does not emulate.

``builder prune`` asks docker's question unless ``-f`` and prints the deleted cache objects and
the space reclaimed.

Imports click, the standard library, ``wharf.cli``, ``wharf.client``, ``wharf.apitypes.build``,
``wharf.oci`` and ``wharf.builder.context`` (the last three only when a build runs).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import click

from wharf.cli.command import BIN, CliError, DockerGroup, docker_command, out
from wharf.cli.formatting import human_size
from wharf.cli.listing import filter_option, force_option
from wharf.cli.opts import (
    OptionError,
    parse_go_int,
    parse_size,
    validate_env,
    validate_extra_host,
    validate_label,
)
from wharf.cli.run_options import GoFlag
from wharf.cli.state import state

if TYPE_CHECKING:
    from wharf.apitypes.build import BuildMessage, BuildSecret
    from wharf.oci.mediatypes import Compression

_CHUNK = 1 << 20
_TAR_BLOCK = 512
_PROGRESS_MODES = ("auto", "plain", "tty", "quiet")
_DEFAULT_DOCKERFILE = "Dockerfile"
# Leading bytes of the compressed archives docker recognises (pkg/archive DetectCompression).
_COMPRESSED_MAGIC = (b"\x1f\x8b\x08", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


# --- flag values


def _check_tag(text: str) -> str:
    from wharf.errdefs import InvalidArgument
    from wharf.oci.reference import parse_normalized

    try:
        reference = parse_normalized(text)
    except InvalidArgument:
        raise OptionError("invalid reference format") from None
    if reference.digest is not None:
        raise OptionError("invalid reference format")
    return text


class SecretSpec(NamedTuple):
    """A parsed ``--secret``: exactly one of ``src`` and ``env`` is set, or neither (then the
    ID names an environment variable if one is set, else a file)."""

    id: str
    src: str = ""
    env: str = ""


def parse_secret(text: str) -> SecretSpec:
    """buildx's ``--secret`` CSV: ``type``, ``id``, ``src``/``source``, ``env``."""
    kind = ""
    fields: dict[str, str] = {}
    for field in text.split(","):
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if not sep:
            raise OptionError(f"invalid field {field!r} must be a key=value pair")
        if key == "type":
            if value not in ("file", "env"):
                raise OptionError(f"unsupported secret type {value!r}")
            kind = value
        elif key in ("id", "env"):
            fields[key] = value
        elif key in ("src", "source"):
            fields["src"] = value
        else:
            raise OptionError(f"unexpected key {key!r} in {field!r}")
    src, env = fields.get("src", ""), fields.get("env", "")
    if kind == "env" and not env:
        env, src = src or fields.get("id", ""), ""
    if src and env:
        raise OptionError("a secret takes src or env, not both")
    secret_id = fields.get("id") or (os.path.basename(src) if src else env)
    if not secret_id:
        raise OptionError("secret ID missing")
    if kind == "file" and not src and not env:
        src = secret_id
    return SecretSpec(secret_id, src, env)


def _check_progress(text: str) -> str:
    if text not in _PROGRESS_MODES:
        raise OptionError(f"unknown progress mode: expected one of {', '.join(_PROGRESS_MODES)}")
    return text


def _parse_compression(text: str) -> Compression:
    from wharf.oci.mediatypes import Compression

    if text not in ("gzip", "zstd"):
        raise OptionError("expected gzip or zstd")
    return Compression(text)


def _split_commas(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def read_secrets(
    specs: Iterable[SecretSpec],
    environ: Callable[[str], str | None] = os.environ.get,
) -> tuple[BuildSecret, ...]:
    """Read each secret's bytes now, so a missing file fails before anything is sent."""
    from wharf.apitypes.build import BuildSecret

    secrets: dict[str, BuildSecret] = {}
    for spec in specs:
        src, env = spec.src, spec.env
        if not src and not env:
            if environ(spec.id) is not None:
                env = spec.id
            else:
                src = spec.id
        if env:
            value = environ(env)
            if value is None:
                raise CliError(f"secret {spec.id}: environment variable {env} is not set")
            data = value.encode()
        else:
            try:
                data = Path(src).read_bytes()
            except OSError as exc:
                raise CliError(
                    f"secret {spec.id}: failed to read {src}: {exc.strerror or exc}"
                ) from exc
        secrets[spec.id] = BuildSecret(spec.id, data)
    return tuple(secrets.values())


def check_platform(text: str) -> str:
    """The wire form of ``--platform``; anything but the host's platform is an error."""
    if not text:
        return ""
    from wharf.errdefs import InvalidArgument
    from wharf.oci.platform import host_platform, parse_platform

    host = host_platform()
    try:
        wanted = parse_platform(text, host=host)
    except InvalidArgument as exc:
        raise CliError(f"invalid platform {text!r}: {exc.message}") from exc
    if not wanted.matches(host):
        raise CliError(
            f'platform "{text}" is not supported: wharf builds only for the host platform '
            f"({host.normalized()})"
        )
    return str(wanted.normalized())


def key_values(entries: Iterable[str]) -> dict[str, str | None]:
    """docker's ``ConvertKVStringsToMapWithNil``: ``K=V`` -> V, a bare ``K`` -> None."""
    result: dict[str, str | None] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        result[key] = value if sep else None
    return result


# --- the context


class BuildContext(NamedTuple):
    chunks: Iterable[bytes]
    dockerfile: str  # its name inside the tar


def _read_chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def is_archive(head: bytes) -> bool:
    """docker's ``archive.IsArchive``: a compressed stream, or a valid tar header first."""
    import tarfile

    if head.startswith(_COMPRESSED_MAGIC):
        return True
    if len(head) < _TAR_BLOCK:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:_TAR_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def single_file_tar(name: str, data: bytes) -> bytes:
    """A context holding only the Dockerfile (``wharf build - < Dockerfile``)."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def stdin_context(stdin: BinaryIO, dockerfile_flag: str) -> BuildContext:
    if dockerfile_flag == "-":
        raise CliError("invalid argument: can't use stdin for both build context and dockerfile")
    head = _read_up_to(stdin, _TAR_BLOCK)
    if is_archive(head):
        return BuildContext(
            itertools.chain([head], _read_chunks(stdin)), dockerfile_flag or _DEFAULT_DOCKERFILE
        )
    dockerfile = head + stdin.read()
    return BuildContext([single_file_tar(_DEFAULT_DOCKERFILE, dockerfile)], _DEFAULT_DOCKERFILE)


def locate_dockerfile(context_dir: Path, dockerfile_flag: str) -> Path:
    """The Dockerfile's real path: ``-f`` from the current directory, else in the context."""
    if dockerfile_flag:
        path = Path(dockerfile_flag).absolute()
    else:
        path = context_dir / _DEFAULT_DOCKERFILE
        lower = context_dir / _DEFAULT_DOCKERFILE.lower()
        if not os.path.lexists(path) and os.path.lexists(lower):
            path = lower
    shown = dockerfile_flag or _DEFAULT_DOCKERFILE
    if not path.exists():
        raise CliError(f"unable to prepare context: Cannot locate specified Dockerfile: {shown}")
    if not path.is_file():
        raise CliError(f"unable to prepare context: the Dockerfile ({shown}) must be a file")
    return path.resolve()


def directory_context(
    stack: contextlib.ExitStack, path_text: str, dockerfile_flag: str, stdin: BinaryIO
) -> BuildContext:
    from wharf.builder.context.send import write_directory_context
    from wharf.errdefs import WharfError

    context_dir = Path(path_text).resolve()
    if dockerfile_flag == "-":
        holder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wharf-build-")))
        dockerfile = holder / _DEFAULT_DOCKERFILE
        dockerfile.write_bytes(stdin.read())
    else:
        dockerfile = locate_dockerfile(context_dir, dockerfile_flag)
    spool = stack.enter_context(tempfile.TemporaryFile("w+b"))  # noqa: SIM115 (the stack closes it)
    try:
        name = write_directory_context(context_dir, spool, dockerfile)
    except WharfError as exc:
        raise CliError(exc.message) from exc
    spool.seek(0)
    return BuildContext(_read_chunks(spool), name)


def prepare_context(
    stack: contextlib.ExitStack, path_text: str, dockerfile_flag: str, stdin: BinaryIO
) -> BuildContext:
    if path_text == "-":
        return stdin_context(stdin, dockerfile_flag)
    if os.path.isdir(path_text):
        return directory_context(stack, path_text, dockerfile_flag, stdin)
    if "://" in path_text or path_text.startswith(("git@", "github.com/")):
        raise CliError(
            f"unable to prepare context: remote build contexts are not supported by {BIN}: "
            f"{path_text}"
        )
    raise CliError(f'unable to prepare context: path "{path_text}" not found')


def _announced(chunks: Iterable[bytes], announce: Callable[[int], None]) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        yield chunk
    announce(total)


def _announce_upload(size: int) -> None:
    out(f"Sending build context to {BIN.capitalize()} daemon {human_size(size):>8}")
    sys.stdout.flush()


# --- output


def show_build(messages: Iterable[BuildMessage], *, quiet: bool) -> str:
    """Print the build's stream (held back when ``quiet``); returns the image ID.

    A failed build raises ``CliError`` with the daemon's message and the step's exit code.
    """
    from wharf.client.build import BuildFailed

    image_id = ""
    held: list[str] = []
    try:
        for message in messages:
            if message.aux_id:
                image_id = message.aux_id
            if not message.stream:
                continue
            if quiet:
                held.append(message.stream)
            else:
                out(message.stream, nl=False)
                sys.stdout.flush()
    except BuildFailed as exc:
        if quiet and held:
            sys.stderr.write("".join(held))
        raise CliError(exc.message, exc.code) from exc
    if quiet:
        out("".join(held) if held else f"{image_id}\n", nl=False)
    return image_id


# --- commands


@docker_command(
    usage="[OPTIONS] PATH | -",
    help="Build an image from a Dockerfile",
    aliases=(f"{BIN} build", f"{BIN} builder build"),
    min_args=1,
    max_args=1,
    name="build",
)
@click.option(
    "--add-host",
    "add_hosts",
    multiple=True,
    type=GoFlag(validate_extra_host, "list"),
    metavar="list",
    help="Add a custom host-to-IP mapping (host:ip)",
)
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    type=GoFlag(validate_env, "list"),
    metavar="list",
    help="Set build-time variables",
)
@click.option(
    "--cache-from",
    "cache_from",
    multiple=True,
    metavar="strings",
    help="Images to consider as cache sources",
)
@click.option(
    "--compression",
    type=GoFlag(_parse_compression, "string"),
    default=None,
    metavar="string",
    help='Layer compression: "gzip" (default) or "zstd"',
)
@click.option(
    "-c",
    "--cpu-shares",
    type=GoFlag(parse_go_int, "int"),
    default=0,
    metavar="int",
    help="CPU shares (relative weight)",
)
@click.option("--explain-cache", is_flag=True, help="Say why each step missed the build cache")
@click.option(
    "-f",
    "--file",
    "dockerfile",
    default="",
    metavar="string",
    help="Name of the Dockerfile (Default is 'PATH/Dockerfile')",
)
@click.option("--force-rm", is_flag=True, help="Always remove intermediate containers")
@click.option("--iidfile", default="", metavar="string", help="Write the image ID to the file")
@click.option(
    "--label",
    "labels",
    multiple=True,
    type=GoFlag(validate_label, "list"),
    metavar="list",
    help="Set metadata for an image",
)
@click.option(
    "-m",
    "--memory",
    type=GoFlag(parse_size, "bytes"),
    default=0,
    metavar="bytes",
    help="Memory limit",
)
@click.option(
    "--network",
    default="default",
    metavar="string",
    help='Set the networking mode for the RUN instructions during build (default "default")',
)
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option(
    "--platform",
    default="",
    metavar="string",
    help="Set platform if server is multi-platform capable",
)
@click.option(
    "--progress",
    type=GoFlag(_check_progress, "string"),
    default="auto",
    metavar="string",
    help='Set type of progress output ("auto", "plain", "tty", "quiet")',
)
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Suppress the build output and print image ID on success",
)
@click.option(
    "--rm",
    "remove",
    is_flag=True,
    default=True,
    help="Remove intermediate containers after a successful build",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    type=GoFlag(parse_secret, "stringArray"),
    metavar="stringArray",
    help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")',
)
@click.option(
    "--shm-size",
    type=GoFlag(parse_size, "bytes"),
    default=0,
    metavar="bytes",
    help="Size of /dev/shm",
)
@click.option(
    "-t",
    "--tag",
    "tags",
    multiple=True,
    type=GoFlag(_check_tag, "list"),
    metavar="list",
    help='Name and optionally a tag in the "name:tag" format',
)
@click.option("--target", default="", metavar="string", help="Set the target build stage to build.")
def build_command(
    args: tuple[str, ...],
    add_hosts: tuple[str, ...],
    build_args: tuple[str, ...],
    cache_from: tuple[str, ...],
    compression: Compression | None,
    cpu_shares: int,
    explain_cache: bool,
    dockerfile: str,
    force_rm: bool,
    iidfile: str,
    labels: tuple[str, ...],
    memory: int,
    network: str,
    no_cache: bool,
    platform: str,
    progress: str,
    pull: bool,
    quiet: bool,
    remove: bool,
    secrets: tuple[SecretSpec, ...],
    shm_size: int,
    tags: tuple[str, ...],
    target: str,
) -> None:
    from wharf.apitypes.build import BuildOptions
    from wharf.oci.mediatypes import Compression

    (path_text,) = args
    quiet = quiet or progress == "quiet"
    wire_platform = check_platform(platform)
    secret_values = read_secrets(secrets)
    if iidfile:
        # A stale ID must not survive a failed build.
        try:
            os.remove(iidfile)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CliError(f"Removing image ID file: {exc.strerror or exc}") from exc
    stdin = sys.stdin.buffer
    with contextlib.ExitStack() as stack:
        context = prepare_context(stack, path_text, dockerfile, stdin)
        options = BuildOptions(
            tags=tags,
            dockerfile=context.dockerfile,
            build_args=tuple(sorted(key_values(build_args).items())),
            target=target,
            no_cache=no_cache,
            pull=pull,
            quiet=quiet,
            remove=remove or force_rm,
            force_remove=force_rm,
            labels=tuple(sorted((key, value or "") for key, value in key_values(labels).items())),
            network_mode=network,
            platform=wire_platform,
            extra_hosts=add_hosts,
            shm_size=shm_size,
            memory=memory,
            cpu_shares=cpu_shares,
            cache_from=tuple(
                itertools.chain.from_iterable(_split_commas(item) for item in cache_from)
            ),
            secrets=secret_values,
            explain_cache=explain_cache,
            compression=compression or Compression.GZIP,
        )
        chunks = context.chunks if quiet else _announced(context.chunks, _announce_upload)
        image_id = show_build(state().client().image_build(chunks, options), quiet=quiet)
    if iidfile:
        if not image_id:
            raise CliError(f"Server did not provide an image ID. Cannot write {iidfile}")
        try:
            Path(iidfile).write_text(image_id)
        except OSError as exc:
            raise CliError(f"Cannot write {iidfile}: {exc.strerror or exc}") from exc


_PRUNE_DANGLING = (
    "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
)
_PRUNE_ALL = "WARNING! This will remove all build cache. Are you sure you want to continue?"


def cache_prune_lines(caches_deleted: Iterable[str]) -> list[str]:
    """The ``Deleted build cache objects:`` block (with its blank line), or nothing."""
    deleted = list(caches_deleted)
    return ["Deleted build cache objects:", *deleted, ""] if deleted else []


@docker_command(help="Remove build cache", name="prune")
@click.option(
    "-a",
    "--all",
    "prune_all",
    is_flag=True,
    help="Remove all unused build cache, not just dangling ones",
)
@filter_option('Provide filter values (e.g. "until=24h")', short=False)
@force_option
@click.option(
    "--keep-storage",
    type=GoFlag(parse_size, "bytes"),
    default=0,
    metavar="bytes",
    help="Amount of disk space to keep for cache",
)
def prune_command(
    prune_all: bool, filters: tuple[str, ...], force: bool, keep_storage: int
) -> None:
    from wharf.cli.images import confirm, parse_filters
    from wharf.cli.listing import print_reclaimed

    parsed = parse_filters(filters)
    if not force and not confirm(_PRUNE_ALL if prune_all else _PRUNE_DANGLING):
        return
    report = (
        state().client().build_cache_prune(all=prune_all, filters=parsed, keep_storage=keep_storage)
    )
    for line in cache_prune_lines(report.caches_deleted):
        out(line)
    print_reclaimed(report.space_reclaimed)


builder_group = DockerGroup("builder", help="Manage builds")
builder_group.add_command(build_command, "build")
builder_group.add_command(prune_command, "prune")
