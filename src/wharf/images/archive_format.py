"""``save`` and ``load``: image archives in the OCI layout plus Docker's ``manifest.json``.

Archive layout written by ``save_images`` (what ``docker save`` writes since Engine 25)::

    oci-layout                    {"imageLayoutVersion": "1.0.0"}
    index.json                    an OCI index: one manifest descriptor per saved image,
                                  annotated io.containerd.image.name=<full name> and
                                  org.opencontainers.image.ref.name=<tag>
    manifest.json                 [{"Config": "blobs/sha256/<hex>", "RepoTags": [...],
                                    "Layers": ["blobs/sha256/<hex>", ...]}]
    repositories                  {"busybox": {"latest": "<config hex>"}}
    blobs/sha256/<hex>            every manifest, config and layer blob, byte for byte

``load_archive`` reads that layout, a plain OCI layout (skopeo's ``oci-archive``), and the
pre-25 Docker layout (``<id>/layer.tar``, ``<id>.json``, ``manifest.json``, ``repositories``).
Blobs stream straight into the content store, verified by digest; names are returned, not
recorded (the engine records them in one transaction once everything is in place).
"""

from __future__ import annotations

import json
import posixpath
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Protocol

from wharf.content.store import Ingester, Provider
from wharf.errdefs import InvalidArgument, NotFound, WharfError
from wharf.images.resolve import ResolvedImage
from wharf.oci import mediatypes
from wharf.oci.config import parse_image_config
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest, parse_manifest
from wharf.oci.reference import Reference, parse_normalized

IMAGE_NAME_ANNOTATION = "io.containerd.image.name"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
_SMALL_FILE_LIMIT = 16 << 20
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SavedImage:
    """One image to save: the names to record for it and what they resolve to."""

    names: tuple[Reference, ...]
    image: ResolvedImage


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """One image found in an archive: its manifest (in the store now) and the names it carried."""

    manifest: Descriptor
    names: tuple[Reference, ...]


# ---------------------------------------------------------------------------------------- save


def save_images(provider: Provider, images: list[SavedImage], out: BinaryIO) -> None:
    """Write ``images`` as one tar stream to ``out`` (never seeks: ``out`` may be a socket)."""
    now = int(time.time())
    written: set[Digest] = set()
    index_entries: list[dict[str, Any]] = []
    legacy_manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "blobs/", b"", now, directory=True)
        _add_bytes(tar, "blobs/sha256/", b"", now, directory=True)
        for saved in images:
            image = saved.image
            for descriptor in (
                image.manifest.config,
                *image.manifest.layers,
                image.manifest_descriptor,
            ):
                if descriptor.digest not in written:
                    _add_blob(tar, provider, descriptor.digest, now)
                    written.add(descriptor.digest)
            tags = [name for name in saved.names if name.tag is not None]
            for name in tags:
                annotations = {
                    IMAGE_NAME_ANNOTATION: str(name),
                    REF_NAME_ANNOTATION: name.tag or "",
                }
                index_entries.append(
                    _descriptor_json(image.manifest_descriptor, annotations=annotations)
                )
            if not tags:
                index_entries.append(_descriptor_json(image.manifest_descriptor, annotations={}))
            legacy_manifest.append(
                {
                    "Config": _blob_path(image.manifest.config.digest),
                    "RepoTags": [name.familiar() for name in tags],
                    "Layers": [_blob_path(layer.digest) for layer in image.manifest.layers],
                }
            )
            for name in tags:
                repositories.setdefault(name.familiar_name, {})[name.tag or "latest"] = (
                    image.config_digest.hex
                )
        index = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": index_entries,
        }
        _add_bytes(tar, "index.json", _dump(index), now)
        _add_bytes(tar, "manifest.json", _dump(legacy_manifest), now)
        _add_bytes(tar, "oci-layout", _dump({"imageLayoutVersion": "1.0.0"}), now)
        if repositories:
            _add_bytes(tar, "repositories", _dump(repositories), now)


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _descriptor_json(descriptor: Descriptor, *, annotations: dict[str, str]) -> dict[str, Any]:
    wire = {
        "mediaType": descriptor.media_type,
        "digest": str(descriptor.digest),
        "size": descriptor.size,
    }
    if annotations:
        wire["annotations"] = annotations
    return wire


def _add_bytes(
    tar: tarfile.TarFile, name: str, data: bytes, mtime: int, *, directory: bool = False
) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.mtime = mtime
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    info.size = len(data)
    info.mode = 0o444
    tar.addfile(info, io.BytesIO(data))


def _add_blob(tar: tarfile.TarFile, provider: Provider, digest: Digest, mtime: int) -> None:
    info = tarfile.TarInfo(_blob_path(digest))
    info.size = provider.info(digest).size
    info.mtime = mtime
    info.mode = 0o444
    with provider.open(digest) as blob:
        tar.addfile(info, blob)


