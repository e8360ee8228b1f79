"""The engine's metadata in SQLite: the database and its schema (``db``), and one repository
class per table (``images``; containers, networks, volumes and build cache come later).

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``; never ``wharf.content``.
"""

from __future__ import annotations

from wharf.metadata.db import MIGRATIONS, MetadataDB, Migration
from wharf.metadata.images import ImageNames, ImageRecord

__all__ = ["MIGRATIONS", "ImageNames", "ImageRecord", "MetadataDB", "Migration"]
