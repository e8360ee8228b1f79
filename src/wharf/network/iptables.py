"""The firewall fallback where nftables is missing: our own chains in iptables.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.network.nftables`` (the shared model:
``BridgeRules``, ``PortMapping``, grouping and ordering), so both backends enforce one
policy, drawn in ``nftables``. Here it is written for iptables-restore::

    filter  FORWARD -> <P>-FORWARD    per bridge: established in, icc, DNATed ports in, drop
                                      in; internal: drop out
            INPUT   -> <P>-INPUT      internal bridges reach their own subnet only
    nat     PREROUTING, OUTPUT -> <P>-PREROUTING/-OUTPUT -> <P>-PORTS (DNAT, local dst only)
            POSTROUTING -> <P>-POSTROUTING (masquerade out, 127/8 to bridges, hairpin)

Invariants: only chains named ``<P>-*`` are written or deleted, plus one jump from each
built-in chain (added once, found again through iptables-save). Declaring a chain in
iptables-restore ``--noflush`` input empties it, so each table's part is replaced atomically.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence

from wharf.errdefs import EngineFailure, InvalidArgument, Unavailable
from wharf.network.nftables import (
    BridgeRules,
    BridgeView,
    PortMapping,
    first_error,
    group_bridges,
    usable_ports,
)

Command = Callable[[Sequence[str], str], str]
"""Runs argv with the text on stdin, returns stdout; EngineFailure when it fails."""


def _run_command(argv: Sequence[str], stdin: str) -> str:
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise Unavailable(f"cannot run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise EngineFailure(f"{argv[0]} refused the change: {first_error(done.stderr)}")
    return done.stdout


_IPT_HOOKS = {
    "filter": (("FORWARD", "FORWARD"), ("INPUT", "INPUT")),
    "nat": (("PREROUTING", "PREROUTING"), ("OUTPUT", "OUTPUT"), ("POSTROUTING", "POSTROUTING")),
}


def render_iptables(
    prefix: str,
    bridges: Iterable[BridgeRules],
    ports: Iterable[PortMapping],
    *,
    hooked: frozenset[str] = frozenset(),
) -> str:
    """iptables-restore --noflush input for the IPv4 part of the same policy as the nft table.

    Our chains are ``<prefix>-FORWARD``, ``-INPUT`` (filter) and ``-PREROUTING``, ``-OUTPUT``,
    ``-POSTROUTING``, ``-PORTS`` (nat); declaring them flushes them, so the content is replaced
    per table atomically. ``hooked`` names the built-in chains that already jump to ours.
    """
    views = [
        BridgeView(v.name, tuple(n for n in v.subnets if n.version == 4), v.internal, v.icc)
        for v in group_bridges(bridges)
    ]
    mappings = [m for m in usable_ports(views, ports) if m.container_ip.version == 4]
    fwd, inp, pre, post, dnat = (
        f"{prefix}-{c}" for c in ("FORWARD", "INPUT", "PREROUTING", "POSTROUTING", "PORTS")
    )
    out = f"{prefix}-OUTPUT"
    filter_rules: list[str] = []
    nat_rules = [
        f"-A {pre} -m addrtype --dst-type LOCAL -j {dnat}",
        f"-A {out} -m addrtype --dst-type LOCAL -j {dnat}",
    ]
    for v in views:
        b = v.name
        verdict = "ACCEPT" if v.icc else "DROP"
        if not v.internal:
            filter_rules.append(
                f"-A {fwd} -o {b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            )
        filter_rules.append(f"-A {fwd} -i {b} -o {b} -j {verdict}")
        for m in mappings:
            if m.bridge == b:
                filter_rules.append(
                    f"-A {fwd} -o {b} -d {m.container_ip}/32 -p {m.protocol.value} "
                    f"--dport {m.container_port} -m conntrack --ctstate DNAT -j ACCEPT"
                )
        filter_rules.append(f"-A {fwd} -o {b} -j DROP")
        if v.internal:
            filter_rules.append(f"-A {fwd} -i {b} -j DROP")
            filter_rules += [f"-A {inp} -i {b} ! -d {n} -j DROP" for n in v.subnets]
            continue
        for n in v.subnets:
            nat_rules.append(f"-A {post} -s {n} ! -o {b} -j MASQUERADE")
        nat_rules.append(f"-A {post} -o {b} -s 127.0.0.0/8 -j MASQUERADE")
        for n in v.subnets:
            nat_rules.append(f"-A {post} -o {b} -s {n} -m conntrack --ctstate DNAT -j MASQUERADE")
    for m in mappings:
        dest = "" if m.host_ip is None else f" -d {m.host_ip}/32"
        nat_rules.append(
            f"-A {dnat}{dest} -p {m.protocol.value} -m {m.protocol.value} --dport {m.host_port} "
            f"-j DNAT --to-destination {m.container_ip}:{m.container_port}"
        )
    lines: list[str] = []
    for table, rules in (("filter", filter_rules), ("nat", nat_rules)):
        lines.append(f"*{table}")
        lines += [f":{prefix}-{ours} - [0:0]" for _, ours in _IPT_HOOKS[table]]
        if table == "nat":
            lines.append(f":{dnat} - [0:0]")
        lines += rules
        for builtin, ours in _IPT_HOOKS[table]:
            if f"{table}/{builtin}" not in hooked:
                lines.append(f"-I {builtin} 1 -j {prefix}-{ours}")
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def render_iptables_removal(prefix: str, *, hooked: frozenset[str]) -> str:
    lines: list[str] = []
    for table, hooks in _IPT_HOOKS.items():
        chains = [f"{prefix}-{ours}" for _, ours in hooks]
        if table == "nat":
            chains.append(f"{prefix}-PORTS")
        lines.append(f"*{table}")
        lines += [f":{c} - [0:0]" for c in chains]
        lines += [
            f"-D {builtin} -j {prefix}-{ours}"
            for builtin, ours in hooks
            if f"{table}/{builtin}" in hooked
        ]
        lines += [f"-X {c}" for c in chains]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def hooked_chains(prefix: str, saved: str) -> frozenset[str]:
    """From iptables-save output: "table/BUILTIN" for each built-in that jumps to our chain."""
    found: set[str] = set()
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        for builtin, ours in _IPT_HOOKS.get(table, ()):
            if line.strip() == f"-A {builtin} -j {prefix}-{ours}":
                found.add(f"{table}/{builtin}")
    return frozenset(found)


class IptablesFirewall:
    """The fallback where nft is missing: our own chains in iptables' filter and nat tables.

    Limits: IPv4 only (IPv6 subnets and ports are left out); two processes per change
    (iptables-save to find our jumps, iptables-restore --noflush to replace our chains); with
    the nf_tables flavour of iptables, the empty built-in chains it had to create stay after
    ``remove``.
    """

    def __init__(
        self,
        prefix: str = "WHARF",
        *,
        iptables_restore: str = "iptables-restore",
        iptables_save: str = "iptables-save",
        run: Command = _run_command,
    ) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,15}", prefix):
            raise InvalidArgument(f"invalid iptables chain prefix {prefix!r}")
        self.prefix = prefix
        self._restore = iptables_restore
        self._save = iptables_save
        self._run = run
        self._lock = threading.Lock()

    def _hooked(self) -> frozenset[str]:
        return hooked_chains(self.prefix, self._run([self._save], ""))

    def sync(self, bridges: Sequence[BridgeRules], ports: Sequence[PortMapping]) -> None:
        with self._lock:
            text = render_iptables(self.prefix, bridges, ports, hooked=self._hooked())
            self._run([self._restore, "--noflush"], text)

    def remove(self) -> None:
        with self._lock:
            text = render_iptables_removal(self.prefix, hooked=self._hooked())
            self._run([self._restore, "--noflush"], text)

    def available(self) -> bool:
        try:
            self._run([self._save, "-t", "filter"], "")
        except (EngineFailure, Unavailable):
            return False
        return True
