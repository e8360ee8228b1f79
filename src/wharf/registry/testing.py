"""Registries and images for tests: in-process or as a process, plus tiny OCI layouts.

Layer L3. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.registry.{config,server}``.

``running_registry(config)`` yields a URL of a server in this process; ``registry_process``
starts ``python -m wharf.registry serve`` and stops it by PID; ``write_oci_layout`` builds an
OCI image layout (one image or a multi-platform index of tiny gzip layers) for clients such
as skopeo to copy.

The server runs on its own event loop in a daemon thread, on ``127.0.0.1`` with an ephemeral
port unless the config says otherwise; leaving the ``with`` block stops it and waits for
the thread. Other packages' tests (the registry client, image push/pull) may use it as the
real registry on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from wharf.errdefs import EngineFailure
from wharf.oci import mediatypes
from wharf.oci.descriptor import Descriptor
from wharf.oci.digest import Digest
from wharf.oci.manifest import Index, Manifest
from wharf.oci.platform import Platform
from wharf.registry.config import RegistryConfig

START_TIMEOUT = 15.0


@contextlib.contextmanager
def running_registry(config: RegistryConfig, *, ephemeral: bool = True) -> Iterator[str]:
    """Yields the base URL (``http://127.0.0.1:<port>`` or ``https://...``)."""
    from wharf.registry.server import serve

    if ephemeral:
        config = replace(config, addr="127.0.0.1:0")
    ready = threading.Event()
    port: list[int] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def on_ready(_host: str, bound: int) -> None:
        port.append(bound)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(config, stop=stop, on_ready=on_ready))
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="wharf-registry", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT) or not port:
        if failure:
            raise failure[0]
        raise EngineFailure("registry did not start")
    scheme = "https" if config.tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port[0]}"
    finally:
        with contextlib.suppress(RuntimeError):  # loop already closed after a crash
            loop.call_soon_threadsafe(stop.set)
        thread.join(START_TIMEOUT)


@dataclass(frozen=True, slots=True)
class RegistryProcess:
    """A registry started as its own process (``python -m wharf.registry serve``)."""

    pid: int
    url: str
    root: Path

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]


@contextlib.contextmanager
def registry_process(
    root: Path, *, config_path: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[RegistryProcess]:
    """Start a registry process on 127.0.0.1 (ephemeral port) and stop it by PID on exit."""
    port_file = root.parent / f".{root.name}.port"
    port_file.unlink(missing_ok=True)
    args = [sys.executable, "-m", "wharf.registry", "serve", "--addr", "127.0.0.1:0"]
    args += ["--root", str(root), "--port-file", str(port_file)]
    if config_path is not None:
        args += ["--config", str(config_path)]
    log_path = root.parent / f".{root.name}.log"
    with open(log_path, "ab") as log:
        environment = {**os.environ, **(env or {})}
        proc = subprocess.Popen(
            args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=environment
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise EngineFailure(f"registry did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.02)
        port = int(port_file.read_text())
        scheme = "http"
        if config_path is not None and "[tls]" in config_path.read_text():
            scheme = "https"
        yield RegistryProcess(proc.pid, f"{scheme}://127.0.0.1:{port}", root)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@dataclass(frozen=True, slots=True)
class LayoutImage:
    """One tiny image for ``write_oci_layout``: files of its single layer and its platform."""

    files: Mapping[str, bytes]
    architecture: str = "amd64"
    os: str = "linux"


def tiny_layer(files: Mapping[str, bytes]) -> tuple[bytes, Digest]:
    """A gzip'd tar of ``files`` (deterministic) and the digest of the uncompressed tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), Digest.of_bytes(tar_bytes)


def _put_blob(layout_dir: Path, data: bytes) -> Digest:
    digest = Digest.of_bytes(data)
    path = layout_dir / "blobs" / digest.algorithm / digest.hex
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _image_manifest(layout_dir: Path, image: LayoutImage) -> Descriptor:
    layer, diff_id = tiny_layer(image.files)
    config = json.dumps(
        {
            "architecture": image.architecture,
            "os": image.os,
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]},
        }
    ).encode()
    manifest = Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, _put_blob(layout_dir, config), len(config)),
        layers=(Descriptor(mediatypes.OCI_LAYER_GZIP, _put_blob(layout_dir, layer), len(layer)),),
    )
    data = manifest.to_bytes()
    return Descriptor(
        mediatypes.OCI_MANIFEST,
        _put_blob(layout_dir, data),
        len(data),
        platform=Platform(architecture=image.architecture, os=image.os),
    )


def write_oci_layout(
    layout_dir: Path, images: Sequence[LayoutImage], *, tag: str = "latest"
) -> Descriptor:
    """An OCI image layout holding one image, or an index of several, tagged ``tag``.

    Returns the descriptor of what ``tag`` names (a manifest, or the index).
    """
    layout_dir.mkdir(parents=True, exist_ok=True)
    (layout_dir / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    manifests = [_image_manifest(layout_dir, image) for image in images]
    if len(manifests) == 1:
        top = Descriptor(manifests[0].media_type, manifests[0].digest, manifests[0].size)
    else:
        data = Index(manifests=tuple(manifests)).to_bytes()
        top = Descriptor(mediatypes.OCI_INDEX, _put_blob(layout_dir, data), len(data))
    tagged = top.with_annotations({"org.opencontainers.image.ref.name": tag})
    (layout_dir / "index.json").write_bytes(Index(manifests=(tagged,)).to_bytes())
    return top
