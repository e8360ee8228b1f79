"""``cp``: copy files between a container and the local filesystem, with docker's semantics.

``cp CONTAINER:SRC DEST`` reads ``GET /containers/{id}/archive?path=SRC`` (a tar whose top entry
is SRC's last component, and the ``X-Docker-Container-Path-Stat`` header); ``cp SRC
CONTAINER:DEST`` stats DEST (``HEAD`` the same path) and sends a tar with
``PUT /containers/{id}/archive?path=DIR&noOverwriteDirNonDir=true``. ``-`` is a tar on
stdout (from a container) or stdin (to one, DEST must then be a directory).

Where a copy lands is docker's ``PrepareArchiveCopy`` decision::

    DEST exists, is a directory  -> SRC goes inside it (SRC ending in "/." copies its contents)
    DEST exists, is a file       -> SRC (a file) replaces it; a directory SRC is an error
    DEST missing, SRC directory  -> created as DEST, with SRC's contents
    DEST missing, ends in "/"    -> error for a file SRC ("no such directory")
    DEST missing                 -> SRC's file created as DEST (its parent must exist)

Renaming is done by rewriting the entry names of the tar stream (never by a temporary copy).
Local extraction uses ``wharf.archive.extract.apply_layer``, which treats DEST's directory as
a root: no entry, ``..`` or symlink in the archive can write outside it. Like docker, files
are not chowned to the container's owners locally (entries are rewritten to our uid/gid).

Imports click, the standard library, ``wharf.archive``, ``wharf.client`` and ``wharf.cli``.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import sys
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import click

from wharf.cli.command import BIN, CliError, docker_command, err
from wharf.cli.formatting import human_size
from wharf.cli.state import state
from wharf.client.api import EngineClient
from wharf.client.errors import DaemonError
from wharf.errdefs import NotFound, WharfError

_CHUNK = 64 * 1024


# --- where a copy goes


def split_cp_arg(arg: str) -> tuple[str, str]:
    """docker's ``splitCpArg``: ``container:path``, unless the argument is a local path."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def split_dir_entry(path: str) -> tuple[str, str]:
    """docker's ``SplitPathDirEntry``: the parent and the entry, ``.`` kept for ``dir/.``."""
    cleaned = posixpath.normpath(path)
    if path == "." or path.endswith("/."):
        cleaned = cleaned.rstrip("/") + "/."
        return cleaned[: -len("/.")] or "/", "."
    return posixpath.dirname(cleaned) or ".", posixpath.basename(cleaned) or "/"


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or path.endswith("/.") or path == "."


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """Extract into ``directory``, the archive's top entry named ``top``."""

    directory: str
    top: str


def plan_copy(
    *,
    source_path: str,
    source_is_dir: bool,
    dest_path: str,
    dest_exists: bool,
    dest_is_dir: bool,
    rebase_name: str = "",
) -> CopyPlan:
    """docker's ``PrepareArchiveCopy``; raises ``CliError`` with its messages."""
    dest_dir, dest_base = split_dir_entry(dest_path)
    source_base = split_dir_entry(source_path)[1]
    if dest_exists and dest_is_dir:
        return CopyPlan(dest_path, rebase_name or source_base)
    if dest_exists and source_is_dir:
        raise CliError("cannot copy directory")
    if not dest_exists and not source_is_dir and asserts_directory(dest_path):
        raise CliError("no such directory")
    return CopyPlan(dest_dir, dest_base)


def rebase_name(name: str, old: str, new: str) -> str:
    """Rename the top entry ``old`` (``.``: the archive's root) to ``new`` in an entry name."""
    if old == new:
        return name
    if old == ".":
        rest = name[2:] if name.startswith("./") else ("" if name in (".", "./") else name)
        return f"{new}/{rest}" if rest else new
    if name == old or name.startswith(old + "/"):
        return new + name[len(old) :]
    return name


# --- tar streams between threads


