"""Parsers for the compose short syntaxes: ports, volumes, durations, byte sizes, hosts.

Imports: stdlib only. Each parser raises ``ValueError`` with the reason alone; the caller
adds the file and key path. Results are plain canonical dicts (the long syntax of the
compose spec) that ``canonical`` merges and ``loader`` turns into typed values.

Ports (``[[host_ip:]published:]target[/protocol]``, as Docker's ``nat.ParsePortSpec``)::

    "80"                      {target: 80, published: ""}
    "8080:80"                 {target: 80, published: "8080"}
    "127.0.0.1:8080:80/udp"   {host_ip: 127.0.0.1, ..., protocol: udp}
    "[::1]:8080:80"           {host_ip: ::1, ...}
    "8080-8081:80-81"         two entries, paired          "8080-8081:80"  one entry, any of
    "3000-3001"               two entries, random host ports                 the host range

Volumes (``[source:]target[:options]``): a source starting with ``.``, ``/`` or ``~`` is a
bind mount (made absolute against the base directory, created when missing), another
source is a named volume, none is an anonymous volume. Options: ``ro``/``rw``, ``z``/``Z``,
``nocopy``, a propagation mode, a consistency mode.

Durations are Go's (``1m30s``, ``1.5s``, ``500ms``, ``0``), held as integer nanoseconds.
Sizes are Docker's ``RAMInBytes`` (``512m``, ``1.5GB``, ``100k``: binary multiples).
"""

from __future__ import annotations

import ipaddress
import os
import re
from decimal import Decimal
from pathlib import Path

from wharf.apitypes.durations import parse_go_duration_ns
from wharf.errdefs import InvalidArgument

PROTOCOLS = ("tcp", "udp", "sctp")
_PROPAGATION = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
_CONSISTENCY = ("consistent", "cached", "delegated")

_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgtp])?i?b?", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_RESTART_RE = re.compile(r"no|always|unless-stopped|on-failure(?::[0-9]+)?")
_PULL_POLICY_RE = re.compile(
    r"always|never|build|if_not_present|missing|refresh|daily|weekly|every_(?:[0-9]+[wdhms])+"
)


def parse_duration(text: str) -> int:
    """Go ``time.ParseDuration``: ``1h2m3.5s`` -> nanoseconds (ValueError when invalid)."""
    try:
        return parse_go_duration_ns(text.strip())
    except InvalidArgument as exc:
        raise ValueError(f'invalid duration "{text}"') from exc


