"""`wharf registry serve` through the wharf CLI: it starts, answers the distribution API on
loopback, and stops on SIGTERM."""

from __future__ import annotations

import http.client
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

WHARF = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "wharf"


def test_wharf_registry_serve(tmp_path) -> None:
    port_file = tmp_path / "port"
    server = subprocess.Popen(
        [
            str(WHARF),
            "registry",
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
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        port = int(port_file.read_text())
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/v2/")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Docker-Distribution-API-Version") == "registry/2.0"
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
