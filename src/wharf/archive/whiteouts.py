"""OCI whiteout names and their overlayfs representation.

Imports: stdlib only.

In a layer tar (OCI image-spec "Whiteouts"):

- ``<dir>/.wh.<name>``   deletes ``<dir>/<name>`` of the lower layers;
- ``<dir>/.wh..wh..opq`` hides every lower-layer child of ``<dir>`` (opaque directory);
- other ``.wh..wh.`` names are aufs bookkeeping and carry no meaning for us.

In an overlayfs upper or lower directory the same facts are a character device 0:0 named
``<name>`` and the xattr ``trusted.overlay.opaque=y`` on ``<dir>``.
"""

from __future__ import annotations

import enum

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_MARKER = ".wh..wh..opq"

OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
OVERLAY_OPAQUE_VALUE = b"y"

# xattrs through which overlayfs keeps its own state; a layer tar must never set them (a
# forged redirect or metacopy xattr could make the mount read another layer's files).
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")


class WhiteoutMode(enum.Enum):
    """What ``apply_layer`` does with whiteout entries."""

    OVERLAY = "overlay"
    """Keep them as overlayfs whiteouts: the target is the layer's own overlay lower dir."""

    DELETE = "delete"
    """Delete what they name from the target: the target holds the lower layers already."""


def is_overlay_xattr(name: str) -> bool:
    return name.startswith(OVERLAY_XATTR_PREFIXES)
