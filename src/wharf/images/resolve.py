"""From a name's target descriptor to the manifest and config that a container would run.

A target is a manifest, or an index from which the host platform's manifest is chosen.
The image ID shown to users is the config digest (as Docker's classic store shows it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wharf.content.store import Provider
from wharf.errdefs import InvalidArgument, NotFound
from wharf.oci.config import ImageConfig, parse_image_config
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest, chain_id
from wharf.oci.manifest import Index, Manifest, parse_manifest
from wharf.oci.platform import Platform, select_manifest


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    target: Descriptor
    manifest_descriptor: Descriptor
    manifest: Manifest
    config: ImageConfig
    raw_config: dict[str, Any]

    @property
    def config_digest(self) -> Digest:
        return self.manifest.config.digest

    @property
    def image_id(self) -> str:
        return str(self.manifest.config.digest)

    def chain_ids(self) -> list[Digest]:
        diff_ids = list(self.config.rootfs_diff_ids)
        return [chain_id(diff_ids[: i + 1]) for i in range(len(diff_ids))]

    def top_chain_id(self) -> Digest | None:
        chains = self.chain_ids()
        return chains[-1] if chains else None


def read_manifest(provider: Provider, descriptor: Descriptor) -> Manifest | Index:
    return parse_manifest(provider.read_bytes(descriptor.digest), descriptor.media_type)


def select_platform_manifest(
    provider: Provider, target: Descriptor, platform: Platform
) -> tuple[Descriptor, Manifest]:
    document = read_manifest(provider, target)
    if isinstance(document, Manifest):
        return target, document
    chosen = select_manifest(document.manifests, platform)
    if chosen is None:
        raise NotFound(
            f"no matching manifest for {platform.os}/{platform.architecture} "
            "in the manifest list entries"
        )
    child = read_manifest(provider, chosen)
    if not isinstance(child, Manifest):
        raise InvalidArgument(f"manifest list {target.digest} points at another index")
    return chosen, child


def resolve_image(provider: Provider, target: Descriptor, platform: Platform) -> ResolvedImage:
    manifest_descriptor, manifest = select_platform_manifest(provider, target, platform)
    config_bytes = provider.read_bytes(manifest.config.digest)
    config = parse_image_config(config_bytes)
    raw = json.loads(config_bytes)
    if len(config.rootfs_diff_ids) != len(manifest.layers):
        raise InvalidArgument(
            f"image {manifest.config.digest}: {len(manifest.layers)} layers "
            f"but {len(config.rootfs_diff_ids)} diff IDs"
        )
    return ResolvedImage(
        target=target,
        manifest_descriptor=manifest_descriptor,
        manifest=manifest,
        config=config,
        raw_config=raw if isinstance(raw, dict) else {},
    )


def referenced_blobs(provider: Provider, target: Descriptor) -> list[Digest]:
    """Every blob reachable from ``target``; an index's other platforms may be absent."""
    seen: list[Digest] = []
    pending = [target]
    while pending:
        descriptor = pending.pop()
        if descriptor.digest in seen or not provider.exists(descriptor.digest):
            continue
        seen.append(descriptor.digest)
        document = read_manifest(provider, descriptor)
        if isinstance(document, Index):
            pending.extend(document.manifests)
        else:
            seen.extend(
                d.digest for d in (document.config, *document.layers) if d.digest not in seen
            )
    return seen
