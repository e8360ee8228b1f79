"""BuildService: ``POST /build`` — a context tar in, an image out — and the build cache.

Layer L2. Imports: ``wharf.builder`` (the builder and the backend protocol it declares), the
image and container services, the stores. This module is the builder's backend:

- ``run`` creates, starts and waits a container through ``ContainerService`` — the very
  path of ``wharf run`` — over the step's parent image, then turns the container's upper
  dir into the step's layer. The layer's snapshot is that same directory, renamed into a
  committed snapshot (keyed by the new chainID): nothing is extracted again.
- ``workspace`` (COPY, ADD, WORKDIR) prepares a snapshot over the parent and mounts it;
  files are written there without a container, then committed the same way.
- Mount points the runtime or a ``RUN --mount`` created in the upper dir (``/etc/hosts``
  when the image has none, ``/run/secrets/<id>``, cache targets) are removed before the
  layer is written when they are empty and the lower layers do not have them, so they
  never reach an image (Docker keeps them in an init layer for the same reason).
- Cache rows (``metadata.buildcache``) name each step's manifest; they are GC roots.

Layout (data root)::

    buildcache/mounts/<hash of id>/   RUN --mount=type=cache directories, kept across builds
    buildcache/contexts/<random>/     a build's extracted context, removed when it ends

Snapshot keys ``build-ws-*`` and ``build-view-*`` are transient: the engine removes any a
crash left behind at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from wharf.apitypes.auth import RegistryAuth
from wharf.apitypes.build import BuildMessage, BuildOptions, BuildPruneReport
from wharf.apitypes.containers import ContainerConfig as WireConfig
from wharf.apitypes.containers import CreateRequest, HostConfig, MountRequest
from wharf.apitypes.diskusage import BuildCacheRecord, CacheRecordType
from wharf.apitypes.filters import Filters, until_unix
from wharf.archive.compression import open_compressor
from wharf.builder.backend import (
    CacheRecord,
    RunMountKind,
    RunNetwork,
    RunSpec,
    StepFailed,
    StepImage,
    Workspace,
)
from wharf.builder.build import Builder, BuildFailed
from wharf.builder.context.tree import extract_context
from wharf.content.store import Store
from wharf.engine import container_fs
from wharf.engine.containers import ContainerService
from wharf.engine.disk_usage import BLOB, LAYER, Holder, attribute, image_items, tree_usage
from wharf.engine.images import ImageService
from wharf.errdefs import EngineFailure, NotFound, WharfError
from wharf.images.resolve import ResolvedImage, resolve_image
from wharf.images.rootfs_import import write_document
from wharf.images.unpack import unpack_image
from wharf.metadata.buildcache import BuildCacheRecords, CacheRow
from wharf.oci import mediatypes
from wharf.oci.config import ImageConfig
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest, chain_id
from wharf.oci.manifest import Manifest
from wharf.oci.platform import Platform
from wharf.oci.reference import Reference, parse_normalized
from wharf.runtime.users import resolve_user
from wharf.snapshots.snapshotter import Snapshotter

log = logging.getLogger("wharf.engine.build")

TRANSIENT_SNAPSHOT_PREFIX = "build-"
STEP_LABEL = "io.wharf.build"  # on a RUN step's container
# Paths the runtime mounts into every container: never part of a step's layer when new.
_RUNTIME_MOUNT_POINTS = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/dev", "/proc", "/sys")


@dataclass
class _Workspace:
    """A step's writable rootfs: a snapshot (COPY) or a stopped container (RUN)."""

    snapshot_key: str
    mountpoint: Path | None
    container_id: str | None
    mount_targets: tuple[str, ...]
    parent: StepImage
    backend: EngineBuildBackend
    closed: bool = False

    @property
    def rootfs(self) -> Path:
        if self.mountpoint is None:
            raise EngineFailure("a RUN step's workspace has no mounted rootfs")
        return self.mountpoint

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.backend.discard(self)