class _ChunkReader:
    """A readable file over an iterator of chunks (tarfile's stream mode reads from it)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self.count += len(chunk)
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


@contextlib.contextmanager
def _produced(produce: Callable[[BinaryIO], None]) -> Iterator[BinaryIO]:
    """Run ``produce(writer)`` on a thread; yield the reading end. Its error is re-raised."""
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with open(write_fd, "wb") as writer:
                produce(writer)
        except BrokenPipeError:
            pass  # the reader stopped (it failed, and says why)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="wharf-cp-tar", daemon=True)
    thread.start()
    with open(read_fd, "rb") as reader:
        try:
            yield reader
            # Read to the end so the producer finishes, then surface its failure.
            while reader.read(_CHUNK):
                pass
        finally:
            reader.close()
            thread.join()
    if errors:
        raise errors[0]


def _rewrite_tar(
    source: BinaryIO | _ChunkReader,
    out: BinaryIO,
    *,
    old: str,
    new: str,
    owner: tuple[int, int] | None,
) -> None:
    with (
        tarfile.open(fileobj=source, mode="r|") as archive,  # type: ignore[call-overload]
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as rewritten,
    ):
        for member in archive:
            member.name = rebase_name(member.name, old, new)
            if member.islnk():
                member.linkname = rebase_name(member.linkname, old, new)
            if owner is not None:
                member.uid, member.gid = owner
                member.uname = member.gname = ""
            data = archive.extractfile(member) if member.isfile() else None
            rewritten.addfile(member, data)


# --- from a container


def _local_destination(path: str) -> tuple[str, bool, bool]:
    """docker's ``CopyInfoDestinationPath``: follow symlinks; the parent must exist."""
    original = path
    for _ in range(11):
        if not os.path.lexists(path):
            parent = split_dir_entry(path)[0]
            if not os.path.exists(parent):
                raise CliError(f"stat {parent}: no such file or directory")
            if not os.path.isdir(parent):
                raise CliError("not a directory")
            return path, False, False
        if not os.path.islink(path):
            return path, True, os.path.isdir(path)
        target = os.readlink(path)
        if not os.path.isabs(target):
            target = os.path.join(split_dir_entry(path)[0], target)
        path = target
    raise CliError(f"too many symlinks in {original}")


def copy_from_container(
    client: EngineClient, container: str, source: str, dest: str, *, follow_link: bool
) -> int:
    """Returns the number of archive bytes copied."""
    rebase = ""
    if follow_link:
        with contextlib.suppress(WharfError):
            stat = client.container_stat_path(container, source)
            if stat.is_symlink:
                target = stat.link_target
                if not target.startswith("/"):
                    target = posixpath.join(split_dir_entry(source)[0], target)
                rebase = split_dir_entry(source)[1]
                source = target
    stat, chunks = client.container_get_archive(container, source)
    if dest == "-":
        sys.stdout.flush()
        copied = 0
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
            copied += len(chunk)
        sys.stdout.buffer.flush()
        return copied
    dest_path, exists, is_dir = _local_destination(dest)
    plan = plan_copy(
        source_path=source,
        source_is_dir=stat.is_dir,
        dest_path=dest_path,
        dest_exists=exists,
        dest_is_dir=is_dir,
        rebase_name=rebase,
    )
    from wharf.archive.extract import WhiteoutMode, apply_layer

    reader = _ChunkReader(chunks)
    owner = (os.geteuid(), os.getegid())
    old = split_dir_entry(source)[1]  # the daemon names the top entry after what it archived
    try:
        with _produced(
            lambda out: _rewrite_tar(reader, out, old=old, new=plan.top, owner=owner)
        ) as stream:
            apply_layer(stream, Path(plan.directory), whiteouts=WhiteoutMode.DELETE)
    except tarfile.TarError as exc:
        raise CliError(f"invalid archive from the daemon: {exc}") from exc
    return reader.count


# --- to a container


def _local_source(path: str, *, follow_link: bool) -> tuple[str, str, bool]:
    """(resolved path, rebase name, is a directory) of a local source, as docker resolves it."""
    rebase = ""
    resolved = path
    if follow_link:
        resolved = os.path.realpath(path)
        if os.path.basename(resolved) != os.path.basename(path.rstrip("/")):
            rebase = os.path.basename(path.rstrip("/"))
    else:
        parent, base = split_dir_entry(path)
        resolved = os.path.join(os.path.realpath(parent), base) if base != "." else path
        if path.endswith("/") and base != ".":
            resolved += "/"
    try:
        info = os.lstat(resolved.rstrip("/") or "/")
    except FileNotFoundError:
        raise CliError(f"lstat {resolved}: no such file or directory") from None
    except OSError as exc:
        raise CliError(f"lstat {resolved}: {(exc.strerror or '').lower()}") from None
    import stat as stat_module

    return resolved, rebase, stat_module.S_ISDIR(info.st_mode)


