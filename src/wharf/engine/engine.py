"""The engine's composition root: opens the stores under the data root, recovers from any
crash, and builds the services the API serves.

Recovery at every start (before the socket opens, so nothing else is writing): partial
ingests are dropped (except recent partial downloads, which the next pull resumes),
incomplete snapshots removed, containers re-attached to their live monitors (or marked
exited, with what they held released), and garbage (blobs and layers no image name or pull
lease reaches, e.g. from a load killed before it recorded its names) collected.
"""

from __future__ import annotations

import contextlib
import logging
import shutil

from wharf.content.local import LocalStore
from wharf.engine.build import TRANSIENT_SNAPSHOT_PREFIX, BuildService
from wharf.engine.container_ops import ContainerInspector
from wharf.engine.containers import ContainerService
from wharf.engine.exec import ExecService
from wharf.engine.health import HealthMonitor
from wharf.engine.images import ImageService
from wharf.engine.networks import NetworkService, open_network_service
from wharf.engine.system import DaemonPaths, SystemService
from wharf.engine.volumes import VolumeService
from wharf.errdefs import WharfError
from wharf.events.bus import EventBus
from wharf.images.leases import Leases
from wharf.metadata.buildcache import BuildCacheRecords
from wharf.metadata.containers import ContainerRecords
from wharf.metadata.db import MetadataDB
from wharf.metadata.images import ImageNames
from wharf.metadata.volumes import VolumeRecords
from wharf.oci.platform import host_platform
from wharf.remotes.settings import RegistrySettings
from wharf.runtime.oci import OciRuntime, probe_runtime
from wharf.runtime.spec import HostFacts
from wharf.snapshots.overlay import OverlaySnapshotter
from wharf.snapshots.snapshotter import SnapshotKind
from wharf.volumes.local import LocalVolumes

log = logging.getLogger("wharf.engine")

_TRANSIENT_KEYS = ("unpack-", "import-", TRANSIENT_SNAPSHOT_PREFIX)
RUNTIME_NAMES = ("crun", "runc")


# Partial downloads are kept for the next pull to resume (HTTP Range), for a day.
_RESUMABLE_PREFIX = "pull-"
_RESUMABLE_FOR = 24 * 3600.0


def _recover_ingests(content: LocalStore) -> None:
    """Drop every half-written blob except recent partial downloads, which resume."""
    content.cleanup(_RESUMABLE_FOR)
    for status in content.ingests():
        if not status.ref.startswith(_RESUMABLE_PREFIX):
            with contextlib.suppress(WharfError):
                content.abort(status.ref)


class Engine:
    def __init__(
        self,
        *,
        paths: DaemonPaths,
        db: MetadataDB,
        images: ImageService,
        containers: ContainerService,
        execs: ExecService,
        inspector: ContainerInspector,
        volumes: VolumeService,
        system: SystemService,
        build: BuildService,
        networks: NetworkService,
        events: EventBus | None = None,
    ) -> None:
        self.events = events if events is not None else EventBus()
        self.networks = networks
        self.build = build
        self.paths = paths
        self._db = db
        self.images = images
        self.containers = containers
        self.execs = execs
        self.inspector = inspector
        self.volumes = volumes
        self.system = system

    @classmethod
    def open(
        cls,
        paths: DaemonPaths,
        *,
        default_runtime: str | None = None,
        registries: RegistrySettings | None = None,
        network_prefix: str = "",
    ) -> Engine:
        content = LocalStore(paths.data_root / "content")
        snapshotter = OverlaySnapshotter(paths.data_root / "snapshots")
        db = MetadataDB(paths.data_root / "metadata.db")
        events = EventBus()
        holder: dict[str, ContainerService] = {}
        images = ImageService(
            content=content,
            names=ImageNames(db),
            snapshotter=snapshotter,
            platform=host_platform(),
            containers_using=lambda image_id: holder["containers"].images_in_use(image_id),
            leases=Leases(paths.data_root / "leases"),
            registries=registries,
            publish=events.publish,
        )
        _recover_ingests(content)
        snapshotter.cleanup()
        for info in snapshotter.walk():
            # Layers being unpacked or imported when a crash hit: nobody will finish them.
            if info.kind is SnapshotKind.ACTIVE and info.key.startswith(_TRANSIENT_KEYS):
                snapshotter.remove(info.key)

        runtimes = {
            name: OciRuntime(name, path, paths.exec_root / "runtime" / name)
            for name in RUNTIME_NAMES
            if (path := shutil.which(name))
        }
        chosen = default_runtime or probe_runtime(
            tuple(runtimes.values()), paths.exec_root / "runtime"
        )
        host = HostFacts.detect()
        volumes = VolumeService(
            VolumeRecords(db),
            LocalVolumes(paths.data_root / "volumes"),
            in_use=lambda name: holder["containers"].volumes_in_use(name),
            publish=events.publish,
        )
        networks = open_network_service(
            db, paths.exec_root, prefix=network_prefix, publish=events.publish
        )
        networks.prepare()
        containers = ContainerService(
            records=ContainerRecords(db),
            images=images,
            snapshotter=snapshotter,
            runtimes=runtimes,
            default_runtime=chosen,
            data_root=paths.data_root,
            exec_root=paths.exec_root,
            host=host,
            volumes=volumes,
            networks=networks,
            publish=events.publish,
        )
        networks.bind_containers(containers)
        holder["containers"] = containers
        execs = ExecService(containers=containers, host=host)
        health = HealthMonitor(
            execs.run_captured,
            on_change=lambda container_id, status: containers.emit_for(
                container_id, f"health_status: {status}"
            ),
        )
        containers.set_health(health)  # before recover(): running containers resume probes
        build = BuildService(
            images=images,
            containers=containers,
            content=content,
            snapshotter=snapshotter,
            records=BuildCacheRecords(db),
            data_root=paths.data_root,
            exec_root=paths.exec_root,
            platform=host_platform(),
        )
        images.set_extra_roots(build.cache_roots)
        volumes.restore()
        containers.recover()
        networks.reconcile()
        build.recover()
        images.collect_garbage()
        system = SystemService(
            paths,
            count_images=images.count,
            count_containers=containers.count_by_status,
            default_runtime=chosen,
            images_usage=images.disk_usage,
            containers_usage=containers.disk_usage,
            volumes_usage=volumes.disk_usage,
            build_cache_usage=build.cache_usage,
        )
        log.info("store recovered and consistent; default runtime %s", chosen)
        return cls(
            paths=paths,
            db=db,
            images=images,
            containers=containers,
            execs=execs,
            inspector=ContainerInspector(
                containers=containers, snapshotter=snapshotter, images=images
            ),
            volumes=volumes,
            system=system,
            build=build,
            networks=networks,
            events=events,
        )

    def close(self) -> None:
        self.events.close()
        self.containers.close()
        self.networks.close()
        self._db.close()
