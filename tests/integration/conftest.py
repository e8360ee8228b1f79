"""Fixtures that start real wharfd daemons (see support/daemon.py for the harness itself).

- ``daemon`` (function scope): a fresh daemon per test, for tests that restart, kill or fill it.
- ``shared_daemon`` (session scope, so one per xdist worker): for tests that only add objects
  with unique names and remove them.
- ``base_image_tars`` (session scope): rootfs tars built once per worker, by the same code as
  scripts/base-images (support/rootfs.py).
- ``busybox_daemon`` (session scope): ``shared_daemon`` with ``busybox:latest`` imported.

Every wharfd this worker starts gets a network prefix (``WHARF_NETWORK_PREFIX``, or the
harness's own ``--network-prefix``), so parallel workers never share a bridge or nftables table.

A failing test gets the tail of each daemon's log attached to its report. A daemon that leaks
processes or mounts fails the teardown of the test (or session) that owned it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator

import pytest

from support.daemon import WharfDaemon
from support.rootfs import BUSYBOX_REF, DEBIAN_TARBALL, BaseImageTars, build_busybox_rootfs

_DAEMON_FIXTURES = ("daemon", "shared_daemon", "busybox_daemon")

# Daemons a test starts by hand (not through WharfDaemon, which passes its own prefix) must not
# share the host-wide default names (bridge wharf0, nftables table "wharf") with a parallel
# worker's: give every daemon this worker starts a network prefix of its own.
os.environ.setdefault("WHARF_NETWORK_PREFIX", "x" + secrets.token_hex(3))


@pytest.fixture
def daemon() -> Iterator[WharfDaemon]:
    with WharfDaemon() as d:
        yield d


@pytest.fixture(scope="session")
def shared_daemon() -> Iterator[WharfDaemon]:
    with WharfDaemon() as d:
        yield d


@pytest.fixture(scope="session")
def base_image_tars(tmp_path_factory: pytest.TempPathFactory) -> BaseImageTars:
    busybox = build_busybox_rootfs(tmp_path_factory.mktemp("rootfs") / "busybox.tar")
    return BaseImageTars(busybox, DEBIAN_TARBALL if DEBIAN_TARBALL.is_file() else None)


@pytest.fixture(scope="session")
def busybox_daemon(shared_daemon: WharfDaemon, base_image_tars: BaseImageTars) -> WharfDaemon:
    shared_daemon.ensure_image(BUSYBOX_REF, base_image_tars.busybox, cmd='["sh"]')
    return shared_daemon


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in _DAEMON_FIXTURES:
            d = funcargs.get(name)
            if isinstance(d, WharfDaemon):
                report.sections.append((f"wharfd log ({name}, tail)", d.log_tail()))
    return report
