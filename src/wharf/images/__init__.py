"""The image graph (layer L1b): resolving names' targets to manifests and configs, unpacking
layers into snapshots, importing root filesystems, saving and loading archives, and garbage
collection.

May import ``wharf.content``, ``wharf.snapshots``, ``wharf.archive``, ``wharf.oci`` and
``wharf.errdefs``; never ``wharf.metadata`` (names belong to the engine) nor anything above.
Functions here take the narrowest store role they need (a Provider to read, an Ingester to
write), so tests can hand them ``content.memory.MemoryStore``.
"""
