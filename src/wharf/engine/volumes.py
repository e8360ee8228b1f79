"""The volume service: ``docker volume create/ls/inspect/rm/prune`` and what containers need
from volumes (create on demand, copy-up of image content, mounts of volumes with options).

Records live in metadata (``VolumeRecords``), files in the local driver (``LocalVolumes``);
this service keeps the two in step:

- create: the directory first, then the record (a crash between leaves a directory without a
  record, which ``restore`` adopts as a named volume, as Docker's local driver adopts what it
  finds on disk); creating an existing name returns it unchanged, as Docker does;
- remove: the files first, then the record (``force`` drops the record even when the files
  cannot be removed, Docker's "purge on error", and ignores a missing volume);
- a volume referenced by any container (``in_use``, given by the container service) is never
  removed; ``locked()`` lets the container service reserve volumes and record the container
  that uses them atomically with respect to ``rm`` and ``prune``.

Anonymous volumes (no name given: containers' ``-v /data``, image ``VOLUME``s, a bare
``docker volume create``) get 64 random hex digits and the label
``com.docker.volume.anonymous``; ``prune`` removes only those unless ``all=true``
(API >= 1.42; the router adds it for older clients, whose prune removed every unused volume).
Volumes with mount options are never pruned or measured, as in Docker (their data is not
local).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from wharf.apitypes.filters import Filters
from wharf.apitypes.volumes import (
    ANONYMOUS_LABEL,
    DEFAULT_DRIVER,
    Volume,
    VolumeList,
    VolumePruneReport,
    VolumeUsage,
)
from wharf.engine.container_fs import ContainerPathNotFound, archive_path, extract_to, stat_path
from wharf.errdefs import Conflict, InvalidArgument, NotFound, WharfError
from wharf.events.model import EventType, Publish, no_publish
from wharf.metadata.volumes import VolumeRecord, VolumeRecords
from wharf.volumes.local import LocalVolumes, MountOptions, random_name, validate_name

log = logging.getLogger("wharf.engine.volumes")

_LIST_FILTERS = ("dangling", "name", "driver", "label")
_PRUNE_FILTERS = ("label", "label!", "all")
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _nobody(name: str) -> list[str]:
    return []


class VolumeService:
    """Volumes of the ``local`` driver.

    ``in_use(name)`` lists the IDs of the containers (in any state) that reference a volume.
    """

    def __init__(
        self,
        records: VolumeRecords,
        local: LocalVolumes,
        in_use: Callable[[str], list[str]] = _nobody,
        *,
        clock: Callable[[], float] = time.time,
        publish: Publish = no_publish,
    ) -> None:
        self._publish_event = publish
        self._records = records
        self._local = local
        self._in_use = in_use
        self._clock = clock
        self._lock = threading.RLock()
        self._mount_refs: dict[str, set[str]] = {}
        self._populating: dict[str, threading.Lock] = {}
        self._pruning = False

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold off ``rm`` and ``prune`` while a caller makes a volume and records its user."""
        with self._lock:
            yield

    # ------------------------------------------------------------------ Engine API

    def create_volume(
        self,
        name: str | None = None,
        *,
        driver: str = DEFAULT_DRIVER,
        labels: Mapping[str, str] | None = None,
        driver_opts: Mapping[str, str] | None = None,
    ) -> Volume:
        """Create a volume, or return the existing one of that name unchanged."""
        wanted_labels = dict(labels or {})
        if name is None:
            name = random_name()
            wanted_labels[ANONYMOUS_LABEL] = ""
        driver = driver or DEFAULT_DRIVER
        try:
            validate_name(name)
        except InvalidArgument as exc:
            raise InvalidArgument(f"create {name}: {exc}") from exc
        with self._lock:
            existing = self._records.find(name)
            if existing is not None:
                if existing.driver != driver:
                    raise Conflict(
                        f"create {name}: volume name must be unique:"
                        f" driver '{existing.driver}' already has volume '{name}'"
                    )
                return self._view(existing)
            if driver != DEFAULT_DRIVER:
                raise NotFound(
                    f"create {name}: error looking up volume plugin {driver}:"
                    f' plugin "{driver}" not found'
                )
            options = dict(driver_opts or {})
            try:
                MountOptions.parse(options)
            except InvalidArgument as exc:
                raise InvalidArgument(f"create {name}: {exc}") from exc
            record = VolumeRecord(
                name=name,
                driver=driver,
                created_at=self._clock(),
                labels=wanted_labels,
                options=options,
                anonymous=ANONYMOUS_LABEL in wanted_labels,
            )
            self._local.create(name)
            try:
                self._records.put(record)
            except BaseException:
                with contextlib.suppress(WharfError, OSError):
                    self._local.remove(name)
                raise
        self._publish_event(EventType.VOLUME, "create", name, {"driver": driver})
        log.info("created volume %s", name)
        return self._view(record)

    def inspect_volume(self, name: str) -> Volume:
        return self._view(self._get(name))

    def list_volumes(self, *, filters: Filters) -> VolumeList:
        filters.check_keys(_LIST_FILTERS)
        dangling = _bool_filter(filters, "dangling")
        drivers = filters.get("driver")
        names = filters.get("name")
        labels = filters.get("label")
        volumes = []
        warnings = []
        for record in self._records.list():
            if drivers and record.driver not in drivers:
                continue
            if names and not any(_name_matches(p, record.name) for p in names):
                continue
            if not _labels_match(labels, record.labels):
                continue
            if dangling is not None and dangling == bool(self._in_use(record.name)):
                continue
            if not self._local.exists(record.name):
                warnings.append(
                    f"volume {record.name}: its directory"
                    f" {self._local.data_path(record.name)} is missing"
                )
            volumes.append(self._view(record))
        return VolumeList(tuple(volumes), tuple(warnings))

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        """Remove an unused volume; ``force`` ignores a missing one and removes the record
        even when its files cannot be (never a volume in use)."""
        with self._lock:
            record = self._records.find(name)
            if record is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self._in_use(name)
            if users or self._mount_refs.get(name):
                users = users or sorted(self._mount_refs.get(name, ()))
                raise Conflict(f"remove {name}: volume is in use - [{' '.join(users)}]")
            self._delete(record, purge=force)

    def prune_volumes(self, *, filters: Filters) -> VolumePruneReport:
        filters.check_keys(_PRUNE_FILTERS)
        labels = list(filters.get("label"))
        if not _prune_all(filters):
            labels.append(ANONYMOUS_LABEL)
        excluded = filters.get("label!")
        with self._lock:
            if self._pruning:
                raise Conflict("a prune operation is already running")
            self._pruning = True
        try:
            deleted: list[str] = []
            reclaimed = 0
            for record in self._records.list():
                if record.driver != DEFAULT_DRIVER or record.options:
                    continue
                if not _labels_match(labels, record.labels):
                    continue
                if excluded and _labels_match(excluded, record.labels):
                    continue
                size = self._usage(record.name)
                with self._lock:
                    if self._in_use(record.name) or self._mount_refs.get(record.name):
                        continue
                    try:
                        self._delete(record, purge=False)
                    except WharfError as exc:
                        log.warning("prune: cannot remove volume %s: %s", record.name, exc)
                        continue
                deleted.append(record.name)
                reclaimed += max(size, 0)
        finally:
            with self._lock:
                self._pruning = False
        return VolumePruneReport(tuple(deleted), reclaimed)

    def disk_usage(self) -> list[Volume]:
        """Local volumes without mount options, with ``UsageData`` (for ``/system/df``)."""
        volumes = []
        for record in self._records.list():
            if record.driver != DEFAULT_DRIVER or record.options:
                continue
            usage = VolumeUsage(self._usage(record.name), len(self._in_use(record.name)))
            view = self._view(record)
            volumes.append(
                Volume(
                    name=view.name,
                    driver=view.driver,
                    mountpoint=view.mountpoint,
                    created_at=view.created_at,
                    labels=view.labels,
                    options=view.options,
                    scope=view.scope,
                    usage=usage,
                )
            )
        return volumes

    # ------------------------------------------------------------------ containers

    def ensure(self, name: str | None, *, anonymous: bool = False) -> tuple[str, Path]:
        """The volume a container mounts, created if missing (``anonymous`` or no name: a new
        anonymous volume). Returns its name and host directory (``Mountpoint``)."""
        volume = self.create_volume(None if anonymous or name is None else name)
        return volume.name, Path(volume.mountpoint)

    def populate(self, name: str, rootfs: Path, path: str) -> bool:
        """Copy what the image has at ``path`` (inside ``rootfs``, resolved as if chroot'ed)
        into the volume if the volume is empty, keeping owners, modes, times and xattrs, and
        giving the volume's root the image directory's owner and mode (Docker's copy-up the
        first time a container mounts an empty volume). True when something was copied.

        For a volume with mount options, call it after ``mount``.
        """
        self._get(name)
        with self._lock:
            guard = self._populating.setdefault(name, threading.Lock())
        with guard:
            if not self._local.is_empty(name):
                return False
            # A trailing "/" follows the last symlink too, and insists on a directory.
            directory = path.rstrip("/") + "/"
            try:
                stat_path(rootfs, directory)
            except ContainerPathNotFound:
                return False
            _copy_tree(rootfs, directory, self._local.data_path(name))
        log.info("copied %s of the image into volume %s", path, name)
        return True

    def remove_anonymous(self, names: Iterable[str]) -> list[str]:
        """``docker rm -v``: remove those of ``names`` that are anonymous and unused now;
        return the removed ones. Named volumes are always kept, as Docker keeps them."""
        removed = []
        for name in names:
            record = self._records.find(name)
            if record is None or not record.anonymous:
                continue
            try:
                self.remove_volume(name)
            except (Conflict, NotFound) as exc:
                log.info("kept volume %s: %s", name, exc)
                continue
            removed.append(name)
        return removed

    def mount(self, name: str, ref: str) -> Path:
        """Make the volume's files available at its ``Mountpoint`` for ``ref`` (a container
        ID): volumes with mount options are mounted on first use. Idempotent per ref."""
        with self._lock:
            record = self._get(name)
            options = MountOptions.parse(record.options)
            if options is None:
                return self._local.data_path(name)
            path = self._local.mount(name, options)
            self._mount_refs.setdefault(name, set()).add(ref)
            return path

    def unmount(self, name: str, ref: str) -> None:
        """Drop ``ref``'s use; the last one unmounts a volume with mount options."""
        with self._lock:
            refs = self._mount_refs.get(name)
            if refs is None:
                return
            refs.discard(ref)
            if refs:
                return
            del self._mount_refs[name]
            if self._records.find(name) is not None:
                self._local.unmount(name)

    # ------------------------------------------------------------------ start-up

    def restore(self) -> None:
        """Bring records and directories back in step after a crash (call before serving):
        leftovers of half-made volumes go, directories without a record are adopted as named
        volumes, and records without a directory get an empty one back (logged)."""
        with self._lock:
            self._local.cleanup()
            on_disk = set(self._local.names())
            known = set()
            for record in self._records.list():
                known.add(record.name)
                if record.name not in on_disk:
                    log.warning("volume %s had lost its directory; made an empty one", record.name)
                    self._local.create(record.name)
            for name in sorted(on_disk - known):
                self._records.put(
                    VolumeRecord(
                        name=name,
                        driver=DEFAULT_DRIVER,
                        created_at=self._local.created_at(name),
                    )
                )
                log.info("adopted volume directory %s found without a record", name)

    # ------------------------------------------------------------------ helpers

    def _get(self, name: str) -> VolumeRecord:
        record = self._records.find(name)
        if record is None:
            raise NotFound(f"get {name}: no such volume")
        return record

    def _delete(self, record: VolumeRecord, *, purge: bool) -> None:
        try:
            self._local.remove(record.name)
        except WharfError as exc:
            if not purge:
                raise
            log.warning("volume %s: files kept, record removed: %s", record.name, exc)
        with contextlib.suppress(NotFound):
            self._records.delete(record.name)
        self._populating.pop(record.name, None)
        self._publish_event(EventType.VOLUME, "destroy", record.name, {"driver": record.driver})
        log.info("removed volume %s", record.name)

    def _usage(self, name: str) -> int:
        try:
            return self._local.usage(name)
        except (WharfError, OSError) as exc:
            log.warning("cannot measure volume %s: %s", name, exc)
            return -1

    def _view(self, record: VolumeRecord) -> Volume:
        return Volume(
            name=record.name,
            driver=record.driver,
            mountpoint=str(self._local.data_path(record.name)),
            created_at=record.created_at,
            labels=tuple(sorted(record.labels.items())),
            options=tuple(sorted(record.options.items())),
        )