def format_duration(ns: int) -> str:
    """Go ``Duration.String`` (with ``us`` for micro): parse_duration(format_duration(n)) == n."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("us", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _decimal(rest, 1_000_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def parse_size(value: str | int | float) -> int:
    """Docker ``units.RAMInBytes``: ``512m`` -> 536870912; a number is a byte count."""
    if isinstance(value, bool):
        raise ValueError(f'invalid size "{value}"')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f'invalid size "{value}"')
        return int(value)
    match = _SIZE_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f'invalid size "{value}"')
    unit = match.group(2).lower() if match.group(2) else None
    return int(Decimal(match.group(1)) * _SIZE_UNITS[unit])


def _port_range(text: str, spec: str, *, allow_zero: bool) -> tuple[int, int]:
    low_text, _, high_text = text.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        raise ValueError(f'invalid port "{spec}"') from None
    if not low_text.isdigit() or (high_text and not high_text.isdigit()):
        raise ValueError(f'invalid port "{spec}"')
    if low > high or high > 65535 or low < (0 if allow_zero else 1):
        raise ValueError(f'invalid port "{spec}"')
    return low, high


def check_host_ip(text: str, spec: str) -> str:
    host_ip = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ValueError(f'invalid host IP "{host_ip}" in port "{spec}"') from None
    return host_ip


def check_published(text: str, spec: str) -> str:
    """A published port: "" (random), a port, or a host port range."""
    if text:
        _port_range(text, spec, allow_zero=True)
    return text


def parse_port(spec: str) -> list[dict[str, object]]:
    """Expand one short-syntax port into long-syntax entries."""
    body, slash, protocol = spec.partition("/")
    if not slash:
        protocol = "tcp"
    protocol = protocol.lower()
    if protocol not in PROTOCOLS:
        raise ValueError(f'invalid protocol "{protocol}" in port "{spec}"')
    parts = body.split(":")
    if len(parts) == 1:
        host_ip, published, target = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, published, target = "", parts[0], parts[1]
    else:
        host_ip, published, target = ":".join(parts[:-2]), parts[-2], parts[-1]
    host_ip = check_host_ip(host_ip, spec)
    low, high = _port_range(target, spec, allow_zero=False)
    host_low = host_high = 0
    if published:
        host_low, host_high = _port_range(published, spec, allow_zero=True)
        if low != high and host_high - host_low != high - low:
            raise ValueError(f'invalid port "{spec}": ranges of different sizes')
    entries: list[dict[str, object]] = []
    for offset in range(high - low + 1):
        if not published:
            mapped = ""
        elif low == high:
            mapped = published
        else:
            mapped = str(host_low + offset)
        entries.append(
            {
                "target": low + offset,
                "published": mapped,
                "host_ip": host_ip,
                "protocol": protocol,
                "mode": "ingress",
            }
        )
    return entries


def check_expose(text: str) -> str:
    body, slash, protocol = text.partition("/")
    if slash and protocol.lower() not in PROTOCOLS:
        raise ValueError(f'invalid port "{text}"')
    _port_range(body, text, allow_zero=False)
    return text


def resolve_host_path(source: str, base_dir: Path, home: str) -> str:
    """A bind source made absolute: ``~`` is the home directory, relative is from base."""
    if source == "~" or source.startswith("~/"):
        source = home + source[1:]
    return os.path.normpath(os.path.join(base_dir, source))


def is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def parse_volume(spec: str, base_dir: Path, home: str) -> dict[str, object]:
    """One short-syntax volume as its long-syntax dict."""
    parts = spec.split(":")
    if not spec or len(parts) > 3 or any(not part for part in parts):
        raise ValueError(f'invalid volume "{spec}"')
    source, target = ("", parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    if not target.startswith("/"):
        raise ValueError(f'invalid volume "{spec}": target must be an absolute path')
    result: dict[str, object] = {"type": "volume", "source": source, "target": target}
    bind: dict[str, object] = {}
    volume: dict[str, object] = {}
    if is_bind_source(source):
        result["type"] = "bind"
        result["source"] = resolve_host_path(source, base_dir, home)
        bind["create_host_path"] = True
    if len(parts) == 3:
        for option in parts[2].split(","):
            if option in ("ro", "rw"):
                result["read_only"] = option == "ro"
            elif option in ("z", "Z"):
                bind["selinux"] = option
            elif option in _PROPAGATION:
                bind["propagation"] = option
            elif option == "nocopy":
                volume["nocopy"] = True
            elif option in _CONSISTENCY:
                result["consistency"] = option
            else:
                raise ValueError(f'invalid volume "{spec}": unknown option "{option}"')
    if bind and result["type"] == "bind":
        result["bind"] = bind
    elif bind:
        raise ValueError(f'invalid volume "{spec}": bind options on a named volume')
    if volume and result["type"] == "volume":
        result["volume"] = volume
    elif volume:
        raise ValueError(f'invalid volume "{spec}": "nocopy" on a bind mount')
    return result


def parse_extra_host(text: str) -> str:
    """``host:ip`` or ``host=ip`` -> ``host:ip``."""
    separator = "=" if "=" in text else ":"
    host, found, address = text.partition(separator)
    if not found or not host.strip() or not address.strip():
        raise ValueError(f'invalid extra host "{text}"')
    return f"{host.strip()}:{address.strip()}"


def check_restart(text: str) -> str:
    if _RESTART_RE.fullmatch(text) is None:
        raise ValueError(f'invalid restart policy "{text}"')
    return text


def check_pull_policy(text: str) -> str:
    if _PULL_POLICY_RE.fullmatch(text) is None:
        raise ValueError(f'invalid pull policy "{text}"')
    return "missing" if text == "if_not_present" else text
