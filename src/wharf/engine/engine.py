"""The engine's composition root: opens the stores under the data root, recovers from any
crash, and builds the services the API serves.

Recovery at every start (before the socket opens, so nothing else is writing):
partial ingests are dropped, incomplete snapshots removed, and garbage (blobs and layers no
image name reaches, e.g. from a load killed before it recorded its names) collected.
"""

from __future__ import annotations

import logging

from wharf.content.local import LocalStore
from wharf.engine.images import ImageService
from wharf.engine.system import DaemonPaths, SystemService
from wharf.metadata.db import MetadataDB
from wharf.metadata.images import ImageNames
from wharf.oci.platform import host_platform
from wharf.snapshots.overlay import OverlaySnapshotter
from wharf.snapshots.snapshotter import SnapshotKind

log = logging.getLogger("wharf.engine")

_TRANSIENT_KEYS = ("unpack-", "import-")


class Engine:
    def __init__(
        self,
        *,
        paths: DaemonPaths,
        db: MetadataDB,
        images: ImageService,
        system: SystemService,
    ) -> None:
        self.paths = paths
        self._db = db
        self.images = images
        self.system = system

    @classmethod
    def open(cls, paths: DaemonPaths) -> Engine:
        content = LocalStore(paths.data_root / "content")
        snapshotter = OverlaySnapshotter(paths.data_root / "snapshots")
        db = MetadataDB(paths.data_root / "metadata.db")
        images = ImageService(
            content=content,
            names=ImageNames(db),
            snapshotter=snapshotter,
            platform=host_platform(),
        )
        content.cleanup(0)
        snapshotter.cleanup()
        for info in snapshotter.walk():
            # Layers being unpacked or imported when a crash hit: nobody will finish them.
            if info.kind is SnapshotKind.ACTIVE and info.key.startswith(_TRANSIENT_KEYS):
                snapshotter.remove(info.key)
        images.collect_garbage()
        system = SystemService(paths, count_images=images.count)
        log.info("store recovered and consistent")
        return cls(paths=paths, db=db, images=images, system=system)

    def close(self) -> None:
        self._db.close()
