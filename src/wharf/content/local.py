"""LocalStore: the content store on a local filesystem.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest``, ``wharf.content.store``.

Layout under ``root`` (the daemon uses ``<data-root>/content``)::

    root/
      blobs/
        sha256/
          <hex>                  a committed blob: mode 0444, complete, digest-verified
      ingest/
        <sha256(ref) hex>/       one in-progress write (hashing the ref keeps any ref usable
          ref                    as a file name); the ref itself, written last at creation
          data                   the bytes written so far; its size is the offset
          startedat              float seconds since the epoch
          updatedat              float, rewritten when a writer opens and closes
          expected               optional: the digest the writer announced
          total                  optional: the size the writer announced
          lock                   flock(LOCK_EX) held by the live Writer of this ref

Invariants:

- ``blobs/`` only ever gains a file by ``rename(ingest/<h>/data, blobs/sha256/<hex>)`` after
  the size and digest were checked and the data fsynced; the blobs directory is fsynced after
  the rename. So a crash at any moment leaves either no blob or a whole one.
- ``ingest/`` and ``blobs/`` share a filesystem (both under ``root``), so the rename is atomic.
- An ingest directory is changed only by the process holding its ``lock`` file. flock locks
  die with their process, so a crashed writer leaves an unlocked ingest that a new writer
  resumes or ``cleanup()`` removes (the daemon calls it at start).
- Removing an ingest unlinks ``lock`` last; a waiter that then gets the old lock sees that
  its inode is no longer at ``lock`` and starts over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from wharf.content.store import BlobInfo, IngestStatus, WriterState
from wharf.errdefs import Conflict, EngineFailure, InvalidArgument, NotFound, Unsupported
from wharf.oci.digest import Digest, Digester

_READ_CHUNK = 1 << 20
_LOCK_ATTEMPTS = 100
_SUPPORTED_ALGORITHM = "sha256"


class LocalStore:
    """A content store (``wharf.content.store.Store``) rooted at a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs"
        self._ingest = self.root / "ingest"
        try:
            (self._blobs / _SUPPORTED_ALGORITHM).mkdir(parents=True, exist_ok=True)
            self._ingest.mkdir(parents=True, exist_ok=True)
            # mkdir(exist_ok=True) succeeds on a read-only mount; creating a file does not.
            probe = self._ingest / f".probe-{os.getpid()}-{time.monotonic_ns()}"
            fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise InvalidArgument(f"data root {self.root} is not writable: {_reason(exc)}") from exc

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # Provider

    def blob_path(self, digest: Digest) -> Path:
        """Where ``digest`` lives once committed (whether or not it exists)."""
        return self._blobs / digest.algorithm / digest.hex

    def info(self, digest: Digest) -> BlobInfo:
        try:
            st = os.stat(self.blob_path(digest))
        except FileNotFoundError as exc:
            raise NotFound(f"content {digest} not found") from exc
        except OSError as exc:
            raise EngineFailure(f"stat content {digest}: {_reason(exc)}") from exc
        return BlobInfo(digest, st.st_size, st.st_mtime)

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")  # the caller closes it
        except FileNotFoundError as exc:
            raise NotFound(f"content {digest} not found") from exc
        except OSError as exc:
            raise EngineFailure(f"open content {digest}: {_reason(exc)}") from exc

    def read_bytes(self, digest: Digest) -> bytes:
        with self.open(digest) as reader:
            try:
                return reader.read()
            except OSError as exc:
                raise EngineFailure(f"read content {digest}: {_reason(exc)}") from exc

    def exists(self, digest: Digest) -> bool:
        return self.blob_path(digest).is_file()

    # Manager

    def delete(self, digest: Digest) -> None:
        try:
            os.unlink(self.blob_path(digest))
        except FileNotFoundError as exc:
            raise NotFound(f"content {digest} not found") from exc
        except OSError as exc:
            raise EngineFailure(f"delete content {digest}: {_reason(exc)}") from exc

    def walk(self) -> Iterator[BlobInfo]:
        try:
            with os.scandir(self._blobs) as entries:
                algorithms = [e for e in entries if e.is_dir()]
        except OSError as exc:
            raise EngineFailure(f"list {self._blobs}: {_reason(exc)}") from exc
        for algorithm in algorithms:
            with os.scandir(algorithm.path) as entries:
                for entry in entries:
                    try:
                        digest = Digest.parse(f"{algorithm.name}:{entry.name}")
                        st = entry.stat()
                    except (InvalidArgument, FileNotFoundError):
                        # Foreign files are not blobs; a blob deleted mid-walk is gone.
                        continue
                    yield BlobInfo(digest, st.st_size, st.st_mtime)

    def usage(self) -> int:
        return sum(info.size for info in self.walk())

    # Ingester

    def writer(
        self, ref: str, *, expected: Digest | None = None, expected_size: int | None = None
    ) -> LocalWriter:
        if not ref:
            raise InvalidArgument("ingest ref must not be empty")
        if expected is not None and expected.algorithm != _SUPPORTED_ALGORITHM:
            raise Unsupported(f"cannot verify {expected}: only sha256 content is supported")
        if expected_size is not None and expected_size < 0:
            raise InvalidArgument(f"expected size {expected_size} is negative")
        path = self._ingest_path(ref)
        lock_fd = self._lock_ingest(ref, path)
        try:
            return self._open_writer(ref, path, lock_fd, expected, expected_size)
        except BaseException:
            os.close(lock_fd)
            raise

    def _ingest_path(self, ref: str) -> Path:
        return self._ingest / hashlib.sha256(ref.encode()).hexdigest()

    def _lock_ingest(self, ref: str, path: Path) -> int:
        """Create the ingest dir if needed and take its lock; returns the locked fd."""
        lock_path = path / "lock"
        for _ in range(_LOCK_ATTEMPTS):
            try:
                path.mkdir(exist_ok=True)
                fd = os.open(lock_path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            except (FileNotFoundError, FileExistsError):
                # Removed by a finishing writer between mkdir and open, or while mkdir
                # looked (exist_ok re-checks and sees it gone): try again.
                continue
            except OSError as exc:
                raise EngineFailure(f"create ingest {ref!r}: {_reason(exc)}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                os.close(fd)
                raise Conflict(f"ref {ref} is locked") from exc
            except OSError as exc:
                os.close(fd)
                raise EngineFailure(f"lock ingest {ref!r}: {_reason(exc)}") from exc
            if _same_file(fd, lock_path):
                return fd
            os.close(fd)  # we locked a lock file that its owner already unlinked
        # Only a vanished ingest/ directory (or a pathological race) gets here.
        raise EngineFailure(f"cannot lock ingest {ref!r} under {self._ingest}")

    def _open_writer(
        self,
        ref: str,
        path: Path,
        lock_fd: int,
        expected: Digest | None,
        expected_size: int | None,
    ) -> LocalWriter:
        now = time.time()
        try:
            resuming = (path / "ref").exists() and (path / "data").exists()
            if resuming:
                prior_expected = _read_digest(path / "expected")
                prior_total = _read_int(path / "total")
                if expected is not None and prior_expected not in (None, expected):
                    raise Conflict(f"ref {ref} is in progress for {prior_expected}, not {expected}")
                if expected_size is not None and prior_total not in (None, expected_size):
                    raise Conflict(
                        f"ref {ref} is in progress for {prior_total} bytes, not {expected_size}"
                    )
                expected = expected or prior_expected
                expected_size = expected_size if expected_size is not None else prior_total
                started = _read_float(path / "startedat") or now
            else:
                # A dir without "ref" is a creation that crashed half-way: start it over.
                started = now
                for name in ("expected", "total"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path / name)
                _write_text(path / "startedat", repr(started))
                if expected is not None:
                    _write_text(path / "expected", str(expected))
                if expected_size is not None:
                    _write_text(path / "total", str(expected_size))
            _write_text(path / "updatedat", repr(now))
            data = open(path / "data", "r+b" if resuming else "w+b")  # noqa: SIM115
            if not resuming:
                _write_text(path / "ref", ref)
        except OSError as exc:
            raise EngineFailure(f"open ingest {ref!r}: {_reason(exc)}") from exc
        try:
            digester = Digester()
            if resuming:
                # hashlib state cannot be saved, so a resume re-reads what is there.
                while chunk := data.read(_READ_CHUNK):
                    digester.update(chunk)
        except OSError as exc:
            data.close()
            raise EngineFailure(f"resume ingest {ref!r}: {_reason(exc)}") from exc
        except BaseException:
            data.close()
            raise
        return LocalWriter(
            store=self,
            ref=ref,
            path=path,
            lock_fd=lock_fd,
            data=data,
            digester=digester,
            expected=expected,
            expected_size=expected_size,
        )

    # IngestManager

    def ingests(self) -> list[IngestStatus]:
        result = []
        for path in self._ingest_dirs():
            status = _read_status(path)
            if status is not None:
                result.append(status)
        return sorted(result, key=lambda s: s.ref)

    def status(self, ref: str) -> IngestStatus:
        status = _read_status(self._ingest_path(ref))
        if status is None or status.ref != ref:
            raise NotFound(f"no such ingest: {ref}")
        return status

    def abort(self, ref: str) -> None:
        path = self._ingest_path(ref)
        if not (path / "ref").exists():
            raise NotFound(f"no such ingest: {ref}")
        lock_fd = self._lock_ingest(ref, path)
        try:
            _remove_ingest(path)
        finally:
            os.close(lock_fd)

    def cleanup(self, older_than_seconds: float = 0.0) -> list[str]:
        """Remove stale unlocked ingests; a dir that never got its ``ref`` file is reported
        by its directory name."""
        cutoff = time.time() - older_than_seconds
        removed = []
        for path in self._ingest_dirs():
            status = _read_status(path)
            if status is not None:
                if status.updated > cutoff:
                    continue
            else:
                try:  # a creation that crashed before writing "ref": age by the directory
                    if path.stat().st_mtime > cutoff:
                        continue
                except FileNotFoundError:
                    continue
            ref = status.ref if status is not None else path.name
            try:
                lock_fd = self._lock_ingest(ref, path)
            except Conflict:
                continue  # a live writer holds it
            try:
                _remove_ingest(path)
            finally:
                os.close(lock_fd)
            removed.append(ref)
        return removed

    def _ingest_dirs(self) -> list[Path]:
        try:
            with os.scandir(self._ingest) as entries:
                return [Path(e.path) for e in entries if e.is_dir()]
        except OSError as exc:
            raise EngineFailure(f"list {self._ingest}: {_reason(exc)}") from exc

    def _publish(self, path: Path, digest: Digest) -> None:
        """Move the verified, fsynced ``path/data`` into blobs/ (or drop it if already there)."""
        target = self.blob_path(digest)
        if target.exists():
            return
        source = path / "data"
        now = time.time()
        os.chmod(source, 0o444)
        os.utime(source, (now, now))  # a blob's mtime is its commit time (BlobInfo.created)
        os.rename(source, target)
        _fsync_dir(target.parent)


class LocalWriter:
    """A LocalStore ingest held open; owns the ingest's lock until finished."""

    def __init__(
        self,
        *,
        store: LocalStore,
        ref: str,
        path: Path,
        lock_fd: int,
        data: BinaryIO,
        digester: Digester,
        expected: Digest | None,
        expected_size: int | None,
    ) -> None:
        self._store = store
        self._ref = ref
        self._path = path
        self._lock_fd = lock_fd
        self._data = data
        self._digester = digester
        self._expected = expected
        self._expected_size = expected_size
        self._state = WriterState.OPEN

    def __repr__(self) -> str:
        return f"LocalWriter(ref={self._ref!r}, offset={self.offset}, state={self._state.value})"

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return self._digester.size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._check_open()
        view = memoryview(data).cast("B")
        if self._expected_size is not None and self.offset + len(view) > self._expected_size:
            raise InvalidArgument(
                f"write to {self._ref} past its expected size {self._expected_size}"
            )
        try:
            self._data.write(view)
        except OSError as exc:
            # The file may now hold part of this chunk; a resume re-reads and re-hashes it.
            with contextlib.suppress(EngineFailure):
                self._finish(WriterState.CLOSED)
            raise EngineFailure(f"write ingest {self._ref!r}: {_reason(exc)}") from exc
        self._digester.update(view)

    def commit(self, expected: Digest | None = None, size: int | None = None) -> Digest:
        self._check_open()
        expected = expected if expected is not None else self._expected
        size = size if size is not None else self._expected_size
        if expected is not None and expected.algorithm != _SUPPORTED_ALGORITHM:
            raise Unsupported(f"cannot verify {expected}: only sha256 content is supported")
        try:
            self._data.flush()
            os.fsync(self._data.fileno())
        except OSError as exc:
            self._finish(WriterState.ABORTED)
            raise EngineFailure(f"sync ingest {self._ref!r}: {_reason(exc)}") from exc
        self._data.close()
        if size is not None and self.offset != size:
            self._finish(WriterState.ABORTED)
            raise InvalidArgument(f"size mismatch: expected {size}, got {self.offset}")
        actual = self._digester.digest()
        if expected is not None and actual != expected:
            self._finish(WriterState.ABORTED)
            raise InvalidArgument(f"digest mismatch: expected {expected}, got {actual}")
        try:
            self._store._publish(self._path, actual)
        except OSError as exc:
            self._finish(WriterState.ABORTED)
            raise EngineFailure(f"commit {actual}: {_reason(exc)}") from exc
        self._finish(WriterState.COMMITTED)
        return actual

    def abort(self) -> None:
        if self._state is WriterState.OPEN:
            self._finish(WriterState.ABORTED)

    def close(self) -> None:
        if self._state is WriterState.OPEN:
            self._finish(WriterState.CLOSED)

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A writer dropped without close() must not keep its ref locked until exit.
        if getattr(self, "_state", None) is WriterState.OPEN:
            with contextlib.suppress(Exception):
                self.close()

    def _check_open(self) -> None:
        if self._state is not WriterState.OPEN:
            raise InvalidArgument(f"writer for {self._ref} is {self._state.value}")

    def _finish(self, state: WriterState) -> None:
        self._state = state
        try:
            if not self._data.closed:
                self._data.close()
            if state is WriterState.CLOSED:
                _write_text(self._path / "updatedat", repr(time.time()))
            else:
                _remove_ingest(self._path)
        except OSError as exc:
            raise EngineFailure(f"finish ingest {self._ref!r}: {_reason(exc)}") from exc
        finally:
            os.close(self._lock_fd)


def _remove_ingest(path: Path) -> None:
    """Remove an ingest dir whose lock the caller holds; the lock file goes last.

    ``ref`` goes first: a removal cut short by a crash leaves a dir that reads as a creation
    that never finished, which the next writer starts over and ``cleanup`` removes.
    """
    with os.scandir(path) as entries:
        names = sorted((e.name for e in entries if e.name != "lock"), key=lambda n: n != "ref")
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path / name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path / "lock")
    with contextlib.suppress(OSError):
        # ENOTEMPTY: a new writer of the same ref already re-created it; that is its dir now.
        os.rmdir(path)


def _read_status(path: Path) -> IngestStatus | None:
    try:
        ref = (path / "ref").read_text()
        offset = os.stat(path / "data").st_size
        data_mtime = os.stat(path / "data").st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise EngineFailure(f"read ingest {path.name}: {_reason(exc)}") from exc
    started = _read_float(path / "startedat") or data_mtime
    updated = max(_read_float(path / "updatedat") or 0.0, data_mtime)
    return IngestStatus(
        ref=ref,
        offset=offset,
        started=started,
        updated=updated,
        expected=_read_digest(path / "expected"),
        total=_read_int(path / "total"),
    )


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _read_float(path: Path) -> float | None:
    text = _read_optional(path)
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read_optional(path)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _read_digest(path: Path) -> Digest | None:
    text = _read_optional(path)
    try:
        return Digest.parse(text) if text else None
    except InvalidArgument:
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    if exc.strerror:
        return exc.strerror
    if exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc))
    return str(exc)
