"""``wharfd``: the engine daemon's entry point (layer L4).

Parses flags, takes the per-exec-root pid lock (one daemon per exec root), opens the engine
(which recovers from any crash before serving), and serves the Engine API on a unix socket
(or TCP, for tests of remote clients) until SIGTERM/SIGINT. Logs go to stderr and to
``<data-root>/wharfd.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from wharf import __version__
from wharf.api.app import build_app
from wharf.api.routers import build as build_router
from wharf.api.routers import container_fs as container_fs_router
from wharf.api.routers import containers as containers_router
from wharf.api.routers import events as events_router
from wharf.api.routers import exec as exec_router
from wharf.api.routers import images as images_router
from wharf.api.routers import networks as networks_router
from wharf.api.routers import system as system_router
from wharf.api.routers import volumes as volumes_router
from wharf.engine.engine import Engine
from wharf.engine.exec import ExecConfig
from wharf.engine.network_base import EventLoopRunner
from wharf.engine.networks import NetworkService
from wharf.engine.system import DaemonPaths
from wharf.errdefs import WharfError
from wharf.remotes.settings import DEFAULT_CERTS_DIR, RegistrySettings, parse_mirror

log = logging.getLogger("wharf.daemon")

DEFAULT_HOST = "unix:///run/wharf/wharf.sock"
DEFAULT_DATA_ROOT = "/var/lib/wharf"
DEFAULT_EXEC_ROOT = "/run/wharf"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wharfd", description="The Wharf engine daemon.")
    parser.add_argument(
        "-H",
        "--host",
        default=os.environ.get("WHARF_HOST", DEFAULT_HOST),
        help="socket to listen on: unix:///path or tcp://127.0.0.1:PORT",
    )
    parser.add_argument(
        "--data-root", default=os.environ.get("WHARF_ROOT", DEFAULT_DATA_ROOT), type=Path
    )
    parser.add_argument(
        "--exec-root", default=os.environ.get("WHARF_EXEC_ROOT", DEFAULT_EXEC_ROOT), type=Path
    )
    parser.add_argument(
        "-l",
        "--log-level",
        default="info",
        choices=["debug", "info", "warn", "error", "fatal"],
    )
    parser.add_argument(
        "--default-runtime",
        choices=["crun", "runc"],
        default=None,
        help="OCI runtime for containers (default: probe, crun where it works, else runc)",
    )
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="a registry reached over plain HTTP (loopback registries always are)",
    )
    parser.add_argument(
        "--registry-mirror",
        action="append",
        default=[],
        metavar="[REGISTRY=]MIRROR",
        help="a mirror tried first for REGISTRY (Docker Hub when no REGISTRY= is given)",
    )
    parser.add_argument(
        "--certs-dir",
        type=Path,
        default=DEFAULT_CERTS_DIR,
        help="per-registry TLS material, <dir>/<host>/{ca.crt,client.cert,client.key}",
    )
    parser.add_argument(
        "--network-prefix",
        default=os.environ.get("WHARF_NETWORK_PREFIX", ""),
        metavar="PREFIX",
        help="name our bridges, veths and nftables table after PREFIX (1-8 of [a-z0-9]) so"
        " several daemons can share a host; the default bridge is then PREFIX0",
    )
    parser.add_argument("-v", "--version", action="version", version=f"wharfd {__version__}")
    return parser.parse_args(argv)


def _drop_pyroute2_chatter(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or not record.name.startswith("pyroute2")


def _configure_logging(level_name: str, data_root: Path) -> None:
    level = {"warn": logging.WARNING, "fatal": logging.CRITICAL}.get(
        level_name, getattr(logging, level_name.upper(), logging.INFO)
    )
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(level)
    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setFormatter(formatter)
    root.addHandler(stderr_handler)
    file_handler = logging.FileHandler(data_root / "wharfd.log")
    file_handler.setFormatter(formatter)
    root.addHandler(file_handler)
    # aiohttp's access log is noise at info level; keep it for debugging.
    logging.getLogger("aiohttp.access").setLevel(max(level, logging.WARNING))
    # pyroute2 logs every netlink message at debug level (and resets its logger's level when
    # imported, so a setLevel here would not hold): the handlers drop its chatter instead.
    for handler in (stderr_handler, file_handler):
        handler.addFilter(_drop_pyroute2_chatter)


def _prepare_dirs(*dirs: Path) -> None:
    for directory in dirs:
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o711)
            probe = directory / f".wharfd-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise SystemExit(f"wharfd: {directory} is not writable: {exc.strerror}") from exc


def _take_pid_lock(exec_root: Path) -> int:
    """Hold ``wharfd.pid`` locked for the daemon's life: a second daemon fails fast."""
    fd = os.open(exec_root / "wharfd.pid", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode().strip()
        raise SystemExit(
            f"wharfd: another wharfd (pid {other or '?'}) is using exec root {exec_root}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


async def _serve(app: web.Application, host: str, networks: NetworkService | None = None) -> None:
    # Attach and follow streams outlive any grace period; cut them after a short one.
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site: web.BaseSite
    if host.startswith("unix://"):
        socket_path = Path(host.removeprefix("unix://"))
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()  # stale, from a crash: we hold the pid lock
        site = web.UnixSite(runner, str(socket_path))
        await site.start()
        os.chmod(socket_path, 0o660)
    elif host.startswith("tcp://"):
        address, _, port = host.removeprefix("tcp://").rpartition(":")
        site = web.TCPSite(runner, address or "127.0.0.1", int(port))
        await site.start()
    else:
        raise SystemExit(f"wharfd: unsupported host {host!r}: use unix:///path or tcp://addr:port")
    log.info("API listening on %s", host)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Streams (logs -f, stats, uploads) each hold a worker thread for their whole life.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=128, thread_name_prefix="api"))
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if networks is not None:
        # The embedded DNS server lives on this loop; the engine reaches it from its threads.
        await asyncio.to_thread(networks.attach_loop, EventLoopRunner(loop))
    await stop.wait()
    log.info("shutting down")
    if networks is not None:
        await asyncio.to_thread(networks.detach_loop)
    await runner.cleanup()
    if host.startswith("unix://"):
        with contextlib.suppress(FileNotFoundError):
            Path(host.removeprefix("unix://")).unlink()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    data_root: Path = args.data_root.absolute()
    exec_root: Path = args.exec_root.absolute()
    _prepare_dirs(data_root, exec_root)
    _configure_logging(args.log_level, data_root)
    lock_fd = _take_pid_lock(exec_root)
    log.info("wharfd %s starting (data root %s, exec root %s)", __version__, data_root, exec_root)
    try:
        mirrors: dict[str, tuple[str, ...]] = {}
        for text in args.registry_mirror:
            registry, mirror = parse_mirror(text)
            mirrors[registry] = (*mirrors.get(registry, ()), mirror)
        engine = Engine.open(
            DaemonPaths(data_root=data_root, exec_root=exec_root),
            default_runtime=args.default_runtime,
            registries=RegistrySettings(
                insecure=frozenset(args.insecure_registry),
                mirrors=mirrors,
                certs_dir=args.certs_dir,
            ),
            network_prefix=args.network_prefix,
        )
    except WharfError as exc:
        log.critical("cannot start: %s", exc.message)
        return 1
    try:
        app = build_app(
            [
                *system_router.routes(engine.system, __version__),
                *images_router.routes(engine.images),
                *containers_router.routes(engine.containers),
                *container_fs_router.routes(engine.inspector, engine.inspector),
                *exec_router.routes(engine.execs, ExecConfig.from_wire),
                *volumes_router.routes(engine.volumes),
                *networks_router.routes(engine.networks),
                *build_router.routes(engine.build),
                *events_router.routes(engine.events),
            ]
        )
        asyncio.run(_serve(app, args.host, engine.networks))
    finally:
        engine.close()
        os.close(lock_fd)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