# ---------------------------------------------------------------------------------------- load


@dataclass
class _ArchiveContents:
    """What a pass over the archive found: small JSON files and where each blob landed."""

    files: dict[str, bytes] = field(default_factory=dict)
    blobs_by_path: dict[str, Digest] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


def load_archive(store: _LoadStore, archive: BinaryIO) -> list[LoadedImage]:
    """Read an image archive into ``store``; returns the images it holds and their names."""
    contents = _ingest_archive(store, archive)
    if "index.json" in contents.files:
        return _images_from_oci_layout(store, contents)
    if "manifest.json" in contents.files:
        return _images_from_legacy_manifest(store, contents)
    raise InvalidArgument("invalid image archive: neither index.json nor manifest.json found")


class _LoadStore(Ingester, Provider, Protocol):
    """Load needs to write blobs and read back the small documents it wrote."""


def _ingest_archive(store: Ingester, archive: BinaryIO) -> _ArchiveContents:
    contents = _ArchiveContents()
    try:
        with tarfile.open(fileobj=archive, mode="r|*") as tar:
            for member in tar:
                name = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
                if member.issym() or member.islnk():
                    contents.links[name] = posixpath.normpath(
                        posixpath.join(posixpath.dirname(name), member.linkname)
                        if member.issym()
                        else member.linkname
                    )
                    continue
                if not member.isfile():
                    continue
                reader = tar.extractfile(member)
                if reader is None:
                    continue
                if _is_document(name):
                    if member.size > _SMALL_FILE_LIMIT:
                        raise InvalidArgument(f"invalid image archive: {name} is too large")
                    contents.files[name] = reader.read()
                    continue
                expected = _digest_from_blob_path(name)
                contents.blobs_by_path[name] = _write_stream(store, reader, expected, member.size)
    except tarfile.TarError as exc:
        raise InvalidArgument(f"invalid image archive: {exc}") from exc
    except EOFError as exc:
        raise InvalidArgument("invalid image archive: unexpected end of data") from exc
    return contents


def _is_document(name: str) -> bool:
    return (
        name in ("index.json", "manifest.json", "repositories", "oci-layout")
        or (name.endswith(".json") and "/" not in name)
        or name.endswith("/json")
        or name.endswith("/VERSION")
    )


def _digest_from_blob_path(name: str) -> Digest | None:
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        try:
            return Digest.parse(f"{parts[1]}:{parts[2]}")
        except WharfError:
            return None
    return None


def _write_stream(store: Ingester, reader: IO[bytes], expected: Digest | None, size: int) -> Digest:
    ref = f"load-{expected.hex if expected else uuid.uuid4().hex}"
    writer = store.writer(ref, expected=expected, expected_size=size)
    try:
        if writer.offset:
            # A stale partial ingest from an interrupted load: start this blob over.
            writer.abort()
            writer = store.writer(ref, expected=expected, expected_size=size)
        while chunk := reader.read(_COPY_CHUNK):
            writer.write(chunk)
        if size != writer.offset:
            raise InvalidArgument("invalid image archive: unexpected end of data")
        return writer.commit(expected, size)
    except BaseException:
        writer.abort()
        raise


def _json_document(contents: _ArchiveContents, name: str) -> Any:
    try:
        return json.loads(contents.files[name])
    except (KeyError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"invalid image archive: {name} is missing or not JSON") from exc


def _resolve_blob(contents: _ArchiveContents, path: str) -> Digest:
    seen = 0
    path = posixpath.normpath(path)
    while path in contents.links and seen < 16:
        path = contents.links[path]
        seen += 1
    digest = contents.blobs_by_path.get(path) or _digest_from_blob_path(path)
    if digest is None:
        raise InvalidArgument(f"invalid image archive: {path} is referenced but missing")
    return digest


def _images_from_oci_layout(store: _LoadStore, contents: _ArchiveContents) -> list[LoadedImage]:
    index_bytes = contents.files["index.json"]
    index = parse_manifest(index_bytes, mediatypes.OCI_INDEX)
    if not isinstance(index, Index):
        raise InvalidArgument("invalid image archive: index.json is not an image index")
    legacy_tags = _legacy_tags_by_config(contents)
    images: list[LoadedImage] = []
    for descriptor in index.manifests:
        if not store.exists(descriptor.digest):
            raise InvalidArgument(f"invalid image archive: blob {descriptor.digest} is missing")
        document = parse_manifest(store.read_bytes(descriptor.digest), descriptor.media_type)
        _check_blobs_present(store, document)
        names = list(_names_from_annotations(descriptor))
        if isinstance(document, Manifest):
            for tag in legacy_tags.get(document.config.digest, ()):
                if tag not in names:
                    names.append(tag)
        images.append(LoadedImage(manifest=_plain(descriptor), names=tuple(names)))
    return _merge_same_manifest(images)


