"""The image service: names, listing, inspection, tagging, removal, prune, save/load, import.

Names live in metadata (``ImageNames``); content in the content store; unpacked layers in the
snapshotter. This service keeps the three consistent:

- a name is recorded only after every blob it reaches is committed and every layer unpacked;
- an image that loses its last name (``tag``/``import``/``load`` moving a name away) stays as a
  *dangling* record ``<none>@<target digest>`` until pruned, as Docker's ``<none>:<none>``;
- blobs and snapshots no name reaches are garbage: collected after removals, deferred while
  an import or load is writing unnamed content, and at every start.

Image IDs shown to users are config digests. Lookups accept a reference, a full ID or a unique
ID prefix, as Docker's do.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from fnmatch import fnmatch
from typing import BinaryIO

from wharf.apitypes.filters import Filters, until_unix
from wharf.apitypes.images import (
    DeleteItem,
    HistoryItem,
    ImageInspect,
    ImageSummary,
    PruneReport,
)
from wharf.content.store import Store
from wharf.engine.disk_usage import image_items, item_keys, share_sizes
from wharf.engine.image_distribution import ImageDistribution
from wharf.errdefs import Conflict, InvalidArgument, NotFound, WharfError
from wharf.events.model import Publish, no_publish
from wharf.images.archive_format import SavedImage, load_archive, save_images
from wharf.images.changes import apply_changes, parse_changes
from wharf.images.commit import commit_image
from wharf.images.gc import collect_garbage
from wharf.images.leases import Leases
from wharf.images.resolve import ResolvedImage, resolve_image
from wharf.images.rootfs_import import import_rootfs
from wharf.images.unpack import unpack_image
from wharf.metadata.images import ImageNames, ImageRecord
from wharf.oci.config import ContainerConfig as OciContainerConfig
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.platform import Platform
from wharf.oci.reference import Reference, parse_normalized, parse_repository_and_tag
from wharf.remotes.settings import RegistrySettings
from wharf.snapshots.snapshotter import Snapshotter

log = logging.getLogger("wharf.engine.images")

DANGLING_PREFIX = "<none>@"
_ID_PREFIX = re.compile(r"^(sha256:)?([0-9a-f]{1,64})$")
_IMAGE_FILTERS = ("dangling", "reference", "label", "before", "since")


@dataclass(frozen=True, slots=True)
class _Image:
    """An image as the service sees it: one target, every record naming it, resolved."""

    target: Digest
    records: tuple[ImageRecord, ...]
    resolved: ResolvedImage

    @property
    def id(self) -> str:
        return self.resolved.image_id

    @property
    def references(self) -> list[Reference]:
        return [
            parse_normalized(r.name) for r in self.records if not r.name.startswith(DANGLING_PREFIX)
        ]

    @property
    def dangling(self) -> bool:
        return not self.references

    @property
    def updated_at(self) -> float:
        return max(r.updated_at for r in self.records)


def _descriptor_of(record: ImageRecord) -> Descriptor:
    return Descriptor(media_type=record.media_type, digest=record.digest, size=record.size)


def _created_unix(created: str | None) -> int:
    if not created:
        return 0
    text = created.replace("Z", "+00:00")
    # Python's parser takes at most microseconds; Go writes nanoseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return int(datetime.fromisoformat(text).timestamp())
    except ValueError:
        return 0


class ImageService(ImageDistribution):
    def __init__(
        self,
        *,
        content: Store,
        names: ImageNames,
        snapshotter: Snapshotter,
        platform: Platform,
        containers_using: Callable[[str], list[str]] = lambda image_id: [],
        leases: Leases | None = None,
        registries: RegistrySettings | None = None,
        extra_roots: Callable[[], list[Descriptor]] = lambda: [],
        publish: Publish = no_publish,
    ) -> None:
        self._publish_event = publish
        self._extra_roots = extra_roots
        self._leases = leases
        self._registries = registries or RegistrySettings()
        self._content = content
        self._names = names
        self._snapshotter = snapshotter
        self._platform = platform
        self._containers_using = containers_using
        self._lock = threading.RLock()
        self._resolved: dict[Digest, ResolvedImage] = {}
        self._layer_sizes: dict[str, int] = {}
        self._writers_in_flight = 0
        self._gc_deferred = False

    # ------------------------------------------------------------------------ lookups

    def _resolve(self, record: ImageRecord) -> ResolvedImage:
        cached = self._resolved.get(record.digest)
        if cached is None:
            cached = resolve_image(self._content, _descriptor_of(record), self._platform)
            self._resolved[record.digest] = cached
        return cached

    def _all_images(self) -> list[_Image]:
        by_target: dict[Digest, list[ImageRecord]] = {}
        for record in self._names.list():
            by_target.setdefault(record.digest, []).append(record)
        images = []
        for target, records in by_target.items():
            try:
                resolved = self._resolve(records[0])
            except WharfError as exc:
                log.warning("image %s is unreadable, skipped: %s", target, exc.message)
                continue
            images.append(_Image(target, tuple(records), resolved))
        return images

    def _find(self, text: str) -> tuple[_Image, Reference | None]:
        """The image ``text`` names, and the reference used if it was one (not an ID)."""
        reference: Reference | None = None
        parse_error: WharfError | None = None
        try:
            reference = parse_normalized(text)
        except WharfError as exc:
            parse_error = exc
        if reference is not None and reference.digest is None:
            found = self._find_by_name(str(reference.with_default_tag()))
            if found is not None:
                return found
        images = self._all_images()
        if reference is not None:
            wanted = str(reference.with_default_tag()) if reference.digest is None else None
            for image in images:
                for ref in image.references:
                    if wanted is not None and str(ref) == wanted:
                        return image, ref
                    if (
                        reference.digest is not None
                        and reference.name == ref.name
                        and (
                            reference.digest
                            in (image.target, image.resolved.manifest_descriptor.digest)
                        )
                    ):
                        return image, ref
        id_match = _ID_PREFIX.match(text)
        if id_match is not None:
            prefix = id_match.group(2)
            matches = [
                image for image in images if image.resolved.config_digest.hex.startswith(prefix)
            ]
            unique = {image.id for image in matches}
            if len(unique) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {text}")
            if matches:
                return matches[0], None
        if parse_error is not None and id_match is None:
            raise parse_error
        raise NotFound(f"No such image: {text}")

    def _find_by_name(self, name: str) -> tuple[_Image, Reference] | None:
        """A tag's image by index, without listing every name (each container create and
        ``run`` looks one up); None sends the caller to the full search."""
        try:
            record = self._names.get(name)
            records = tuple(self._names.by_digest(record.digest))
            return _Image(record.digest, records, self._resolve(records[0])), parse_normalized(name)
        except WharfError:
            return None

    def count(self) -> int:
        return len({image.id for image in self._all_images()})

    def resolve(self, text: str) -> ResolvedImage:
        """For other services (containers): what ``text`` names, unpacked and ready to mount."""
        image, _ = self._find(text)
        return image.resolved

    # ------------------------------------------------------------------------ views

    def _layer_size(self, chain: Digest) -> int:
        size = self._layer_sizes.get(chain.hex)
        if size is None:
            try:
                size = self._snapshotter.usage(chain.hex)
            except WharfError:
                size = 0
            self._layer_sizes[chain.hex] = size
        return size

    def _size(self, image: _Image) -> int:
        return sum(self._layer_size(chain) for chain in image.resolved.chain_ids())

    def _summary(self, image: _Image) -> ImageSummary:
        references = image.references
        config = image.resolved.config
        return ImageSummary(
            id=image.id,
            parent_id="",
            repo_tags=tuple(r.familiar() for r in references if r.tag is not None),
            repo_digests=tuple(
                f"{r.familiar_name}@{r.digest}" for r in references if r.digest is not None
            ),
            created=_created_unix(config.created),
            size=self._size(image),
            shared_size=-1,
            labels=tuple(sorted(config.config.labels.items())),
            containers=len(self._containers_using(image.id)),
        )

    def list_images(self, *, include_intermediate: bool, filters: Filters) -> list[ImageSummary]:
        filters.check_keys(_IMAGE_FILTERS)
        images = self._all_images()
        selected = [image for image in images if self._matches(image, filters, images)]
        selected.sort(key=lambda image: _created_unix(image.resolved.config.created), reverse=True)
        patterns = filters.get("reference")
        summaries = [self._summary(image) for image in selected]
        if patterns:
            # As dockerd: an image matched by reference lists only its matching names.
            summaries = [
                replace(
                    summary,
                    repo_tags=tuple(
                        t for t in summary.repo_tags if _reference_matches(t, patterns)
                    ),
                    repo_digests=tuple(
                        d for d in summary.repo_digests if _reference_matches(d, patterns)
                    ),
                )
                for summary in summaries
            ]
        return summaries

    def sizes_by_id(self) -> dict[str, int]:
        """Each image's unpacked size by ID (a container's ``SizeRootFs`` adds its own)."""
        return {image.id: self._size(image) for image in self._all_images()}

    def disk_usage(self) -> tuple[int, list[ImageSummary]]:
        """``system df``: every image, its ``Size`` what it holds on disk (blobs and unpacked
        layers) and ``SharedSize`` the part other images hold too; and the bytes of all
        images' blobs and layers, each counted once."""
        images = self._all_images()
        blob_sizes = {blob.digest: blob.size for blob in self._content.walk()}
        holdings = {
            str(image.target): image_items(
                self._content,
                _descriptor_of(image.records[0]),
                image.resolved.chain_ids(),
                blob_sizes=blob_sizes,
                layer_size=self._layer_size,
            )
            for image in images
        }
        layers_size, shares = share_sizes(holdings)
        images.sort(key=lambda image: _created_unix(image.resolved.config.created), reverse=True)
        summaries = []
        for image in images:
            share = shares[str(image.target)]
            summaries.append(
                replace(self._summary(image), size=share.size, shared_size=share.shared_size)
            )
        return layers_size, summaries

    def held_items(self) -> set[str]:
        """The blobs and layers images (and pulls under way) hold, as ``disk_usage`` names
        them: what the build cache shares with images rather than keeps alone."""
        roots = [_descriptor_of(record) for record in self._names.list()]
        if self._leases is not None:
            roots += self._leases.targets()
        held: set[str] = set()
        for root in roots:
            try:
                chains = resolve_image(self._content, root, self._platform).chain_ids()
                held |= item_keys(self._content, root, chains)
            except WharfError:
                continue  # a pull still writing it: whatever it has is not the cache's
        return held

    def _matches(self, image: _Image, filters: Filters, images: list[_Image]) -> bool:
        for value in filters.get("dangling"):
            if value not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter 'dangling={value}'")
            if image.dangling != (value in ("true", "1")):
                return False
        patterns = filters.get("reference")
        if patterns and not any(
            fnmatch(ref.familiar(), pattern) or fnmatch(ref.familiar_name, pattern)
            for ref in image.references
            for pattern in patterns
        ):
            return False
        labels = image.resolved.config.config.labels
        for wanted in filters.get("label"):
            key, has_value, value = wanted.partition("=")
            if key not in labels or (has_value and labels[key] != value):
                return False
        created = _created_unix(image.resolved.config.created)
        for key, older in (("before", True), ("since", False)):
            for name in filters.get(key):
                pivot, _ = self._find(name)
                pivot_created = _created_unix(pivot.resolved.config.created)
                if (older and created >= pivot_created) or (not older and created <= pivot_created):
                    return False
        return True

    def inspect_image(self, name: str) -> ImageInspect:
        image, _ = self._find(name)
        resolved = image.resolved
        config = resolved.config
        references = image.references
        top = resolved.top_chain_id()
        graph: tuple[tuple[str, str], ...] = ()
        if top is not None:
            graph = (("MergedDir", ""), ("UpperDir", ""), ("snapshot", top.hex))
        history = config.history
        comment = history[-1].comment if history else ""
        raw_container_config = resolved.raw_config.get("config")
        manifest = resolved.manifest_descriptor
        return ImageInspect(
            id=image.id,
            repo_tags=tuple(r.familiar() for r in references if r.tag is not None),
            repo_digests=tuple(
                f"{r.familiar_name}@{r.digest}" for r in references if r.digest is not None
            ),
            parent="",
            comment=comment or "",
            created=config.created or "",
            author=config.author or "",
            config=raw_container_config if isinstance(raw_container_config, dict) else {},
            architecture=config.architecture,
            variant=config.variant or "",
            os=config.os,
            size=self._size(image),
            layers=tuple(str(d) for d in config.rootfs_diff_ids),
            graph_driver_data=graph,
            last_tag_time=datetime.fromtimestamp(image.updated_at).astimezone().isoformat(),
            descriptor={
                "mediaType": manifest.media_type,
                "digest": str(manifest.digest),
                "size": manifest.size,
            },
        )

    def image_history(self, name: str) -> list[HistoryItem]:
        image, _ = self._find(name)
        resolved = image.resolved
        chains = resolved.chain_ids()
        tags = tuple(r.familiar() for r in image.references if r.tag is not None)
        items: list[HistoryItem] = []
        layer_index = 0
        entries = resolved.config.history or ()
        for entry in entries:
            size = 0
            if not entry.empty_layer and layer_index < len(chains):
                size = self._layer_size(chains[layer_index])
                layer_index += 1
            items.append(
                HistoryItem(
                    id="<missing>",
                    created=_created_unix(entry.created),
                    created_by=entry.created_by or "",
                    tags=(),
                    size=size,
                    comment=entry.comment or "",
                )
            )
        if not items:
            items.append(
                HistoryItem(
                    id="<missing>",
                    created=_created_unix(resolved.config.created),
                    created_by="",
                    tags=(),
                    size=self._size(image),
                    comment="",
                )
            )
        items.reverse()
        items[0] = replace(items[0], id=image.id, tags=tags)
        return items

    # ------------------------------------------------------------------------ names

    def _record_name(self, reference: Reference, target: Descriptor) -> None:
        """Point ``reference`` at ``target``; whatever it pointed at may become dangling."""
        now = time.time()
        name = str(reference)
        try:
            previous = self._names.get(name)
        except NotFound:
            previous = None
        created = previous.created_at if previous is not None else now
        self._names.put(
            ImageRecord(
                name=name,
                media_type=target.media_type,
                digest=target.digest,
                size=target.size,
                created_at=created,
                updated_at=now,
                labels={},
            )
        )
        self._drop_dangling(target.digest)
        if previous is not None and previous.digest != target.digest:
            self._mark_dangling_if_unnamed(previous)

    def _drop_dangling(self, target: Digest) -> None:
        with contextlib.suppress(NotFound):
            self._names.delete(f"{DANGLING_PREFIX}{target}")

    def _mark_dangling_if_unnamed(self, old: ImageRecord) -> None:
        if self._names.by_digest(old.digest):
            return
        now = time.time()
        self._names.put(
            replace(old, name=f"{DANGLING_PREFIX}{old.digest}", created_at=now, updated_at=now)
        )

    def tag_image(self, source: str, repository: str, tag: str | None) -> None:
        target_ref = parse_repository_and_tag(repository, tag).with_default_tag()
        with self._lock:
            image, _ = self._find(source)
            record = image.records[0]
            self._record_name(target_ref, _descriptor_of(record))
            self._image_event(
                "tag", image.id, target_ref.familiar(), image.resolved.config.config.labels
            )

    def remove_image(self, name: str, *, force: bool, prune_parents: bool) -> list[DeleteItem]:
        with self._lock:
            image, reference = self._find(name)
            named = [r for r in image.records if not r.name.startswith(DANGLING_PREFIX)]
            # Digest references (name@sha256:...) ride along with the tags, as in Docker:
            # removing the last tag removes them and the image.
            tagged = [r for r in named if parse_normalized(r.name).tag is not None]
            others = tagged if reference is not None and reference.tag is not None else named
            if reference is not None and len(others) > 1:
                self._names.delete(str(reference))
                untagged = [DeleteItem(untagged=_untag_label(reference))]
                self._removal_events(untagged, image.id)
                return untagged
            if reference is None and len(tagged) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {image.resolved.config_digest.hex[:12]} "
                    "(must be forced) - image is referenced in multiple repositories"
                )
            users = self._containers_using(image.id)
            if users and not force:
                label = reference.familiar() if reference is not None else image.id[7:19]
                raise Conflict(
                    f'conflict: unable to remove repository reference "{label}" '
                    f"(must force) - container {users[0][:12]} is using its referenced image "
                    f"{image.resolved.config_digest.hex[:12]}"
                )
            items: list[DeleteItem] = []
            for record in image.records:
                self._names.delete(record.name)
                if not record.name.startswith(DANGLING_PREFIX):
                    items.append(DeleteItem(untagged=_untag_label(parse_normalized(record.name))))
            if users:
                # A container still runs from it: keep the image, nameless, as Docker does.
                self._record_dangling(_descriptor_of(image.records[0]))
            else:
                items.append(DeleteItem(deleted=image.id))
            self._collect_garbage_locked()
            self._removal_events(items, image.id)
            return items

    def prune_images(self, *, filters: Filters) -> PruneReport:
        filters.check_keys(("dangling", "label", "until"))
        only_dangling = filters.get("dangling") in ((), ("true",), ("1",))
        now = time.time()
        until = [until_unix(value, now) for value in filters.get("until")]
        with self._lock:
            before = self._disk_usage()
            deleted: list[DeleteItem] = []
            for image in self._all_images():
                if only_dangling and not image.dangling:
                    continue
                created = _created_unix(image.resolved.config.created)
                if any(created >= limit for limit in until):
                    continue
                if self._containers_using(image.id):
                    continue
                if not self._matches(
                    image, Filters(tuple((k, v) for k, v in filters.entries if k == "label")), []
                ):
                    continue
                for record in image.records:
                    self._names.delete(record.name)
                    if not record.name.startswith(DANGLING_PREFIX):
                        deleted.append(
                            DeleteItem(untagged=_untag_label(parse_normalized(record.name)))
                        )
                deleted.append(DeleteItem(deleted=image.id))
            self._collect_garbage_locked()
            self._removal_events(deleted)
            return PruneReport(
                deleted=tuple(deleted), space_reclaimed=max(0, before - self._disk_usage())
            )

    def _removal_events(self, items: list[DeleteItem], image_id: str = "") -> None:
        """``untag`` and ``delete`` events for a removal's report, in its order: each image's
        untagged names come before its ``Deleted`` entry (a prune lists several images);
        names untagged from an image that stays (``image_id``) have no such entry."""
        untagged: list[str] = []
        for item in items:
            if item.untagged:
                untagged.append(item.untagged)
            elif item.deleted:
                for name in untagged:
                    self._image_event("untag", item.deleted, name)
                untagged.clear()
                self._image_event("delete", item.deleted, item.deleted)
        for name in untagged:
            self._image_event("untag", image_id, name)

    def _disk_usage(self) -> int:
        return self._content.usage() + sum(self._layer_sizes.values())

    # ------------------------------------------------------------------------ archives

    def save_images(self, names: list[str], out: BinaryIO) -> None:
        saved: dict[Digest, SavedImage] = {}
        for name in names:
            image, reference = self._find(name)
            references: tuple[Reference, ...] = (reference,) if reference is not None else ()
            previous = saved.get(image.target)
            if previous is not None:
                references = previous.names + tuple(
                    r for r in references if r not in previous.names
                )
            saved[image.target] = SavedImage(names=references, image=image.resolved)
        save_images(self._content, list(saved.values()), out)
        for each in saved.values():
            self._image_event("save", each.image.image_id, each.image.image_id)

    def set_extra_roots(self, roots: Callable[[], list[Descriptor]]) -> None:
        """Other owners of images without names (the build cache) that GC must keep."""
        self._extra_roots = roots

    def name_image(self, target: Descriptor, tags: tuple[str, ...]) -> None:
        """Give a built image its tags, or record it dangling when it has none."""
        references = [parse_normalized(tag).with_default_tag() for tag in tags]
        with self._lock, self._names.transaction():
            if not references:
                self._record_dangling(target)
            for reference in references:
                self._record_name(reference, target)
        if references:
            image_id = resolve_image(self._content, target, self._platform).image_id
            for reference in references:
                self._image_event("tag", image_id, reference.familiar())

    def named_manifests(self) -> set[str]:
        return {str(record.digest) for record in self._names.list()}

    def writing_unnamed_content(self) -> contextlib.AbstractContextManager[None]:
        return self._writing_unnamed_content()

    @contextmanager
    def _writing_unnamed_content(self) -> Iterator[None]:
        """While unnamed blobs are being written, collection waits (they look like garbage)."""
        with self._lock:
            self._writers_in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._writers_in_flight -= 1
                if self._writers_in_flight == 0 and self._gc_deferred:
                    self._collect_garbage_locked()

    def load_images(self, archive: BinaryIO) -> list[str]:
        with self._writing_unnamed_content():
            loaded = load_archive(self._content, archive)
            prepared = []
            for image in loaded:
                resolved = resolve_image(self._content, image.manifest, self._platform)
                unpack_image(self._content, self._snapshotter, resolved)
                prepared.append((image, resolved))
            reports: list[str] = []
            with self._lock, self._names.transaction():
                for image, resolved in prepared:
                    if not image.names:
                        self._record_dangling(image.manifest)
                        reports.append(resolved.image_id)
                    for reference in image.names:
                        self._record_name(reference, image.manifest)
                        reports.append(reference.familiar())
            for image, resolved in prepared:
                for name in [r.familiar() for r in image.names] or [resolved.image_id]:
                    self._image_event("load", resolved.image_id, name)
            return reports

    def _record_dangling(self, target: Descriptor) -> None:
        if self._names.by_digest(target.digest):
            return
        now = time.time()
        self._names.put(
            ImageRecord(
                name=f"{DANGLING_PREFIX}{target.digest}",
                media_type=target.media_type,
                digest=target.digest,
                size=target.size,
                created_at=now,
                updated_at=now,
                labels={},
            )
        )

    def import_image(
        self, rootfs: BinaryIO, *, repository: str, tag: str, changes: list[str], message: str
    ) -> str:
        reference = (
            parse_repository_and_tag(repository, tag or None).with_default_tag()
            if repository
            else None
        )
        parsed_changes = parse_changes(changes)
        with self._writing_unnamed_content():
            manifest = import_rootfs(
                rootfs,
                content=self._content,
                snapshotter=self._snapshotter,
                platform=self._platform,
                configure=lambda config: apply_changes(config, parsed_changes),
                comment=message or "Imported from -",
            )
            resolved = resolve_image(self._content, manifest, self._platform)
            with self._lock, self._names.transaction():
                if reference is None:
                    self._record_dangling(manifest)
                else:
                    self._record_name(reference, manifest)
            if reference is not None:
                self._image_event("tag", resolved.image_id, reference.familiar())
            self._image_event("import", resolved.image_id, resolved.image_id)
            return resolved.image_id

    def commit(
        self,
        *,
        parent_image_id: str,
        write_diff: Callable[[BinaryIO], Digest],
        config: OciContainerConfig,
        changes: list[str],
        repository: str,
        tag: str,
        author: str,
        comment: str,
        created_by: str,
    ) -> str:
        """A new image from a container's changes over its image; returns the image ID."""
        reference = parse_repository_and_tag(repository, tag or None) if repository else None
        config = apply_changes(config, parse_changes(changes))
        parent = self.resolve(parent_image_id)
        with self._writing_unnamed_content():
            manifest = commit_image(
                self._content,
                self._snapshotter,
                parent=parent,
                write_diff=write_diff,
                config=config,
                author=author,
                comment=comment,
                created_by=created_by,
                platform=self._platform,
            )
            resolved = resolve_image(self._content, manifest, self._platform)
            with self._lock, self._names.transaction():
                if reference is None:
                    self._record_dangling(manifest)
                else:
                    self._record_name(reference.with_default_tag(), manifest)
            if reference is not None:
                self._image_event("tag", resolved.image_id, reference.with_default_tag().familiar())
            return resolved.image_id

    # ------------------------------------------------------------------------ garbage

    def collect_garbage(self) -> None:
        with self._lock:
            self._collect_garbage_locked()

    def _collect_garbage_locked(self) -> None:
        if self._writers_in_flight:
            self._gc_deferred = True
            return
        self._gc_deferred = False
        roots = [_descriptor_of(record) for record in self._names.list()]
        if self._leases is not None:
            roots += self._leases.targets()
        roots += self._extra_roots()
        collect_garbage(self._content, self._snapshotter, roots, self._platform)
        live = {chain.hex for image in self._all_images() for chain in image.resolved.chain_ids()}
        self._layer_sizes = {k: v for k, v in self._layer_sizes.items() if k in live}


def _untag_label(reference: Reference) -> str:
    return reference.familiar()


def _reference_matches(name: str, patterns: tuple[str, ...]) -> bool:
    repository = (
        name.split("@")[0].rsplit(":", 1)[0] if ":" in name.split("/")[-1] else (name.split("@")[0])
    )
    return any(fnmatch(name, p) or fnmatch(repository, p) for p in patterns)
