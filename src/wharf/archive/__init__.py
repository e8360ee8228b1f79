"""Layer tar handling: compression, safe extraction with whiteouts, deterministic tar writing.

Layer L0 (beside ``wharf.oci``): imports the standard library, ``isal``, ``zstandard``,
``wharf.errdefs``, ``wharf.oci.digest`` and ``wharf.oci.mediatypes``; never ``wharf.snapshots``
or anything above. Modules:

- ``compression``: sniff, decompress and compress layer blobs (gzip via ISA-L, zstd).
- ``whiteouts``: the OCI whiteout names and their overlayfs equivalents.
- ``extract``: ``apply_layer`` unpacks an uncompressed layer tar into a directory.
- ``create``: ``write_tar`` writes a directory tree as a deterministic PAX layer tar.

Invariant: nothing here writes outside the directory it was given.
"""
