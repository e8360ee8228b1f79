"""NAT, isolation and published ports in one nftables table of our own.

Layer L1. Imports: stdlib, ``wharf.errdefs``, ``wharf.network.ipam`` (types). Never touches
another table, never flushes the ruleset. The model (``BridgeRules``, ``PortMapping``) and
``PacketFilter`` are shared with ``iptables``, the fallback where nftables is missing.

``Firewall.sync`` is declarative: it renders the whole wanted content of ``table inet <name>``
and replaces the table in one transaction (``add table; delete table; table {...}`` in one
batch is atomic: packets see the old rules or the new ones, never none). The batch goes to
libnftables in-process through ctypes with one long-lived context (~1 ms a change); without
the library, to ``nft -f -`` (~15 ms: most of it nft's start-up). The context's netlink socket
belongs to the network namespace of the thread that first uses the ``Firewall``.

The table, for one normal bridge ``br-a`` (172.18.0.0/16, a port 8080->172.18.0.2:80) and one
internal bridge ``br-i`` (10.9.0.0/24)::

    table inet wharf {
      chain forward {             filter/forward, policy accept (other tables decide the rest)
        oifname vmap { "br-a" : jump to-br-a, "br-i" : jump to-br-i }
        iifname { "br-i" } drop                          internal: nothing leaves
      }
      chain to-br-a {             everything that would leave through bridge br-a
        ct state established,related accept              replies to its own connections
        iifname "br-a" accept                            icc (drop when icc is off)
        ip daddr 172.18.0.2 tcp dport 80 ct status dnat accept    published ports only
        drop                      other bridges (isolation) and unsolicited outside traffic
      }
      chain to-br-i { iifname "br-i" accept; drop }
      chain input {               filter/input: internal containers reach their gateway only
        iifname "br-i" ip daddr != 10.9.0.0/24 drop
        iifname "br-i" ip6 daddr != { fe80::/10, ff00::/8 } drop
      }
      chain prerouting { nat/dstnat:  fib daddr type local jump ports }
      chain output     { nat/-100:    fib daddr type local jump ports }
      chain ports {
        meta nfproto ipv4 tcp dport 8080 dnat ip to 172.18.0.2:80       (ip daddr H when bound)
      }
      chain postrouting {         nat/srcnat, per non-internal bridge and subnet
        ip saddr 172.18.0.0/16 oifname != "br-a" masquerade             out to the world
        oifname "br-a" ip saddr 127.0.0.0/8 masquerade                  127.0.0.1:port -> DNAT
        oifname "br-a" ip saddr 172.18.0.0/16 ct status dnat masquerade hairpin via host port
      }
    }

Why DNAT for 127.0.0.1 and not a userland proxy: no process or socket per port, no copy of
every byte through the daemon, and ports keep working while wharfd restarts. The kernel
drops packets with a 127/8 source on a non-loopback device unless ``route_localnet=1`` on
that device, so the bridge driver sets it on our bridges only (never globally), and the
postrouting rule masquerades those sources to the bridge's address at once: no 127/8 source
ever leaves the host. Docker does the same with ``--userland-proxy=false``. A container
reaching its own published port through a host address is not supported (the bridge
would need hairpin mode on its port, which breaks IPv6 duplicate address detection).

With ``br_netfilter`` loaded (``bridge-nf-call-iptables=1``, as on this host), frames
between two containers on one bridge also pass the forward hook with iif = oif = the bridge:
the ``iifname "<bridge>" accept|drop`` rule is what keeps them flowing (or stops them, for
icc off). Without br_netfilter those frames never reach the IP hooks: they flow, and icc off
cannot be enforced (as with Docker).

Published ports on internal networks are not forwarded (as Docker). A published port 53 does
not capture DNS queries that containers send to their own gateway (the embedded DNS server).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import re
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from wharf.errdefs import EngineFailure, InvalidArgument, Unavailable
from wharf.network.ipam import IPAddress, IPNetwork

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_LINK_LOCAL6 = ("fe80::/10", "ff00::/8")


class PortProtocol(enum.Enum):
    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class BridgeRules:
    """One subnet of one bridge network; a dual-stack bridge is given as two of these."""

    bridge: str
    subnet: IPNetwork
    internal: bool
    icc: bool = True

    def __post_init__(self) -> None:
        if not _IFNAME.fullmatch(self.bridge):
            raise InvalidArgument(f"invalid bridge name {self.bridge!r}")


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One published port: host side (``host_ip`` None = every host address) to a container."""

    protocol: PortProtocol
    host_ip: IPAddress | None
    host_port: int
    container_ip: IPAddress
    container_port: int
    bridge: str

    def __post_init__(self) -> None:
        for port in (self.host_port, self.container_port):
            if not 0 < port < 65536:
                raise InvalidArgument(f"invalid port {port}: must be 1-65535")
        if self.host_ip is not None and self.host_ip.version != self.container_ip.version:
            raise InvalidArgument(
                f"cannot publish {self.host_ip} to {self.container_ip}: address families differ"
            )


