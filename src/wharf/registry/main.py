"""Command line of the registry: ``python -m wharf.registry serve|gc|htpasswd``.

Layer L4 entry point (DESIGN.md: "registry entry point"); ``wharf registry serve`` in the
CLI calls ``main(argv)``. Imports: stdlib, ``wharf.errdefs``, ``wharf.registry.*``.

    serve [--addr HOST:PORT] [--root DIR] [--config FILE] [--port-file FILE]
    gc [--root DIR] [--config FILE] [--dry-run]        offline; refuses while a server runs
    htpasswd --file FILE USER                          adds/replaces USER, password on stdin

Exit codes: 0 success, 1 runtime failure, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from wharf.errdefs import Conflict, InvalidArgument, WharfError
from wharf.registry.config import RegistryConfig, load_config

_log = logging.getLogger("wharf.registry")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wharf registry", description="OCI distribution registry")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the registry server")
    serve.add_argument("--addr", help="listen address host:port (default 127.0.0.1:5000)")
    serve.add_argument("--root", type=Path, help="storage directory")
    serve.add_argument("--config", type=Path, help="TOML configuration file")
    serve.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    gc = sub.add_parser("gc", help="collect garbage offline (the server must be stopped)")
    gc.add_argument("--root", type=Path)
    gc.add_argument("--config", type=Path)
    gc.add_argument("--dry-run", action="store_true")
    htpasswd = sub.add_parser("htpasswd", help="add a bcrypt entry to an htpasswd file")
    htpasswd.add_argument("--file", type=Path, required=True)
    htpasswd.add_argument("user")
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(args: argparse.Namespace) -> RegistryConfig:
    return load_config(args.config, root=args.root, addr=getattr(args, "addr", None))


def _write_port(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


async def _serve(config: RegistryConfig, port_file: Path | None) -> None:
    from wharf.registry.server import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(_host: str, port: int) -> None:
        if port_file is not None:
            _write_port(port_file, port)

    await serve(config, stop=stop, on_ready=ready)


def _gc(config: RegistryConfig, dry_run: bool) -> None:
    from wharf.registry.server import RootLock
    from wharf.registry.service import open_service

    lock = RootLock(config.root)
    try:
        open_service(config).collector.collect(dry_run=dry_run)
    finally:
        lock.release()


def _htpasswd(path: Path, user: str) -> None:
    from wharf.registry.auth import hash_password

    if not user or ":" in user:
        raise InvalidArgument(f"invalid user name {user!r}")
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise InvalidArgument("empty password on stdin")
    lines = []
    with contextlib.suppress(FileNotFoundError):
        lines = [ln for ln in path.read_text().splitlines() if ln.partition(":")[0] != user]
    lines.append(f"{user}:{hash_password(password)}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    try:
        if args.command == "htpasswd":
            _configure_logging("info")
            _htpasswd(args.file, args.user)
            return 0
        config = _load(args)
        _configure_logging(config.log_level)
        if args.command == "serve":
            asyncio.run(_serve(config, args.port_file))
        else:
            _gc(config, args.dry_run)
        return 0
    except (InvalidArgument, Conflict) as exc:
        _log.error("%s", exc.message)
        return 2
    except WharfError as exc:
        _log.error("%s", exc.message)
        return 1
    except KeyboardInterrupt:
        return 130