class EngineBuildBackend:
    """The builder's backend over this engine's stores and services (one per build)."""

    def __init__(
        self,
        *,
        images: ImageService,
        containers: ContainerService,
        content: Store,
        snapshotter: Snapshotter,
        records: BuildCacheRecords,
        work_root: Path,
        cache_mounts: Path,
        platform: Platform,
        auth: RegistryAuth,
    ) -> None:
        self._images = images
        self._containers = containers
        self._content = content
        self._snapshotter = snapshotter
        self._records = records
        self._work_root = work_root
        self._cache_mounts = cache_mounts
        self._platform = platform
        self._auth = auth
        self._resolved: dict[str, ResolvedImage] = {}

    # ---------------------------------------------------------------- images

    def base_image(self, name: str, *, pull: bool, output: Callable[[str], None]) -> StepImage:
        resolved: ResolvedImage | None = None
        if not pull:
            with contextlib.suppress(NotFound):
                resolved = self._images.resolve(name)
        if resolved is None:
            reference = parse_normalized(name)
            output(f"Pulling {reference.familiar()}\n")
            try:
                self._pull(reference)
            except WharfError as exc:
                raise type(exc)(f"failed to pull {reference.familiar()}: {exc.message}") from exc
            resolved = self._images.resolve(name)
        unpack_image(self._content, self._snapshotter, resolved)
        return self._step_image(resolved)

    def _pull(self, reference: Reference) -> None:
        self._images.pull_image(
            str(reference.repository()) if reference.digest is None else str(reference),
            reference.tag or ("" if reference.digest else "latest"),
            platform="",
            auth=self._auth,
            progress=lambda message: None,
        )

    def _step_image(self, resolved: ResolvedImage) -> StepImage:
        digest = str(resolved.manifest_descriptor.digest)
        self._resolved[digest] = resolved
        return StepImage(manifest_digest=digest, image_id=resolved.image_id, config=resolved.config)

    def _resolve(self, image: StepImage) -> ResolvedImage | None:
        if image.manifest_digest is None:
            return None
        found = self._resolved.get(image.manifest_digest)
        if found is None:
            digest = Digest.parse(image.manifest_digest)
            info = self._content.info(digest)
            descriptor = Descriptor(
                media_type=mediatypes.OCI_MANIFEST, digest=digest, size=info.size
            )
            found = resolve_image(self._content, descriptor, self._platform)
            self._resolved[image.manifest_digest] = found
        return found

    def _top_key(self, image: StepImage) -> str | None:
        resolved = self._resolve(image)
        if resolved is None:
            return None
        unpack_image(self._content, self._snapshotter, resolved)
        top = resolved.top_chain_id()
        return top.hex if top else None

    @contextlib.contextmanager
    def mount_image(self, image: StepImage) -> Iterator[Path]:
        workspace = self.workspace(image, prefix="build-view-")
        try:
            yield workspace.rootfs
        finally:
            workspace.close()

    def workspace(self, parent: StepImage, *, prefix: str = "build-ws-") -> _Workspace:
        key = prefix + secrets.token_hex(8)
        mountpoint = self._work_root / key
        self._snapshotter.prepare(key, self._top_key(parent))
        try:
            mountpoint.mkdir(parents=True)
            self._snapshotter.mount(key, mountpoint)
        except BaseException:
            with contextlib.suppress(OSError):
                mountpoint.rmdir()
            self._snapshotter.remove(key)
            raise
        return _Workspace(key, mountpoint, None, (), parent, self)

    def discard(self, workspace: _Workspace) -> None:
        if workspace.mountpoint is not None:
            with contextlib.suppress(WharfError, OSError):
                self._snapshotter.unmount(workspace.mountpoint)
            with contextlib.suppress(OSError):
                workspace.mountpoint.rmdir()
        if workspace.container_id is not None:
            with contextlib.suppress(NotFound):
                self._containers.remove(workspace.container_id, force=True, volumes=True)
        elif self._snapshotter.exists(workspace.snapshot_key):
            self._snapshotter.remove(workspace.snapshot_key)

    # ---------------------------------------------------------------- RUN

    def run(self, parent: StepImage, spec: RunSpec, output: Callable[[bytes], None]) -> _Workspace:
        resolved = self._resolve(parent)
        if resolved is None:
            raise EngineFailure("RUN needs a base image with a shell; the stage is FROM scratch")
        unpack_image(self._content, self._snapshotter, resolved)
        mounts = tuple(
            MountRequest(type="bind", source=str(m.source), target=m.target, read_only=m.readonly)
            for m in spec.mounts
            if m.kind is RunMountKind.BIND
        )
        tmpfs = {m.target: "" for m in spec.mounts if m.kind is RunMountKind.TMPFS}
        request = CreateRequest(
            name="",
            config=WireConfig(
                image=resolved.image_id,
                user=spec.user,
                env=spec.env,
                cmd=spec.argv,
                entrypoint=(),
                working_dir=spec.workdir,
                labels={STEP_LABEL: "step"},
            ),
            host_config=HostConfig(
                mounts=mounts,
                tmpfs=tmpfs,
                network_mode={RunNetwork.NONE: "none", RunNetwork.HOST: "host"}.get(
                    spec.network, ""
                ),
                extra_hosts=spec.extra_hosts,
                shm_size=spec.shm_size,
                memory=spec.memory,
                cpu_shares=spec.cpu_shares,
            ),
        )
        created = self._containers.create(request, image=resolved)
        container_id = created.id
        workspace = _Workspace(
            container_id,
            None,
            container_id,
            tuple(m.target for m in spec.mounts),
            parent,
            self,
        )
        try:
            output(f" ---> Running in {container_id[:12]}\n".encode())
            waiter = self._containers.wait(container_id, "next-exit")
            self._containers.start(container_id)
            _, entries = self._containers.logs(
                container_id,
                stdout=True,
                stderr=True,
                follow=True,
                since_ns=None,
                until_ns=None,
                tail=None,
            )
            for entry in entries:
                output(entry.data)
            result = waiter.result()
            if result.status_code != 0:
                raise StepFailed(result.status_code)
        except BaseException:
            workspace.close()
            raise
        return workspace

    # ---------------------------------------------------------------- commit

    def commit(
        self, workspace: Workspace, config: ImageConfig, compression: mediatypes.Compression
    ) -> StepImage:
        if not isinstance(workspace, _Workspace):
            raise EngineFailure("a workspace from another backend")
        key = workspace.snapshot_key
        if workspace.mountpoint is not None:
            self._snapshotter.unmount(workspace.mountpoint)
            workspace.mountpoint.rmdir()
            workspace.mountpoint = None
        else:
            self._containers.release_rootfs(key)
        upper, lowers = self._layers(key)
        _drop_new_mount_points(upper, lowers, (*_RUNTIME_MOUNT_POINTS, *workspace.mount_targets))
        media_type = (
            mediatypes.OCI_LAYER_ZSTD
            if compression is mediatypes.Compression.ZSTD
            else mediatypes.OCI_LAYER_GZIP
        )
        writer = self._content.writer(f"build-{secrets.token_hex(8)}")
        try:
            compressor = open_compressor(_Sink(writer), compression)
            diff_id = container_fs.commit_diff(upper, compressor)
            compressor.close()
            size = writer.offset
            layer_digest = writer.commit()
        except BaseException:
            writer.abort()
            raise
        parent = self._resolve(workspace.parent)
        diff_ids = (*config.rootfs_diff_ids, diff_id)
        config = replace(config, rootfs_diff_ids=diff_ids)
        layers = (
            *(parent.manifest.layers if parent else ()),
            Descriptor(media_type=media_type, digest=layer_digest, size=size),
        )
        image = self._write_image(config, layers)
        chain = chain_id(list(diff_ids)).hex
        if self._snapshotter.exists(chain):
            pass  # another build made the same layer; this copy goes with the workspace
        else:
            self._snapshotter.commit(chain, key)
        workspace.close()
        return image

    def _layers(self, key: str) -> tuple[Path, list[Path]]:
        mount = self._snapshotter.mounts(key)[0]
        if mount.type == "bind":
            return Path(mount.source), []
        upper = Path()
        lowers: list[Path] = []
        for option in mount.options:
            name, _, value = option.partition("=")
            if name == "upperdir":
                upper = Path(value)
            elif name == "lowerdir":
                lowers = [Path(p) for p in value.split(":")]
        return upper, lowers

    def write_config(self, parent: StepImage, config: ImageConfig) -> StepImage:
        resolved = self._resolve(parent)
        return self._write_image(config, resolved.manifest.layers if resolved else ())

    def _write_image(self, config: ImageConfig, layers: tuple[Descriptor, ...]) -> StepImage:
        config_descriptor = write_document(self._content, config.to_bytes(), mediatypes.OCI_CONFIG)
        manifest = Manifest(
            config=config_descriptor, layers=layers, media_type=mediatypes.OCI_MANIFEST
        )
        descriptor = write_document(self._content, manifest.to_bytes(), mediatypes.OCI_MANIFEST)
        resolved = resolve_image(self._content, descriptor, self._platform)
        return self._step_image(resolved)

    # ---------------------------------------------------------------- misc

    def resolve_owner(self, rootfs: Path, spec: str) -> tuple[int, int]:
        user = resolve_user(rootfs, spec)
        return user.uid, user.gid

    def cache_mount_dir(self, cache_id: str) -> Path:
        name = hashlib.sha256(cache_id.encode()).hexdigest()[:32]
        path = self._cache_mounts / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def cache_lookup(self, key: str) -> StepImage | None:
        row = self._records.get(key)
        if row is None:
            return None
        if row.manifest_digest is None:
            return None
        try:
            image = StepImage(
                row.manifest_digest, row.image_id, ImageConfig(architecture="x", os="x")
            )
            resolved = self._resolve(image)
        except WharfError:
            self._records.delete([key])  # its blobs were collected: the row is stale
            return None
        assert resolved is not None
        return self._step_image(resolved)

    def cache_candidates(self, parent_id: str) -> list[CacheRecord]:
        return [
            CacheRecord(
                key=row.key,
                parent_id=row.parent_id,
                instruction=row.instruction,
                sources=row.sources,
                args=row.args,
            )
            for row in self._records.over(parent_id)
        ]

    def cache_store(self, record: CacheRecord, image: StepImage) -> None:
        resolved = self._resolve(image)
        now = time.time()
        self._records.put(
            CacheRow(
                key=record.key,
                parent_id=record.parent_id,
                instruction=record.instruction,
                sources=record.sources,
                args=record.args,
                manifest_digest=image.manifest_digest,
                media_type=mediatypes.OCI_MANIFEST,
                size=resolved.manifest_descriptor.size if resolved else 0,
                image_id=image.image_id,
                created_at=now,
                last_used=now,
            )
        )

    def tag(self, image: StepImage, tags: tuple[str, ...]) -> None:
        resolved = self._resolve(image)
        if resolved is None:
            raise EngineFailure("the build produced no image (only FROM scratch)")
        self._images.name_image(resolved.manifest_descriptor, tags)