@dataclass(frozen=True, slots=True)
class BridgeView:
    """The rules' view of a bridge: its subnets of both families gathered."""

    name: str
    subnets: tuple[IPNetwork, ...]
    internal: bool
    icc: bool


def group_bridges(bridges: Iterable[BridgeRules]) -> list[BridgeView]:
    """Gather per-bridge subnets, sorted by bridge name; settings must agree per bridge."""
    views: dict[str, BridgeView] = {}
    for rule in bridges:
        seen = views.get(rule.bridge)
        if seen is None:
            views[rule.bridge] = BridgeView(rule.bridge, (rule.subnet,), rule.internal, rule.icc)
            continue
        if (seen.internal, seen.icc) != (rule.internal, rule.icc):
            raise InvalidArgument(f"bridge {rule.bridge} given with conflicting settings")
        if rule.subnet not in seen.subnets:
            subnets = tuple(sorted((*seen.subnets, rule.subnet), key=_net_key))
            views[rule.bridge] = BridgeView(rule.bridge, subnets, seen.internal, seen.icc)
    return [views[name] for name in sorted(views)]


def usable_ports(views: Sequence[BridgeView], ports: Iterable[PortMapping]) -> list[PortMapping]:
    """Mappings to forward, in rule order: bound addresses before wildcards, then by port."""
    by_name = {v.name: v for v in views}
    kept: list[PortMapping] = []
    for mapping in ports:
        view = by_name.get(mapping.bridge)
        if view is None:
            raise InvalidArgument(
                f"port {mapping.host_port} published on unknown bridge {mapping.bridge}"
            )
        if not view.internal:
            kept.append(mapping)
    return sorted(set(kept), key=_port_key)


def _net_key(net: IPNetwork) -> tuple[int, int, int]:
    return net.version, int(net.network_address), net.prefixlen


def _port_key(m: PortMapping) -> tuple[int, str, int, bool, int, int, int, str]:
    host = 0 if m.host_ip is None else int(m.host_ip)
    to = int(m.container_ip), m.container_port
    return (
        m.container_ip.version,
        m.protocol.value,
        m.host_port,
        m.host_ip is None,
        host,
        *to,
        m.bridge,
    )


def _fam(version: int) -> str:
    return "ip" if version == 4 else "ip6"


def _set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _endpoint(address: IPAddress, port: int) -> str:
    return f"{address}:{port}" if address.version == 4 else f"[{address}]:{port}"


def _dnat_rule(m: PortMapping) -> str:
    fam = _fam(m.container_ip.version)
    if m.host_ip is None:
        match = f"meta nfproto ipv{m.container_ip.version}"
    else:
        match = f"{fam} daddr {m.host_ip}"
    to = _endpoint(m.container_ip, m.container_port)
    return f"{match} {m.protocol.value} dport {m.host_port} dnat {fam} to {to}"


def _to_bridge_chain(view: BridgeView, ports: Sequence[PortMapping]) -> list[str]:
    rules: list[str] = []
    if not view.internal:
        rules.append("ct state established,related accept")
    rules.append(f'iifname "{view.name}" {"accept" if view.icc else "drop"}')
    for m in ports:
        if m.bridge == view.name:
            rule = (
                f"{_fam(m.container_ip.version)} daddr {m.container_ip} "
                f"{m.protocol.value} dport {m.container_port} ct status dnat accept"
            )
            if rule not in rules:
                rules.append(rule)
    rules.append("drop")
    return rules


