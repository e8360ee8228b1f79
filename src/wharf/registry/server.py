"""Running the registry: root lock, listening socket (TLS optional), background tasks.

Layer L3. Imports: stdlib, ``aiohttp``, ``wharf.errdefs``, ``wharf.registry.*``.

``serve`` runs until ``stop`` is set (``main`` sets it on SIGINT/SIGTERM). While it runs it
holds ``flock(<root>/lock)``, so two registries never share a root (the garbage collector's
guard is per process). Background tasks: close idle upload writers every
``IDLE_SWEEP_SECONDS``; collect garbage every ``gc.interval`` seconds when set.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from wharf.errdefs import Conflict, InvalidArgument
from wharf.registry import layout
from wharf.registry.app import make_app
from wharf.registry.config import AuthMode, RegistryConfig
from wharf.registry.filesystem import FilesystemDriver
from wharf.registry.metrics import ACCESS_LOG, AccessLogger
from wharf.registry.service import RegistryService, open_service

IDLE_SWEEP_SECONDS = 30.0

_log = logging.getLogger("wharf.registry")


class RootLock:
    """An exclusive flock on ``<root>/lock`` held while a registry (or offline gc) runs."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(root / layout.LOCK_FILE, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            raise Conflict(f"registry root {root} is in use by another process") from exc
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def ssl_context(config: RegistryConfig) -> ssl.SSLContext | None:
    if config.tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls.cert, config.tls.key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"cannot load TLS certificate {config.tls.cert}: {exc}") from exc
    return context


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _every(seconds: float, action: Callable[[], object]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            result = action()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            _log.exception("background task failed")


async def collect_garbage(service: RegistryService, *, dry_run: bool = False) -> None:
    report = await asyncio.to_thread(service.collector.collect, dry_run=dry_run)
    service.metrics.gc_runs += 1
    service.metrics.gc_blobs_deleted += report.blobs_deleted
    service.metrics.gc_bytes_freed += report.bytes_freed


async def serve(
    config: RegistryConfig,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until ``stop`` is set; ``on_ready(host, port)`` once listening."""
    lock = RootLock(config.root)
    try:
        FilesystemDriver(config.root / layout.META_DIR).remove_stale_temporaries(0)
        service = open_service(config)
        context = ssl_context(config)
        app = make_app(service)
        runner = web.AppRunner(app, access_log_class=AccessLogger, access_log=ACCESS_LOG)
        await runner.setup()
        tasks: list[asyncio.Task[None]] = []
        try:
            host, port = config.host_port
            site = web.TCPSite(runner, host, port, ssl_context=context, backlog=512)
            await site.start()
            bound = runner.addresses[0]
            actual_port = int(bound[1])
            _log.info(
                "wharf registry listening on %s://%s:%d, root %s",
                "https" if context else "http",
                host,
                actual_port,
                config.root,
            )
            if config.auth.mode is AuthMode.NONE and not _is_loopback(host):
                _log.warning("no authentication on %s: anyone who can reach it may push", host)
            if on_ready is not None:
                on_ready(host, actual_port)
            tasks.append(
                asyncio.create_task(_every(IDLE_SWEEP_SECONDS, service.uploads.close_idle))
            )
            if config.gc.interval > 0:
                tasks.append(
                    asyncio.create_task(
                        _every(config.gc.interval, lambda: collect_garbage(service))
                    )
                )
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await runner.cleanup()
            await service.uploads.close_all()
    finally:
        lock.release()