class _Sink:
    def __init__(self, writer: object) -> None:
        self._writer = writer

    def write(self, data: bytes, /) -> int:
        self._writer.write(data)  # type: ignore[attr-defined]
        return len(data)


def _step_made(image: ResolvedImage) -> frozenset[str]:
    """The items a build step wrote: its manifest and config, and its layer unless the step
    only changed metadata (its history entry is an empty layer, the layer its parent's)."""
    made = {BLOB + str(image.manifest_descriptor.digest), BLOB + str(image.config_digest)}
    history = image.config.history
    top = image.top_chain_id()
    if top is not None and not (history and history[-1].empty_layer):
        made |= {BLOB + str(image.manifest.layers[-1].digest), LAYER + top.hex}
    return frozenset(made)


def _record_id(key: str) -> str:
    """A cache row's ID as ``df`` and ``builder prune`` show it (BuildKit's are 25 long)."""
    return key.removeprefix("sha256:")[:25]


def _tree_size(top: Path) -> int:
    total = 0
    for directory, _, files in os.walk(top):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _drop_new_mount_points(upper: Path, lowers: list[Path], targets: tuple[str, ...]) -> None:
    """Remove what exists in ``upper`` only because something was mounted there."""
    for target in sorted(set(targets), key=len, reverse=True):
        parts = [p for p in target.split("/") if p]
        while parts:
            relative = "/".join(parts)
            path = upper / relative
            if any(os.path.lexists(lower / relative) for lower in lowers):
                break
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                parts.pop()
                continue
            if stat.S_ISDIR(mode):
                try:
                    path.rmdir()  # only when empty
                except OSError:
                    break
            elif stat.S_ISREG(mode) and path.stat().st_size == 0:
                path.unlink()
            else:
                break
            parts.pop()


