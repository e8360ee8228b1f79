"""Snapshots: unpacked layers and container root filesystems as stacked overlayfs directories.

Layer L1: imports the standard library, ``wharf.errdefs`` and ``wharf.archive`` (the unpack
side of layers); never the engine, images or anything above. Modules:

- ``snapshotter``: the ``Snapshotter`` Protocol and its value types (``SnapshotInfo``, ``Mount``).
- ``overlay``: ``OverlaySnapshotter``, the overlayfs backend (its on-disk layout is drawn there).
- ``mount``: mount(2)/umount2(2) through libc, with the mount(8) command as fallback.
- ``testsuite``: the conformance checks every backend runs.
"""
