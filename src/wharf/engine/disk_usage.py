"""Who holds which bytes: the arithmetic behind ``system df``.

Layer L2. Imports: stdlib, ``wharf.content.store``, ``wharf.images.resolve``, ``wharf.oci``.

Disk is counted in *items*, each with a size and any number of holders:

- ``blob:<digest>``: a blob of the content store (manifests, configs, compressed layers), its
  size in bytes;
- ``layer:<chainID hex>``: an unpacked layer snapshot, its disk usage.

An image holds the blobs its target reaches and the layers of its chain. Two questions are
asked of that:

- ``share_sizes``: for images, each one's size and the part of it other images hold too
  (Docker's ``SharedSize``), and all the items' bytes counted once (``LayersSize``);
- ``attribute``: for build cache records, each item goes to exactly one record (the
  shallowest holding it), so that the records' sizes add up to the cache's bytes without
  counting a layer once per step above it. A record whose items images hold as well is
  *shared*; its bytes are the images', not the cache's.

Container logs are counted here too (``log_usage``): the json-file log and its rotated
siblings in the container's data directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wharf.content.store import Provider
from wharf.images.resolve import referenced_blobs
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest

BLOB = "blob:"
LAYER = "layer:"


def image_items(
    provider: Provider,
    target: Descriptor,
    chains: Iterable[Digest],
    *,
    blob_sizes: Mapping[Digest, int],
    layer_size: Callable[[Digest], int],
) -> dict[str, int]:
    """The items an image (or a build step's image) holds, with their sizes; blobs the store
    lacks (other platforms of an index) hold nothing."""
    items: dict[str, int] = {}
    for digest in referenced_blobs(provider, target):
        size = blob_sizes.get(digest)
        if size is not None:
            items[BLOB + str(digest)] = size
    for chain in chains:
        items[LAYER + chain.hex] = layer_size(chain)
    return items


def item_keys(provider: Provider, target: Descriptor, chains: Iterable[Digest]) -> set[str]:
    """The items an image holds, without their sizes."""
    keys = {BLOB + str(digest) for digest in referenced_blobs(provider, target)}
    keys.update(LAYER + chain.hex for chain in chains)
    return keys


@dataclass(frozen=True, slots=True)
class Share:
    size: int
    shared_size: int


def share_sizes(holdings: Mapping[str, Mapping[str, int]]) -> tuple[int, dict[str, Share]]:
    """All items' bytes counted once, and per holder its size and the bytes of its items that
    another holder has too."""
    holders_of: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for items in holdings.values():
        for item, size in items.items():
            holders_of[item] = holders_of.get(item, 0) + 1
            sizes[item] = size
    shares = {
        holder: Share(
            size=sum(items.values()),
            shared_size=sum(size for item, size in items.items() if holders_of[item] > 1),
        )
        for holder, items in holdings.items()
    }
    return sum(sizes.values()), shares


@dataclass(frozen=True, slots=True)
class Holder:
    """A build cache record: ``depth`` orders records (a step's layer count), ``items`` are
    what its image reaches, ``introduces`` those its step made (its manifest and config, and
    its layer unless the step changed only metadata)."""

    key: str
    depth: int
    items: Mapping[str, int]
    introduces: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Attributed:
    size: int
    shared: bool


def attribute(holders: Iterable[Holder], held_elsewhere: Collection[str]) -> dict[str, Attributed]:
    """Give each item to one holder: the shallowest that introduces it (ties: the smaller
    key), else, if only holders keep it (a base image's layer after the image went), the
    shallowest that reaches it; an item held elsewhere that no holder introduced is not
    theirs at all.

    A holder's size is the bytes of its items that nothing else holds; when it has none of
    those but introduced items held elsewhere (the layer of a tagged image), its size is
    theirs and it is shared. So the sizes of the unshared holders add up to exactly the
    bytes only these holders keep.
    """
    ordered = sorted(holders, key=lambda holder: (holder.depth, holder.key))
    introducer: dict[str, str] = {}
    reacher: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for holder in ordered:
        for item, size in holder.items.items():
            reacher.setdefault(item, holder.key)
            if item in holder.introduces:
                introducer.setdefault(item, holder.key)
            sizes[item] = size
    own: dict[str, int] = {}
    elsewhere: dict[str, int] = {}
    for item, size in sizes.items():
        if item in held_elsewhere:
            if item in introducer:
                key = introducer[item]
                elsewhere[key] = elsewhere.get(key, 0) + size
        else:
            key = introducer.get(item, reacher[item])
            own[key] = own.get(key, 0) + size
    result = {}
    for holder in ordered:
        if holder.key in own:
            result[holder.key] = Attributed(own[holder.key], shared=False)
        elif holder.key in elsewhere:
            result[holder.key] = Attributed(elsewhere[holder.key], shared=True)
        else:
            result[holder.key] = Attributed(0, shared=False)
    return result


def log_usage(directory: Path, container_id: str) -> int:
    """Disk bytes of a container's json-file log and its rotations (``<id>-json.log.N``)."""
    prefix = f"{container_id}-json.log"
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    try:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except FileNotFoundError:
                        continue  # rotated away meanwhile
    except (FileNotFoundError, NotADirectoryError):
        return 0
    return total


def tree_usage(top: Path) -> int:
    """Disk bytes of the files under ``top`` (0 when it is missing)."""
    total = 0
    for directory, _, files in os.walk(top):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except OSError:
                continue
    return total
