"""Configuration files, the command line (serve, gc, htpasswd) and the root lock."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wharf.errdefs import Conflict, InvalidArgument
from wharf.registry.auth import Htpasswd
from wharf.registry.config import AuthMode, load_config, parse_addr
from wharf.registry.main import main
from wharf.registry.server import RootLock


def test_defaults(tmp_path: Path) -> None:
    config = load_config(None, root=tmp_path)
    assert config.addr == "127.0.0.1:5000"
    assert config.auth.mode is AuthMode.NONE
    assert config.max_manifest_bytes == 4 * 1024 * 1024
    assert config.delete_enabled and not config.read_only


def test_full_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(
        """
root = "data"
addr = "0.0.0.0:6000"
read_only = true
[tls]
cert = "c.pem"
key = "k.pem"
[auth]
mode = "token"
htpasswd = "htpasswd"
anonymous_pull = true
[auth.token]
service = "svc"
expires_in = 600
[[auth.access]]
account = "alice"
repository = "alice/*"
actions = ["pull", "push"]
[gc]
interval = 60
grace = 120
delete_untagged = true
"""
    )
    config = load_config(path)
    assert config.root == tmp_path / "data"
    assert config.host_port == ("0.0.0.0", 6000)
    assert config.read_only
    assert config.tls is not None and config.tls.cert == tmp_path / "c.pem"
    assert config.auth.mode is AuthMode.TOKEN and config.auth.token.service == "svc"
    assert config.auth.access[0].actions == {"pull", "push"}
    assert config.gc.interval == 60.0 and config.gc.delete_untagged
    overridden = load_config(path, root=tmp_path / "other", addr="127.0.0.1:1")
    assert overridden.root == tmp_path / "other" and overridden.addr == "127.0.0.1:1"


@pytest.mark.parametrize(
    "text",
    [
        "root = 1",
        'root = "r"\n[auth]\nmode = "kerberos"',
        'root = "r"\n[auth]\nmode = "htpasswd"',
        'root = "r"\n[tls]\ncert = "c"',
        'root = "r"\naddr = "nope"',
        "not toml = = =",
        "",
    ],
)
def test_bad_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidArgument):
        load_config(path)


def test_parse_addr() -> None:
    assert parse_addr("[::1]:5000") == ("::1", 5000)
    for bad in ("host", ":5000", "h:99999", "h:x"):
        with pytest.raises(InvalidArgument):
            parse_addr(bad)


def test_root_lock(tmp_path: Path) -> None:
    lock = RootLock(tmp_path)
    with pytest.raises(Conflict):
        RootLock(tmp_path)
    lock.release()
    RootLock(tmp_path).release()


def test_main_htpasswd_and_gc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "htpasswd"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["htpasswd", "--file", str(path), "alice"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("other\n"))
    assert main(["htpasswd", "--file", str(path), "bob"]) == 0
    users = Htpasswd(path)
    assert users.verify("alice", "s3cret") and users.verify("bob", "other")
    assert main(["gc", "--root", str(tmp_path / "root"), "--dry-run"]) == 0
    lock = RootLock(tmp_path / "root")
    try:
        assert main(["gc", "--root", str(tmp_path / "root")]) == 2  # a server holds the root
    finally:
        lock.release()
    assert main(["serve"]) == 2  # no root


def test_module_serves_until_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wharf.registry",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--root",
            str(tmp_path / "root"),
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert int(port_file.read_text()) > 0
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert b"listening on http://127.0.0.1:" in err
