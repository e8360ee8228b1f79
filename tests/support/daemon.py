"""A real ``wharfd`` for integration tests, with its own socket, data root and exec root.

Each ``WharfDaemon`` owns one temp dir; paths stay short because a unix socket path must fit in
108 bytes::

    /tmp/wharf-XXXXXXXX/
      wharfd.sock     the API socket; host = "unix:///tmp/wharf-XXXXXXXX/wharfd.sock"
      data/           --data-root
      exec/           --exec-root
      wharfd.log      the daemon's stdout and stderr, appended across restarts

Lifecycle: ``start()`` (waits for ``GET /_ping``), ``kill9()``, ``restart()`` (same dirs),
``close()``. ``close()`` stops the daemon with SIGTERM (SIGKILL after a grace period), then
checks that nothing leaked: no process still running from or inside the temp dir, no mount
under it. It cleans up whatever it finds, removes the temp dir, and raises ``LeakError``
listing what it had to clean (so a leak fails the test whose teardown found it).

Networks: each daemon gets its own ``--network-prefix`` (``w`` + 6 random hex digits), so its
bridges (``<prefix>0``, ``<prefix>-<hex>``), veths (``<prefix>v<hex>``) and nftables table
(``wharf_<prefix>``) never collide with a parallel test daemon's. ``close()`` checks that a
cleanly stopped daemon left none of them (and deletes what a killed one left).

Invariants: processes are only ever signalled by PID (never by name); the CLI runs with
``WHARF_NO_AUTOSTART=1`` so a test never talks to, or starts, any daemon but its own.
Imports the standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
WHARF = VENV_BIN / "wharf"
WHARFD = VENV_BIN / "wharfd"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
COMMAND_TIMEOUT = 120.0
_OUTPUT_LIMIT = 4000
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


class DaemonError(RuntimeError):
    """wharfd would not start, or died; the message carries the tail of its log."""


class LeakError(AssertionError):
    """Teardown found (and cleaned up) processes or mounts the daemon left behind."""


class CommandFailed(subprocess.CalledProcessError):
    """A CLI command exited non-zero; unlike its base class, str() shows stdout and stderr."""

    def __str__(self) -> str:
        def clip(data: str | bytes | None) -> str:
            text = data.decode(errors="replace") if isinstance(data, bytes) else data or ""
            return text if len(text) <= _OUTPUT_LIMIT else "..." + text[-_OUTPUT_LIMIT:]

        return (
            f"{super().__str__()}\n--- stdout ---\n{clip(self.stdout)}"
            f"\n--- stderr ---\n{clip(self.stderr)}"
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP response read whole from the daemon's socket."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        # The host only fills the Host header; Docker's own clients send this one.
        super().__init__("api.moby.localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class WharfDaemon:
    """One private wharfd; use as a context manager or call ``start()`` and ``close()``."""

    def __init__(self, *, log_level: str = "debug", extra_args: tuple[str, ...] = ()) -> None:
        self.extra_args = extra_args
        self.root = Path(tempfile.mkdtemp(prefix="wharf-", dir="/tmp"))
        self.socket = self.root / "wharfd.sock"
        self.data_root = self.root / "data"
        self.exec_root = self.root / "exec"
        self.log_path = self.root / "wharfd.log"
        self.host = f"unix://{self.socket}"
        self.log_level = log_level
        self.network_prefix = "w" + secrets.token_hex(3)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = False  # set when we signal it, so any other exit counts as a crash
        self._problems: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close(check=False)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, *, timeout: float = START_TIMEOUT) -> None:
        """Start wharfd and return once it answers ``GET /_ping``."""
        if self.running:
            raise DaemonError(f"wharfd already running (pid {self.pid})")
        if not os.access(WHARFD, os.X_OK):
            raise DaemonError(f"{WHARFD} is missing: run scripts/install")
        self.data_root.mkdir(exist_ok=True)
        self.exec_root.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(WHARFD), "-H", self.host,
                    "--data-root", str(self.data_root),
                    "--exec-root", str(self.exec_root),
                    "--log-level", self.log_level,
                    "--network-prefix", self.network_prefix,
                    *self.extra_args,
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self._stopping = False
        deadline = time.monotonic() + timeout
        while not self.ping():
            code = self._proc.poll()
            if code is not None:
                raise DaemonError(
                    f"wharfd exited with {code} before answering /_ping\n" + self.log_tail()
                )
            if time.monotonic() > deadline:
                self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT)
                raise DaemonError(
                    f"wharfd did not answer /_ping within {timeout:.0f}s\n" + self.log_tail()
                )
            time.sleep(0.02)

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; return the exit status (None: not started)."""
        if self._proc is None:
            return None
        if self._proc.poll() is not None and not self._stopping:
            self._problems.append(
                f"wharfd died on its own with status {self._proc.returncode}; "
                f"log tail:\n{self.log_tail()}"
            )
            self._stopping = True
        if self._proc.poll() is None and not self._signal_and_wait(signal.SIGTERM, timeout):
            self._problems.append(f"wharfd ignored SIGTERM for {timeout:.0f}s; killed")
            self._signal_and_wait(signal.SIGKILL, timeout)
        return self._proc.returncode

    def kill9(self) -> None:
        """Kill wharfd with SIGKILL, leaving its socket, state and children as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT)

    def restart(self, *, timeout: float = START_TIMEOUT) -> None:
        """Stop wharfd if it runs (SIGTERM) and start it again on the same dirs."""
        self.stop()
        self.start(timeout=timeout)

    def close(self, *, check: bool = True) -> None:
        """Stop wharfd, clean up whatever it left, remove the temp dir; raise LeakError if
        ``check`` and anything had to be cleaned.

        Containers a test left are removed through the API first (that is test hygiene);
        whatever is still left after that is the engine's leak, and fails the check."""
        self.remove_all_containers()
        status = self.stop()
        problems = self._problems
        self._problems = []
        problems += _kill_processes_under(self.root)
        problems += _unmount_under(self.root)
        leftovers = self.remove_network_leftovers()
        if status == 0:  # a daemon that was killed cannot have cleaned up
            problems += leftovers
        try:
            shutil.rmtree(self.root)
        except OSError as exc:
            problems.append(f"could not remove {self.root}: {exc}")
        if check and problems:
            raise LeakError("wharfd left things behind:\n  " + "\n  ".join(problems))

    def network_links(self) -> list[str]:
        """Names of the host interfaces carrying this daemon's network prefix."""
        return _links_with_prefix(self.network_prefix)

    @property
    def nft_table(self) -> str:
        return f"wharf_{self.network_prefix}"

    def remove_network_leftovers(self, *, settle: float = 3.0) -> list[str]:
        """Delete this daemon's interfaces and nftables table if any are left (veths of a
        removed namespace vanish on their own a moment later: wait ``settle`` seconds for
        them first); one line per thing deleted."""
        deadline = time.monotonic() + settle
        links = self.network_links()
        while links and time.monotonic() < deadline:
            time.sleep(0.05)
            links = self.network_links()
        found = []
        for name in links:
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)
            found.append(f"network interface left: {name}")
        tables = subprocess.run(
            ["nft", "list", "tables"], check=False, capture_output=True, text=True
        ).stdout
        if f"table inet {self.nft_table}\n" in tables + "\n":
            subprocess.run(
                ["nft", "delete", "table", "inet", self.nft_table], check=False, capture_output=True
            )
            found.append(f"nftables table left: inet {self.nft_table}")
        return found

    def remove_all_containers(self) -> None:
        """``rm -f`` every container, best effort (the daemon may be down)."""
        if not self.running:
            return
        try:
            reply = self.request("GET", "/containers/json?all=1")
            if reply.status != 200:
                return
            for container in reply.json():
                self.request("DELETE", f"/containers/{container['Id']}?force=1&v=1", timeout=60)
        except (OSError, http.client.HTTPException, ValueError):
            return

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> bool:
        assert self._proc is not None
        self._stopping = True
        self._proc.send_signal(sig)
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    # -- talking to it ---------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment for a client of this daemon (and of no other)."""
        return {**os.environ, "WHARF_HOST": self.host, "WHARF_NO_AUTOSTART": "1"}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
    ) -> Reply:
        """One HTTP request over the unix socket, response read whole."""
        conn = _UnixHTTPConnection(str(self.socket), timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            return Reply(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def ping(self) -> bool:
        """True when ``GET /_ping`` answers 200."""
        try:
            return self.request("GET", "/_ping", timeout=2.0).status == 200
        except (OSError, http.client.HTTPException):
            return False

    @property
    def wharf_path(self) -> Path:
        """The CLI binary, for tests that drive it through a pty."""
        return WHARF

    def wharf(
        self,
        *args: str | os.PathLike[str],
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
        env_extra: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``wharf ARGS...`` against this daemon; text output. Raises CommandFailed if
        ``check`` and it exits non-zero. ``env_extra`` adds to the client's environment."""
        proc = subprocess.run(
            [str(WHARF), *map(str, args)], input=input, capture_output=True, text=True,
            env={**self.env, **(env_extra or {})}, timeout=timeout,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise CommandFailed(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc

    def wharf_bytes(
        self,
        *args: str | os.PathLike[str],
        input: bytes | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[bytes]:
        """Like ``wharf`` with binary stdin and stdout (``save``/``load`` through pipes)."""
        proc = subprocess.run(
            [str(WHARF), *map(str, args)], input=input, capture_output=True,
            env=self.env, timeout=timeout,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise CommandFailed(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc

    def ensure_image(self, ref: str, rootfs_tar: Path, *, cmd: str) -> None:
        """``wharf import -c 'CMD ...'`` the tar as ``ref`` unless the daemon already has it."""
        if self.wharf("image", "inspect", ref, check=False).returncode != 0:
            self.wharf("import", "-c", f"CMD {cmd}", rootfs_tar, ref)

    def log_tail(self, limit: int = _OUTPUT_LIMIT) -> str:
        """The end of the daemon's log, for failure messages."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def _links_with_prefix(prefix: str) -> list[str]:
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    return sorted(name for name in names if name.startswith(prefix))


def _kill_processes_under(root: Path) -> list[str]:
    """SIGKILL every process whose executable, cwd, root or command line lies under ``root``
    (monitors, runtimes and shells a test forgot); return one line per process."""
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(entry / name) for name in ("exe", "cwd", "root")]
            cmdline = (
                (entry / "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
        except OSError:
            continue  # gone meanwhile, or a kernel thread
        # mkdtemp names have a fixed length, so no other temp dir's path contains ours.
        if any(_is_under(Path(link), root) for link in links) or str(root) in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                continue
            found.append(f"process {entry.name} still running: {cmdline[:200]}")
    return found


def _is_under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
        points.append(_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), line.split(" ")[4]))
    return points


def _unmount_under(root: Path) -> list[str]:
    """Lazily unmount every mount at or under ``root``, deepest first; one line per mount."""
    leaked = [p for p in _mount_points() if _is_under(Path(p), root)]
    for point in sorted(leaked, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    return [f"mount left at {point}" for point in leaked]