def _input_rules(view: BridgeView) -> list[str]:
    v4 = [str(n) for n in view.subnets if n.version == 4]
    v6 = [str(n) for n in view.subnets if n.version == 6] + list(_LINK_LOCAL6)
    first = (
        f'iifname "{view.name}" ip daddr != {_set(v4)} drop'
        if v4
        else f'iifname "{view.name}" meta nfproto ipv4 drop'
    )
    return [first, f'iifname "{view.name}" ip6 daddr != {_set(v6)} drop']


def _dns_exceptions(views: Sequence[BridgeView], ports: Sequence[PortMapping]) -> list[str]:
    if not any(m.host_port == 53 for m in ports):
        return []
    rules = []
    for view in views:
        for net in view.subnets:
            for proto in ("udp", "tcp"):
                rules.append(
                    f'iifname "{view.name}" {_fam(net.version)} daddr {net} {proto} dport 53 return'
                )
    return rules


def _postrouting_rules(view: BridgeView) -> list[str]:
    rules = []
    for net in view.subnets:
        rules.append(f'{_fam(net.version)} saddr {net} oifname != "{view.name}" masquerade')
    rules.append(f'oifname "{view.name}" ip saddr 127.0.0.0/8 masquerade')
    for net in view.subnets:
        rules.append(
            f'oifname "{view.name}" {_fam(net.version)} saddr {net} ct status dnat masquerade'
        )
    return rules


def _chain(name: str, rules: Sequence[str], hook: str | None = None) -> list[str]:
    lines = [f"\tchain {name} {{"]
    if hook is not None:
        lines.append(f"\t\t{hook}; policy accept;")
    lines.extend(f"\t\t{rule}" for rule in rules)
    lines.append("\t}")
    return lines


def validate_table(table: str) -> str:
    if not _TABLE_NAME.fullmatch(table):
        raise InvalidArgument(f"invalid nftables table name {table!r}")
    return table


def render_removal(table: str) -> str:
    """Delete our table if present (declaring it first makes the delete never fail)."""
    validate_table(table)
    return f"table inet {table}\ndelete table inet {table}\n"


def render_ruleset(table: str, bridges: Iterable[BridgeRules], ports: Iterable[PortMapping]) -> str:
    """The nft batch that replaces our table with exactly these bridges and ports."""
    views = group_bridges(bridges)
    mappings = usable_ports(views, ports)
    batch = render_removal(table)
    if not views:
        return batch
    internal = [v for v in views if v.internal]
    outside = [v for v in views if not v.internal]
    lines = [f"table inet {table} {{"]
    vmap = ", ".join(f'"{v.name}" : jump to-{v.name}' for v in views)
    forward = [f"oifname vmap {{ {vmap} }}"]
    if internal:
        names = ", ".join(f'"{v.name}"' for v in internal)
        forward.append(f"iifname {{ {names} }} drop")
    lines += _chain("forward", forward, "type filter hook forward priority filter")
    for view in views:
        lines += _chain(f"to-{view.name}", _to_bridge_chain(view, mappings))
    if internal:
        rules = [rule for v in internal for rule in _input_rules(v)]
        lines += _chain("input", rules, "type filter hook input priority filter")
    if outside:
        jump = ["fib daddr type local jump ports"]
        lines += _chain("prerouting", jump, "type nat hook prerouting priority dstnat")
        # ::1 cannot be forwarded (no route_localnet for IPv6): let it be refused locally.
        lines += _chain(
            "output", ["ip6 daddr ::1 return", *jump], "type nat hook output priority -100"
        )
        ports_rules = _dns_exceptions(views, mappings) + [_dnat_rule(m) for m in mappings]
        lines += _chain("ports", ports_rules)
        rules = [rule for v in outside for rule in _postrouting_rules(v)]
        lines += _chain("postrouting", rules, "type nat hook postrouting priority srcnat")
    lines.append("}")
    return batch + "\n".join(lines) + "\n"


