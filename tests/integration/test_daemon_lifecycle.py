"""wharfd's own life: auto-start by the CLI (once, under a lock), refusal of a second daemon
on the same exec root, clean SIGTERM shutdown, and a read-only data root."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def _private_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WHARF_NO_AUTOSTART"}
    env.update(
        WHARF_HOST=f"unix://{root}/wharf.sock",
        WHARF_ROOT=str(root / "data"),
        WHARF_EXEC_ROOT=str(root / "exec"),
    )
    return env


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_cli_autostarts_one_daemon_and_sigterm_stops_it() -> None:
    root = Path(tempfile.mkdtemp(prefix="wharf-auto-", dir="/tmp"))
    env = _private_env(root)
    pid = None
    try:
        # Four CLIs race on a socket nobody serves: exactly one daemon must come up.
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(
                pool.map(
                    lambda _: subprocess.run(
                        [str(VENV_BIN / "wharf"), "images", "-q"],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=60,
                    ),
                    range(4),
                )
            )
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        pid = int((root / "exec" / "wharfd.pid").read_text())
        daemons = [
            p
            for p in os.listdir("/proc")
            if p.isdigit()
            and b"wharfd" in Path(f"/proc/{p}/cmdline").read_bytes()
            and str(root).encode() in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        assert daemons == [str(pid)]

        second = subprocess.run(
            [
                str(VENV_BIN / "wharfd"),
                "-H",
                f"unix://{root}/other.sock",
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "exec"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode != 0
        assert f"another wharfd (pid {pid})" in second.stderr

        os.kill(pid, signal.SIGTERM)
        assert _wait_gone(pid), "wharfd did not stop on SIGTERM"
        pid = None
        assert not (root / "wharf.sock").exists()
        assert "stopped" in (root / "data" / "wharfd.log").read_text()
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_read_only_data_root_is_refused_clearly() -> None:
    root = Path(tempfile.mkdtemp(prefix="wharf-ro-", dir="/tmp"))
    data = root / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(data)], check=True)
    try:
        result = subprocess.run(
            [
                str(VENV_BIN / "wharfd"),
                "-H",
                f"unix://{root}/s.sock",
                "--data-root",
                str(data),
                "--exec-root",
                str(root / "exec"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert result.stderr.strip() == (f"wharfd: {data} is not writable: Read-only file system")
        assert not (root / "s.sock").exists()
    finally:
        subprocess.run(["umount", str(data)], check=True)
        subprocess.run(["rm", "-rf", str(root)], check=False)