class BuildService:
    """What ``POST /build`` and ``POST /build/prune`` call."""

    def __init__(
        self,
        *,
        images: ImageService,
        containers: ContainerService,
        content: Store,
        snapshotter: Snapshotter,
        records: BuildCacheRecords,
        data_root: Path,
        exec_root: Path,
        platform: Platform,
    ) -> None:
        self._images = images
        self._containers = containers
        self._content = content
        self._snapshotter = snapshotter
        self._records = records
        self._contexts = data_root / "buildcache" / "contexts"
        self._cache_mounts = data_root / "buildcache" / "mounts"
        self._work_root = exec_root / "build"
        self._platform = platform

    def recover(self) -> None:
        """At start: step containers, contexts and views a crash left are garbage (the steps
        it committed are in the cache and stay)."""
        steps = Filters.parse(json.dumps({"label": [f"{STEP_LABEL}=step"]}))
        for summary in self._containers.list(all=True, filters=steps):
            with contextlib.suppress(WharfError):
                self._containers.remove(summary.id, force=True, volumes=True)
                log.info("removed container %s of an interrupted build", summary.id[:12])
        shutil.rmtree(self._contexts, ignore_errors=True)
        if self._work_root.is_dir():
            for entry in self._work_root.iterdir():
                if os.path.ismount(entry):
                    with contextlib.suppress(WharfError):
                        self._snapshotter.unmount(entry)
                with contextlib.suppress(OSError):
                    entry.rmdir()

    def build(
        self,
        options: BuildOptions,
        context: BinaryIO,
        emit: Callable[[BuildMessage], None],
        auth: RegistryAuth | None = None,
    ) -> str:
        self._contexts.mkdir(parents=True, exist_ok=True)
        context_dir = Path(tempfile.mkdtemp(prefix="ctx-", dir=self._contexts))
        try:
            extract_context(context, context_dir)
            backend = EngineBuildBackend(
                images=self._images,
                containers=self._containers,
                content=self._content,
                snapshotter=self._snapshotter,
                records=self._records,
                work_root=self._work_root,
                cache_mounts=self._cache_mounts,
                platform=self._platform,
                auth=auth or RegistryAuth(),
            )
            with self._images.writing_unnamed_content():
                try:
                    return Builder(backend, platform=self._platform).build(
                        options, context_dir, emit
                    )
                except BuildFailed as failure:
                    emit(BuildMessage(error=failure.message, error_code=failure.code))
                    return ""
        finally:
            # The client need not wait for thousands of unlinks: the context goes in the
            # background (and a crash leaves it to recover(), which empties contexts/).
            threading.Thread(
                target=shutil.rmtree, args=(context_dir, True), name="drop-context", daemon=True
            ).start()

    def cache_roots(self) -> list[Descriptor]:
        return [
            Descriptor(
                media_type=row.media_type, digest=Digest.parse(row.manifest_digest), size=row.size
            )
            for row in self._records.list()
            if row.manifest_digest
        ]

    def cache_usage(self) -> list[BuildCacheRecord]:
        """``system df``: one record per cached step and per ``RUN --mount=type=cache``
        directory. Each blob and layer the steps reach is counted once, for the shallowest
        step that has it; a step whose bytes all belong to images too is ``shared``. So the
        unshared records add up to what only the cache keeps, what ``builder prune -a``
        would free."""
        rows = self._records.list()
        blob_sizes = {blob.digest: blob.size for blob in self._content.walk()}
        holders = []
        for row in rows:
            items: dict[str, int] = {}
            depth = 0
            introduces: frozenset[str] = frozenset()
            if row.manifest_digest:
                descriptor = Descriptor(
                    media_type=row.media_type,
                    digest=Digest.parse(row.manifest_digest),
                    size=row.size,
                )
                try:
                    resolved = resolve_image(self._content, descriptor, self._platform)
                    chains = resolved.chain_ids()
                    items = image_items(
                        self._content,
                        descriptor,
                        chains,
                        blob_sizes=blob_sizes,
                        layer_size=self._layer_usage,
                    )
                    depth = len(chains)
                    introduces = _step_made(resolved)
                except WharfError:
                    pass  # collected under it: the next lookup drops the row
            holders.append(Holder(row.key, depth, items, introduces))
        attributed = attribute(holders, self._images.held_items())
        record_of_image = {row.image_id: _record_id(row.key) for row in rows}
        records = [
            BuildCacheRecord(
                id=_record_id(row.key),
                type=CacheRecordType.REGULAR,
                description=row.instruction,
                size=attributed[row.key].size,
                shared=attributed[row.key].shared,
                created_at=row.created_at,
                last_used_at=row.last_used,
                parents=(
                    (record_of_image[row.parent_id],) if row.parent_id in record_of_image else ()
                ),
            )
            for row in rows
        ]
        return records + self._cache_mount_usage()

    def _layer_usage(self, chain: Digest) -> int:
        try:
            return self._snapshotter.usage(chain.hex)
        except WharfError:
            return 0

    def _cache_mount_usage(self) -> list[BuildCacheRecord]:
        records = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self._cache_mounts):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                records.append(
                    BuildCacheRecord(
                        id=entry.name[:25],
                        type=CacheRecordType.CACHE_MOUNT,
                        description="cache mount of RUN --mount=type=cache",
                        size=tree_usage(Path(entry.path)),
                        created_at=info.st_ctime,
                        last_used_at=info.st_mtime,
                    )
                )
        return records

    def prune_cache(self, *, all: bool, filters: Filters, keep_storage: int) -> BuildPruneReport:
        rows = self._records.list()
        until = filters.get("until")
        doomed = []
        now = time.time()
        for row in rows:
            if until and row.last_used > until_unix(until[0], now):
                continue  # used more recently than the cut-off: kept
            doomed.append(row)
        tagged = self._images.named_manifests()
        if not all:
            # Without --all, steps that a named image is made of stay (docker keeps those too).
            doomed = [row for row in doomed if row.manifest_digest not in tagged]
        before = self._content_usage()
        self._records.delete([row.key for row in doomed])
        deleted = [_record_id(row.key) for row in doomed]
        if all and not filters.get("until"):
            # RUN --mount=type=cache directories belong to no step: only --all empties them.
            deleted += [record.id for record in self._cache_mount_usage()]
            before += _tree_size(self._cache_mounts)
            shutil.rmtree(self._cache_mounts, ignore_errors=True)
        self._images.collect_garbage()
        reclaimed = max(0, before - self._content_usage())
        return BuildPruneReport(caches_deleted=tuple(deleted), space_reclaimed=reclaimed)

    def _content_usage(self) -> int:
        total = sum(blob.size for blob in self._content.walk())
        for info in self._snapshotter.walk():
            with contextlib.suppress(WharfError):
                total += self._snapshotter.usage(info.key)
        return total