def _copy_tree(rootfs: Path, path: str, target: Path) -> None:
    """Copy the directory ``path`` of ``rootfs`` onto ``target`` through a tar pipe: one
    safe reader (``archive_path``) and one safe writer (``extract_to``), no third walker."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb", buffering=1 << 20) as sink:
                archive_path(rootfs, path.rstrip("/") + "/.", sink)
        except BrokenPipeError:
            pass  # the reader stopped first and reports why
        except BaseException as exc:
            failure.append(exc)

    writer = threading.Thread(target=produce, name="wharf-volume-copy", daemon=True)
    writer.start()
    try:
        with open(read_fd, "rb", buffering=1 << 20) as source:
            extract_to(target, "/", source)
    except BaseException as exc:
        writer.join()
        if failure:
            raise failure[0] from exc  # the reader only saw the stream end early
        raise
    writer.join()
    if failure:
        raise failure[0]


def _bool_filter(filters: Filters, key: str) -> bool | None:
    values = filters.get(key)
    given = filters.keys()
    if not values and key not in given:
        return None
    truthy = any(v in ("1", "true") for v in values)
    falsy = any(v in ("0", "false") for v in values)
    if truthy == falsy:
        raise InvalidArgument(f"invalid filter '{key}={','.join(values)}'")
    return truthy


def _prune_all(filters: Filters) -> bool:
    values = filters.get("all")
    if not values:
        return False
    if len(values) > 1:
        raise InvalidArgument(
            f"invalid filter 'all=[{' '.join(values)}]': only one value is expected"
        )
    if values[0] in _GO_TRUE:
        return True
    if values[0] in _GO_FALSE:
        return False
    raise InvalidArgument(
        f"invalid filter 'all': strconv.ParseBool: parsing \"{values[0]}\": invalid syntax"
    )


def _name_matches(pattern: str, name: str) -> bool:
    """Docker's ``filters.Match``: equal, or the pattern (a regexp) found in the name."""
    if pattern == name:
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def _labels_match(wanted: Iterable[str], labels: Mapping[str, str]) -> bool:
    """Every ``key`` or ``key=value`` in ``wanted`` holds (Docker's ``MatchKVList``)."""
    for item in wanted:
        key, has_value, value = item.partition("=")
        if key not in labels or (has_value and labels[key] != value):
            return False
    return True
