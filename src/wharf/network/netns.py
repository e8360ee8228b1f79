"""Network namespaces as files: create, enter, remove.

Layer L1. Imports: stdlib and ``wharf.errdefs`` only (libc through ctypes: Python 3.11 has
neither ``os.unshare`` nor ``os.setns``).

A container's network namespace is a bind mount of an nsfs file onto an empty file, by
default under the exec root (the engine picks the path)::

    /run/wharf/netns/
      <container id>        empty file, bind mount of /proc/<pid>/task/<tid>/ns/net

The OCI runtime joins it through the spec's ``{"type": "network", "path": ...}``, so the
namespace, its veths and addresses exist before the container's process does, and it
outlives wharfd restarts (the mount pins it) until ``remove_netns``.

How it is made, in about a millisecond: a short-lived thread calls ``unshare(CLONE_NEWNET)``
(network namespaces are per thread), bind-mounts its own ``/proc/self/task/<tid>/ns/net``
onto the file, brings ``lo`` up with an ioctl and exits. No process is forked and no thread
of the daemon other than that throwaway one ever changes namespace. ``entered`` does switch
the calling thread (setns there and back) for code that must open sockets inside; prefer
``call_in``, which runs the function on a throwaway thread instead.

Invariants:
- After ``create_netns`` returns, the path is a mounted namespace with ``lo`` up; after it
  raises, nothing is left at the path.
- ``remove_netns`` is idempotent: a missing file or a file that is not a mount point is fine.
- Mount propagation is left as the exec root has it (as Docker's libnetwork does).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from wharf.errdefs import Conflict, EngineFailure, NotFound

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
_MS_BIND = 0x1000
_MNT_DETACH = 0x2
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare_net() -> None:
    _check(_libc.unshare(ctypes.c_int(CLONE_NEWNET)), "unshare(CLONE_NEWNET)")


def _setns(fd: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(CLONE_NEWNET)), "setns")


def _bind_mount(source: str, target: Path) -> None:
    _check(
        _libc.mount(os.fsencode(source), os.fsencode(target), None, ctypes.c_ulong(_MS_BIND), None),
        f"bind mount {source} on {target}",
    )


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def _on_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` on a new thread and hand back its result or exception.

    A thread that changed namespace dies with its namespace membership: nothing else runs on it.
    """
    box: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="wharf-netns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return box[0]


def is_netns(path: Path) -> bool:
    """True when ``path`` is a bind-mounted network namespace (an nsfs file)."""
    try:
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except FileNotFoundError:
        return False


def create_netns(path: Path) -> None:
    """Create a network namespace with ``lo`` up and pin it at ``path`` (a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
    except FileExistsError:
        if is_netns(path):
            raise Conflict(f"network namespace {path} already exists") from None
        # A file left by a crash between create and mount: take it over.

    def make() -> None:
        _unshare_net()
        _bind_mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path)
        _loopback_up()

    try:
        _on_thread(make)
    except OSError as exc:
        remove_netns(path)
        raise EngineFailure(f"cannot create network namespace {path}: {exc}") from exc


def remove_netns(path: Path) -> None:
    """Unmount (lazily) and delete a namespace file. Idempotent."""
    if _libc.umount2(os.fsencode(path), ctypes.c_int(_MNT_DETACH)) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise EngineFailure(f"cannot unmount network namespace {path}: {os.strerror(err)}")
    path.unlink(missing_ok=True)


def _open_netns(path: Path) -> int:
    if not is_netns(path):
        raise NotFound(f"no such network namespace: {path}")
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


@contextmanager
def entered(path: Path) -> Iterator[None]:
    """Run the body with the current thread inside the namespace at ``path``, then come back.

    Sockets opened inside stay in that namespace after the block. If the way back fails the
    thread cannot be trusted any more: EngineFailure says so (never seen in practice: setns to
    a namespace we hold an fd of only fails on resource exhaustion).
    """
    target = _open_netns(path)
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except BaseException:
        os.close(target)
        raise
    try:
        try:
            _setns(target)
        except OSError as exc:
            raise EngineFailure(f"cannot enter network namespace {path}: {exc}") from exc
        try:
            yield
        finally:
            try:
                _setns(home)
            except OSError as exc:
                raise EngineFailure(
                    f"thread {threading.get_native_id()} is stuck in network namespace {path}"
                ) from exc
    finally:
        os.close(target)
        os.close(home)


def call_in(path: Path, fn: Callable[[], T]) -> T:
    """Run ``fn`` inside the namespace at ``path`` on a throwaway thread and return its result."""
    fd = _open_netns(path)

    def run() -> T:
        _setns(fd)
        return fn()

    try:
        return _on_thread(run)
    finally:
        os.close(fd)


def socket_in(path: Path, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket that lives in the namespace at ``path`` (usable from any thread)."""
    return call_in(path, lambda: socket.socket(family, kind, proto))
