"""The shop of examples/shop under ``wharf compose``: built and started healthy, an order through
web's published port on 127.0.0.1 that touches all four services, a restarted service the app
recovers from, catalog scaled to two replicas that both answer by name, orders that survive
``down`` without ``-v``, and a ``down -v`` that leaves nothing of the project behind."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.daemon import WharfDaemon

pytestmark = pytest.mark.integration

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Shop:
    def __init__(self, daemon: WharfDaemon) -> None:
        self.daemon = daemon
        self.project = "shop" + secrets.token_hex(4)
        self.port = _free_port()

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.daemon.wharf(
            "compose", "-p", self.project, "-f", SHOP / "compose.yaml", *args,
            check=check, timeout=300, env_extra={"SHOP_PORT": str(self.port)},
        )  # fmt: skip

    def request(self, path: str, *, data: bytes | None = None, token: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers
        )
        with urllib.request.urlopen(req, timeout=20) as answer:
            return json.loads(answer.read())

    def order(self, product: int) -> dict[str, Any]:
        token = self.request("/api/auth/login?user=tester")["token"]
        order = self.request("/api/store/order", data=f"product={product}".encode(), token=token)
        assert isinstance(order, dict)
        return order

    def names(self, kind: str) -> list[str]:
        label = f"label=com.docker.compose.project={self.project}"
        if kind == "container":
            out = self.daemon.wharf("ps", "-a", "--filter", label, "--format", "{{.Names}}")
        else:
            out = self.daemon.wharf(kind, "ls", "-q", "--filter", label)
        return out.stdout.split()


def _eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (urllib.error.URLError, OSError, ValueError, AssertionError):
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture
def shop(busybox_daemon: WharfDaemon) -> Iterator[Shop]:
    app = Shop(busybox_daemon)
    try:
        yield app
    finally:
        app.compose("down", "-v", "-t", "1", check=False)
        for tag in ("web", "auth", "catalog", "store"):
            busybox_daemon.wharf("rmi", f"{app.project}-{tag}", check=False)


def test_the_shop_takes_orders_recovers_scales_and_goes_away(shop: Shop) -> None:
    shop.compose("up", "-d", "--build", "--wait")
    status = shop.compose("ps", "--format", "{{.Service}} {{.Status}}").stdout
    assert status.count("(healthy)") == 4, status

    # One request through web touches all four: web -> store -> auth (token) + catalog (price).
    order = shop.order(2)
    assert order["order"] == 1 and order["user"] == "tester"
    assert order["product"] and order["price"] and order["catalog"]

    # A service restarts; the app answers again once it is back.
    shop.compose("restart", "auth")
    again = _eventually(lambda: shop.order(1), "an order after auth restarted")
    assert again["order"] == 2

    # Two catalog replicas, both reached through the service name.
    shop.compose("up", "-d", "--wait", "--scale", "catalog=2")
    served_by = set()
    for _ in range(40):
        served_by.add(shop.request("/api/catalog/product?id=1")["served_by"])
        if len(served_by) == 2:
            break
    assert len(served_by) == 2, served_by

    # down keeps the store's volume: the next up numbers orders after the old ones.
    shop.compose("down", "-t", "1")
    assert shop.names("container") == [] and shop.names("network") == []
    assert shop.names("volume") == [f"{shop.project}_store-data"]
    shop.compose("up", "-d", "--wait")
    assert _eventually(lambda: shop.order(3), "an order after down and up")["order"] == 3

    shop.compose("down", "-v", "-t", "1")
    assert shop.names("container") == []
    assert shop.names("network") == []
    assert shop.names("volume") == []