def _plain(descriptor: Descriptor) -> Descriptor:
    return Descriptor(
        media_type=descriptor.media_type, digest=descriptor.digest, size=descriptor.size
    )


def _merge_same_manifest(images: list[LoadedImage]) -> list[LoadedImage]:
    merged: dict[Digest, LoadedImage] = {}
    for image in images:
        previous = merged.get(image.manifest.digest)
        if previous is None:
            merged[image.manifest.digest] = image
        else:
            names = previous.names + tuple(n for n in image.names if n not in previous.names)
            merged[image.manifest.digest] = LoadedImage(manifest=previous.manifest, names=names)
    return list(merged.values())


def _names_from_annotations(descriptor: Descriptor) -> Iterator[Reference]:
    annotations = dict(descriptor.annotations)
    full = annotations.get(IMAGE_NAME_ANNOTATION)
    ref_name = annotations.get(REF_NAME_ANNOTATION)
    for candidate in (full, ref_name):
        if not candidate:
            continue
        try:
            reference = parse_normalized(candidate)
        except WharfError:
            continue
        # A bare tag such as "latest" parses as an image called "latest": not a name.
        if candidate == full or "/" in candidate or ":" in candidate:
            yield reference.with_default_tag()
            return


def _legacy_tags_by_config(contents: _ArchiveContents) -> dict[Digest, list[Reference]]:
    if "manifest.json" not in contents.files:
        return {}
    found: dict[Digest, list[Reference]] = {}
    for entry in _legacy_entries(contents):
        config = _resolve_blob(contents, entry["Config"])
        found.setdefault(config, []).extend(_parse_repo_tags(entry))
    return found


def _legacy_entries(contents: _ArchiveContents) -> list[dict[str, Any]]:
    entries = _json_document(contents, "manifest.json")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("Config"), str)
        and isinstance(e.get("Layers"), list)
        for e in entries
    ):
        raise InvalidArgument("invalid image archive: manifest.json has the wrong shape")
    return entries


def _parse_repo_tags(entry: dict[str, Any]) -> list[Reference]:
    names = []
    for tag in entry.get("RepoTags") or []:
        if not isinstance(tag, str):
            raise InvalidArgument("invalid image archive: RepoTags must be strings")
        names.append(parse_normalized(tag).with_default_tag())
    return names


def _images_from_legacy_manifest(
    store: _LoadStore, contents: _ArchiveContents
) -> list[LoadedImage]:
    images = []
    for entry in _legacy_entries(contents):
        config_path = entry["Config"]
        if config_path in contents.files:
            # Pre-25 archives keep the config at "<id>.json"; it is a blob like any other.
            config_digest = _write_bytes(store, contents.files[config_path])
        else:
            config_digest = _resolve_blob(contents, config_path)
        config_bytes = store.read_bytes(config_digest)
        config = parse_image_config(config_bytes)
        layers = []
        for layer_path in entry["Layers"]:
            digest = _resolve_blob(contents, layer_path)
            layers.append(_layer_descriptor(store, digest))
        if len(layers) != len(config.rootfs_diff_ids):
            raise InvalidArgument(
                f"invalid image archive: {len(layers)} layers for "
                f"{len(config.rootfs_diff_ids)} diff IDs in {config_path}"
            )
        manifest = Manifest(
            config=Descriptor(
                media_type=mediatypes.OCI_CONFIG, digest=config_digest, size=len(config_bytes)
            ),
            layers=tuple(layers),
            media_type=mediatypes.OCI_MANIFEST,
        )
        manifest_bytes = manifest.to_bytes()
        manifest_digest = _write_bytes(store, manifest_bytes)
        images.append(
            LoadedImage(
                manifest=Descriptor(
                    media_type=mediatypes.OCI_MANIFEST,
                    digest=manifest_digest,
                    size=len(manifest_bytes),
                ),
                names=tuple(_parse_repo_tags(entry)),
            )
        )
    return images


def _layer_descriptor(store: Provider, digest: Digest) -> Descriptor:
    from wharf.archive.compression import detect_compression

    with store.open(digest) as blob:
        head = blob.read(8)
    compression = detect_compression(head)
    return Descriptor(
        media_type=mediatypes.layer_media_type(compression),
        digest=digest,
        size=store.info(digest).size,
    )


def _write_bytes(store: Ingester, data: bytes) -> Digest:
    import io

    return _write_stream(store, io.BytesIO(data), Digest.of_bytes(data), len(data))


def _check_blobs_present(store: Provider, document: Manifest | Index) -> None:
    children = (
        document.manifests if isinstance(document, Index) else (document.config, *document.layers)
    )
    for child in children:
        if isinstance(document, Index) and not store.exists(child.digest):
            continue  # other platforms of an index need not be in the archive
        if not store.exists(child.digest):
            raise NotFound(f"invalid image archive: blob {child.digest} is missing")
