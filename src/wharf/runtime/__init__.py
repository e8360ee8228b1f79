"""Running containers (layer L1): OCI runtime-spec bundles with Docker's defaults, the runc/crun
CLI driver, cgroups, the per-container monitor process and its logs.

May import ``wharf.errdefs``, ``wharf.oci``, ``wharf.archive`` and the standard library; never
the engine or anything above. ``monitor.py`` imports only the standard library: it runs as
its own small process (``python -I -S monitor.py``).
"""
