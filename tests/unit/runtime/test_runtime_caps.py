"""Capability names and the --cap-add/--cap-drop/--privileged math, bounded by the daemon's set."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wharf.errdefs import InvalidArgument
from wharf.runtime.capabilities import (
    CAPABILITY_NAMES,
    DEFAULT_CAPABILITIES,
    capabilities_from_mask,
    capability_mask,
    compute_capabilities,
    daemon_capabilities,
    normalize_capability,
)

ALL_CAPS = CAPABILITY_NAMES
# This machine's sandbox: every capability but CAP_SYS_RESOURCE (bit 24).
SANDBOX = capabilities_from_mask(0x000001FFFEFFFFFF)


@pytest.mark.parametrize("raw", ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", " cap_net_admin "])
def test_normalize_accepts_docker_spellings(raw: str) -> None:
    assert normalize_capability(raw) == "CAP_NET_ADMIN"


def test_normalize_all_and_unknown() -> None:
    assert normalize_capability("all") == "ALL"
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_FLY"'):
        normalize_capability("fly")


def test_mask_decoding_matches_kernel_numbering() -> None:
    assert capabilities_from_mask(1) == ("CAP_CHOWN",)
    assert capabilities_from_mask(1 << 21) == ("CAP_SYS_ADMIN",)
    assert len(SANDBOX) == 40 and "CAP_SYS_RESOURCE" not in SANDBOX
    assert capabilities_from_mask(1 << 60) == ()  # bits we cannot name are dropped


@given(st.integers(min_value=0, max_value=(1 << len(CAPABILITY_NAMES)) - 1))
def test_mask_round_trips(mask: int) -> None:
    assert capability_mask(capabilities_from_mask(mask)) == mask


def test_defaults_are_dockers_fourteen() -> None:
    assert compute_capabilities((), (), False, ALL_CAPS) == DEFAULT_CAPABILITIES
    assert len(DEFAULT_CAPABILITIES) == 14


def test_drop_then_add() -> None:
    caps = compute_capabilities(("NET_ADMIN",), ("mknod", "CAP_KILL"), False, ALL_CAPS)
    assert "CAP_MKNOD" not in caps and "CAP_KILL" not in caps
    assert caps[-1] == "CAP_NET_ADMIN"
    assert len(caps) == 13


def test_adding_a_dropped_capability_keeps_it() -> None:
    caps = compute_capabilities(("MKNOD",), ("MKNOD",), False, ALL_CAPS)
    assert "CAP_MKNOD" in caps


def test_drop_all_keeps_only_the_added() -> None:
    assert compute_capabilities(("CHOWN",), ("ALL",), False, ALL_CAPS) == ("CAP_CHOWN",)


def test_add_all_is_bounded_by_the_daemon() -> None:
    caps = compute_capabilities(("ALL",), ("NET_RAW",), False, SANDBOX)
    assert "CAP_SYS_RESOURCE" not in caps and "CAP_NET_RAW" not in caps
    assert len(caps) == 39


def test_privileged_gets_the_bounding_set_in_kernel_order() -> None:
    assert compute_capabilities((), (), True, SANDBOX) == SANDBOX
    assert compute_capabilities(("NET_ADMIN",), ("ALL",), True, SANDBOX) == SANDBOX


def test_explicit_add_of_a_capability_the_daemon_lacks_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"CAP_SYS_RESOURCE.*bounding set"):
        compute_capabilities(("SYS_RESOURCE",), (), False, SANDBOX)


def test_defaults_the_daemon_lacks_are_left_out() -> None:
    bounding = [c for c in ALL_CAPS if c != "CAP_AUDIT_WRITE"]
    caps = compute_capabilities((), (), False, bounding)
    assert "CAP_AUDIT_WRITE" not in caps and len(caps) == 13


def test_unknown_names_in_add_or_drop_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown capability"):
        compute_capabilities((), ("NOPE",), False, ALL_CAPS)
    with pytest.raises(InvalidArgument, match="unknown capability"):
        compute_capabilities(("NOPE",), (), True, ALL_CAPS)


def test_daemon_capabilities_reads_the_status_file(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t0000000000000003\nCapBnd:\t000001fffeffffff\n")
    bounding, effective = daemon_capabilities(status)
    assert bounding == SANDBOX
    assert effective == ("CAP_CHOWN", "CAP_DAC_OVERRIDE")
    assert daemon_capabilities(tmp_path / "missing") == ((), ())