class NftRunner(Protocol):
    def run(self, commands: str) -> str:
        """Run an nft batch atomically; return its output; EngineFailure on refusal."""
        ...


class LibNftables:
    """libnftables through ctypes, one context kept for the life of the object."""

    def __init__(self, library: str | None = None) -> None:
        name = library or ctypes.util.find_library("nftables") or "libnftables.so.1"
        lib = ctypes.CDLL(name, use_errno=True)  # OSError when absent
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        for fn in ("nft_ctx_buffer_output", "nft_ctx_buffer_error", "nft_ctx_free"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
        for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_char_p
        self._lib = lib
        self._ctx: int | None = None
        self._lock = threading.Lock()

    def run(self, commands: str) -> str:
        with self._lock:
            if self._ctx is None:
                ctx = self._lib.nft_ctx_new(0)
                if not ctx:
                    raise EngineFailure("cannot create an nftables context")
                self._lib.nft_ctx_buffer_output(ctx)
                self._lib.nft_ctx_buffer_error(ctx)
                self._ctx = ctx
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise EngineFailure(f"nftables refused the change: {first_error(err)}")
        return out

    def close(self) -> None:
        """Free the context (its netlink socket); a later ``run`` makes a new one."""
        with self._lock:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


class NftCommand:
    """``nft -f -``: one process per change."""

    def __init__(self, nft: str = "/usr/sbin/nft") -> None:
        self.nft = nft

    def run(self, commands: str) -> str:
        try:
            done = subprocess.run(
                [self.nft, "-f", "-"], input=commands, capture_output=True, text=True, check=False
            )
        except OSError as exc:
            raise Unavailable(f"cannot run {self.nft}: {exc}") from exc
        if done.returncode != 0:
            raise EngineFailure(f"nftables refused the change: {first_error(done.stderr)}")
        return done.stdout


def first_error(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "no error message"


def default_runner(nft: str = "/usr/sbin/nft") -> NftRunner:
    """libnftables when it loads, else the nft command."""
    try:
        return LibNftables()
    except OSError:
        return NftCommand(nft)


class Firewall:
    """Our nftables table, replaced as a whole on every change."""

    def __init__(
        self, table: str = "wharf", nft: str = "/usr/sbin/nft", *, runner: NftRunner | None = None
    ) -> None:
        self.table = validate_table(table)
        self.nft = nft
        self._runner = runner

    def _run(self, commands: str) -> str:
        if self._runner is None:
            self._runner = default_runner(self.nft)
        return self._runner.run(commands)

    def sync(self, bridges: Sequence[BridgeRules], ports: Sequence[PortMapping]) -> None:
        self._run(render_ruleset(self.table, bridges, ports))

    def remove(self) -> None:
        self._run(render_removal(self.table))

    def close(self) -> None:
        """Release the libnftables context, if any (the table stays as it is)."""
        if isinstance(self._runner, LibNftables):
            self._runner.close()

    def listing(self) -> str:
        """The table as nft prints it (empty when absent): for inspection and tests."""
        if f"table inet {self.table}\n" not in self._run("list tables inet"):
            return ""
        return self._run(f"list table inet {self.table}")

    def available(self) -> bool:
        """True when nftables answers (library or command, and kernel support)."""
        try:
            self._run("list tables inet")
        except (EngineFailure, Unavailable):
            return False
        return True


class PacketFilter(Protocol):
    """What the bridge driver needs from a firewall: ``Firewall`` or ``IptablesFirewall``."""

    def sync(self, bridges: Sequence[BridgeRules], ports: Sequence[PortMapping]) -> None: ...

    def remove(self) -> None: ...

    def available(self) -> bool: ...


def select_firewall(table: str = "wharf", nft: str = "/usr/sbin/nft") -> PacketFilter:
    """nftables when it answers, else iptables (chains ``<TABLE>-*``); Unavailable if neither."""
    from wharf.network.iptables import IptablesFirewall  # it imports this module

    firewall = Firewall(table, nft)
    if firewall.available():
        return firewall
    fallback = IptablesFirewall(table.upper().replace("-", "_")[:16])
    if fallback.available():
        return fallback
    raise Unavailable("neither nftables nor iptables is usable: cannot set up bridge networks")
