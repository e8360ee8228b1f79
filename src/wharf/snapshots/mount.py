"""mount(2) and umount2(2) for snapshots: libc through ctypes, the mount(8) command as fallback.

Imports: stdlib and ``wharf.errdefs`` only.

A direct syscall costs microseconds where ``mount`` (fork, exec, libmount) costs milliseconds,
and container start pays it once per container. Overlay options longer than a page are
refused by the kernel, so deep layer stacks are mounted with lowerdir paths relative to a
directory: the mount then runs in a helper thread that has unshared its working directory
(``unshare(CLONE_FS)``) and changed into that directory, leaving the process-wide cwd that
other threads rely on untouched. Without libc, ``mount(8)`` is run with that cwd instead.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import threading
from pathlib import Path

from wharf.errdefs import Conflict, EngineFailure, NotFound

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2
_CLONE_FS = 0x200

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MAX_OPTIONS = PAGE_SIZE - 1
"""Longest mount data string the kernel copies (one page, NUL included)."""


class _Libc:
    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)
        self.mount = lib.mount
        self.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        self.mount.restype = ctypes.c_int
        self.umount2 = lib.umount2
        self.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.umount2.restype = ctypes.c_int
        self.unshare = lib.unshare
        self.unshare.argtypes = [ctypes.c_int]
        self.unshare.restype = ctypes.c_int


_libc: _Libc | None = None
_libc_lock = threading.Lock()


def _load_libc() -> _Libc | None:
    global _libc
    with _libc_lock:
        if _libc is None:
            try:
                _libc = _Libc()
            except (OSError, AttributeError):
                return None
        return _libc


def _encode(value: str | Path | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _sys_mount(
    libc: _Libc, source: str | None, target: Path, fstype: str | None, flags: int, data: str | None
) -> None:
    if libc.mount(_encode(source), _encode(target), _encode(fstype), flags, _encode(data)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(target))


def mount(
    source: str,
    target: Path,
    fstype: str,
    *,
    flags: int = 0,
    options: str = "",
    cwd: Path | None = None,
) -> None:
    """Mount ``source`` on ``target``; relative paths in ``options`` resolve against ``cwd``."""
    if len(os.fsencode(options)) > MAX_OPTIONS:
        raise EngineFailure(
            f"cannot mount {fstype} on {target}: options exceed {MAX_OPTIONS} bytes"
        )
    libc = _load_libc()
    if libc is None:
        _mount_command(source, target, fstype, flags, options, cwd)
        return
    try:
        if cwd is None:
            _sys_mount(libc, source, target, fstype, flags, options or None)
        else:
            _mount_in_dir(libc, source, target, fstype, flags, options, cwd)
    except OSError as exc:
        raise EngineFailure(f"cannot mount {fstype} on {target}: {exc.strerror}") from exc


def _mount_in_dir(
    libc: _Libc, source: str, target: Path, fstype: str, flags: int, options: str, cwd: Path
) -> None:
    failure: list[BaseException] = []
    unshared = threading.Event()
    absolute_target = target.absolute()

    def run() -> None:
        try:
            if libc.unshare(_CLONE_FS) != 0:
                return  # unshared stays clear: fall back to mount(8)
            unshared.set()
            os.chdir(cwd)
            _sys_mount(libc, source, absolute_target, fstype, flags, options)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run, name="wharf-mount", daemon=True)
    worker.start()
    worker.join()
    if not unshared.is_set() and not failure:
        _mount_command(source, absolute_target, fstype, flags, options, cwd)
    elif failure:
        raise failure[0]


def _mount_command(
    source: str, target: Path, fstype: str, flags: int, options: str, cwd: Path | None
) -> None:
    extra = []
    if flags & MS_BIND:
        extra.append("rbind" if flags & MS_REC else "bind")
    if flags & MS_RDONLY:
        extra.append("ro")
    if flags & MS_REMOUNT:
        extra.append("remount")
    all_options = ",".join(filter(None, [*extra, options]))
    argv = ["mount", "-n"]
    if not flags & MS_BIND:
        argv += ["-t", fstype]
    if all_options:
        argv += ["-o", all_options]
    argv += [source, str(target.absolute())]
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EngineFailure(
            f"cannot mount {fstype} on {target}: {result.stderr.strip() or result.returncode}"
        )


def bind_mount(source: Path, target: Path, *, readonly: bool = False) -> None:
    """Recursive bind of ``source`` on ``target``, then a read-only remount if asked."""
    mount(str(source), target, "none", flags=MS_BIND | MS_REC)
    if readonly:
        try:
            mount("none", target, "none", flags=MS_BIND | MS_REMOUNT | MS_RDONLY)
        except EngineFailure:
            unmount(target, detach=True)
            raise


def unmount(target: Path, *, detach: bool = False) -> None:
    """Unmount ``target``; NotFound when nothing is mounted there, Conflict when busy."""
    libc = _load_libc()
    if libc is None:
        argv = ["umount", *(["-l"] if detach else []), str(target)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EngineFailure(f"cannot unmount {target}: {result.stderr.strip()}")
        return
    if libc.umount2(os.fsencode(target), MNT_DETACH if detach else 0) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):
        raise NotFound(f"nothing is mounted on {target}")
    if code == errno.EBUSY:
        raise Conflict(f"cannot unmount {target}: it is busy")
    raise EngineFailure(f"cannot unmount {target}: {os.strerror(code)}")