def _write_source_tar(source: str, top: str, out: BinaryIO) -> None:
    root = source.rstrip("/") if not source.endswith("/.") else source[:-2]
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        archive.add(root or "/", arcname=top, recursive=True)


def copy_to_container(
    client: EngineClient,
    container: str,
    source: str,
    dest: str,
    *,
    follow_link: bool,
    copy_uid_gid: bool,
) -> int:
    where = f"{container}:{dest}"
    dest_path = dest
    exists = is_dir = False
    try:
        stat = client.container_stat_path(container, dest)
        if stat.is_symlink:
            target = stat.link_target
            if not target.startswith("/"):
                target = posixpath.join(split_dir_entry(dest)[0], target)
            dest_path = target
            stat = client.container_stat_path(container, target)
        if not (stat.is_dir or stat.is_regular):
            raise CliError(f'destination "{where}" must be a directory or a regular file')
        exists, is_dir = True, stat.is_dir
    except NotFound:
        pass  # the parent may still exist; the daemon will say if it does not
    if source == "-":
        if not is_dir:
            raise CliError(f'destination "{where}" must be a directory')
        counter = _ChunkReader(iter(lambda: sys.stdin.buffer.read(_CHUNK), b""))
        client.container_put_archive(
            container,
            dest_path,
            iter(lambda: counter.read(_CHUNK), b""),
            copy_uid_gid=copy_uid_gid,
        )
        return counter.count
    resolved, rebase, source_is_dir = _local_source(source, follow_link=follow_link)
    plan = plan_copy(
        source_path=resolved,
        source_is_dir=source_is_dir,
        dest_path=dest_path,
        dest_exists=exists,
        dest_is_dir=is_dir,
        rebase_name=rebase,
    )
    counted = [0]
    with _produced(lambda out: _write_source_tar(resolved, plan.top, out)) as stream:

        def chunks() -> Iterator[bytes]:
            while data := stream.read(_CHUNK):
                counted[0] += len(data)
                yield data

        client.container_put_archive(container, plan.directory, chunks(), copy_uid_gid=copy_uid_gid)
    return counted[0]


@docker_command(
    usage="[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t"
    f"{BIN} cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    help="Copy files/folders between a container and the local filesystem\n\n"
    "Use '-' as the source to read a tar archive from stdin\n"
    "and extract it to a directory destination in a container.\n"
    "Use '-' as the destination to stream a tar archive of a\n"
    "container source to stdout.",
    aliases=(f"{BIN} container cp", f"{BIN} cp"),
    min_args=2,
    max_args=2,
)
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Suppress progress output during copy. Progress output is automatically suppressed "
    "if no terminal is attached",
)
def cp_command(args: tuple[str, ...], archive: bool, follow_link: bool, quiet: bool) -> None:
    source_container, source = split_cp_arg(args[0])
    dest_container, dest = split_cp_arg(args[1])
    if not source:
        raise CliError("source can not be empty")
    if not dest:
        raise CliError("destination can not be empty")
    if source_container and dest_container:
        raise CliError("copying between containers is not supported")
    if not source_container and not dest_container:
        raise CliError("must specify at least one container source")
    client = state().client()
    try:
        if source_container:
            copied = copy_from_container(
                client, source_container, source, dest, follow_link=follow_link
            )
            where = dest
        else:
            copied = copy_to_container(
                client,
                dest_container,
                source,
                dest,
                follow_link=follow_link,
                copy_uid_gid=archive,
            )
            where = f"{dest_container}:{dest}"
    except DaemonError:
        raise
    except WharfError as exc:
        raise CliError(exc.message) from exc
    if not quiet and dest != "-" and sys.stderr.isatty():
        err(f"Successfully copied {human_size(copied)} to {where}")
