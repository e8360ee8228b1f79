"""Linux capabilities: the names, Docker's default set, and the ``--cap-add/--cap-drop`` math.

Imports: stdlib and ``wharf.errdefs`` only.

Invariants:

- Names are always returned in the canonical ``CAP_XXX`` form, upper case.
- A container never gets a capability outside the daemon's own bounding set: runc cannot
  grant what its parent lacks (on this machine the sandbox has no ``CAP_SYS_RESOURCE``, which
  is why ``docker run --privileged`` fails here). ``--privileged`` and ``--cap-add ALL`` mean
  "everything the daemon has"; an explicit ``--cap-add`` of a missing one is refused.
- Unknown names are refused with Docker's message: ``unknown capability: "CAP_FOO"``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from wharf.errdefs import InvalidArgument

# Index = the kernel's capability number (include/uapi/linux/capability.h).
CAPABILITY_NAMES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

_KNOWN = frozenset(CAPABILITY_NAMES)
_INDEX = {name: i for i, name in enumerate(CAPABILITY_NAMES)}

# Docker's default set, in Docker's order (moby oci/caps/defaults.go).
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

ALL = "ALL"


def normalize_capability(name: str) -> str:
    """``net_admin``, ``NET_ADMIN`` and ``CAP_NET_ADMIN`` all give ``CAP_NET_ADMIN``; ``all`` gives
    ``ALL``. Unknown names raise InvalidArgument with Docker's message."""
    upper = name.strip().upper()
    if upper == ALL:
        return ALL
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in _KNOWN:
        raise InvalidArgument(f'unknown capability: "{upper}"')
    return upper


def normalize_capabilities(names: Iterable[str]) -> tuple[str, ...]:
    """Normalise every name (see ``normalize_capability``), dropping duplicates, order kept."""
    return tuple(dict.fromkeys(normalize_capability(n) for n in names))


def capabilities_from_mask(mask: int) -> tuple[str, ...]:
    """The names of the bits set in a capability mask (``CapBnd`` of /proc/<pid>/status), in
    kernel order. Bits past the last name we know are ignored: we cannot name them to runc."""
    return tuple(name for i, name in enumerate(CAPABILITY_NAMES) if mask >> i & 1)


def daemon_capabilities(
    status: Path = Path("/proc/self/status"),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """This process's (bounding, effective) sets, from ``CapBnd``/``CapEff`` of ``status``."""
    masks = {"CapBnd": 0, "CapEff": 0}
    with contextlib.suppress(OSError, ValueError), status.open() as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in masks:
                masks[key] = int(value.strip(), 16)
    return capabilities_from_mask(masks["CapBnd"]), capabilities_from_mask(masks["CapEff"])


def capability_mask(names: Iterable[str]) -> int:
    """The inverse of ``capabilities_from_mask``."""
    mask = 0
    for name in names:
        mask |= 1 << _INDEX[normalize_capability(name)]
    return mask


def compute_capabilities(
    cap_add: Sequence[str],
    cap_drop: Sequence[str],
    privileged: bool,
    bounding: Iterable[str],
) -> tuple[str, ...]:
    """The container's capability set, Docker's ``TweakCapabilities`` bounded by the daemon's own
    bounding set ``bounding``.

    - privileged: every capability in ``bounding`` (kernel order);
    - ``--cap-add ALL``: every capability in ``bounding`` except the dropped ones;
    - ``--cap-drop ALL``: exactly the added ones;
    - otherwise Docker's defaults minus the dropped ones, then the added ones.

    Defaults the daemon lacks are left out quietly (the container could not have them anyway);
    an explicit ``--cap-add`` of one it lacks is refused, so the user learns why.
    """
    have = frozenset(normalize_capabilities(bounding)) - {ALL}
    adds = normalize_capabilities(cap_add)
    drops = normalize_capabilities(cap_drop)
    everything = tuple(name for name in CAPABILITY_NAMES if name in have)
    if privileged:
        return everything
    if ALL in adds:
        return tuple(name for name in everything if name not in drops)
    for name in adds:
        if name not in have:
            raise InvalidArgument(
                f"cannot add capability {name}: the daemon itself does not have it "
                "(not in its bounding set)"
            )
    if ALL in drops:
        return adds
    kept = [name for name in DEFAULT_CAPABILITIES if name not in drops and name in have]
    return tuple(dict.fromkeys([*kept, *adds]))
