"""Values of the container flags, parsed as the docker CLI parses them: go-units sizes and
ulimits, nat port specs, the compose loader's ``-v`` syntax, ``--mount`` CSV, env files,
restart policies, capabilities, detach targets.

Every parser is a pure function that returns typed values (``wharf.client.container_spec``)
or raises ``OptionError`` with docker's message. ``run_options`` turns these into flags.

Imports only the standard library and ``wharf.client.container_spec``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from wharf.client.container_spec import (
    EndpointSpec,
    Mount,
    MountType,
    PortBinding,
    RestartPolicy,
    Ulimit,
)

PULL_ALWAYS = "always"
PULL_MISSING = "missing"
PULL_NEVER = "never"
_WHITESPACE = " \t"


class OptionError(Exception):
    """A flag combination or value docker rejects after parsing (exit 125)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_SIZE_MULTIPLIERS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DIGITS = "0123456789. "


def parse_size(text: str) -> int:
    """go-units ``RAMInBytes``: ``32m`` -> 33554432; binary multipliers, optional ``b``/``ib``."""
    sep = max(text.rfind(c) for c in _DIGITS)
    if sep < 0:
        raise OptionError(f"invalid size: '{text}'")
    if text[sep] == " ":
        number, suffix = text[:sep], text[sep + 1 :]
    else:
        number, suffix = text[: sep + 1], text[sep + 1 :]
    try:
        size = float(number)
    except ValueError:
        raise OptionError(f'strconv.ParseFloat: parsing "{number}": invalid syntax') from None
    if size < 0 or number.strip() != number or "_" in number:
        raise OptionError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    lowered = suffix.lower()
    if len(lowered) > 3:
        raise OptionError(f"invalid suffix: '{lowered}'")
    if lowered[0] == "b":
        if len(lowered) > 1:
            raise OptionError(f"invalid suffix: '{lowered}'")
        return int(size)
    multiplier = _SIZE_MULTIPLIERS.get(lowered[0])
    if (
        multiplier is None
        or (len(lowered) == 2 and lowered[1] != "b")
        or (len(lowered) == 3 and lowered[1:] != "ib")
    ):
        raise OptionError(f"invalid suffix: '{lowered}'")
    return int(size * multiplier)


def parse_memory_swap(text: str) -> int:
    """``--memory-swap``: ``-1`` is unlimited, anything else a size."""
    return -1 if text == "-1" else parse_size(text)


def parse_nano_cpus(text: str) -> int:
    """``--cpus 1.5`` -> 1500000000 (exact rational arithmetic, as Go's big.Rat)."""
    from fractions import Fraction  # only --cpus needs it (and its decimal import)

    if not text or text.strip() != text or "_" in text:
        raise OptionError(f"failed to parse {text} as a rational number")
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise OptionError(f"failed to parse {text} as a rational number") from None
    nano = value * 1_000_000_000
    if nano.denominator != 1:
        raise OptionError("value is too precise")
    return int(nano)


def parse_go_int(text: str) -> int:
    """``strconv.ParseInt(text, 0?, 64)`` as pflag's int flags use it (base 10 here)."""
    if not re.fullmatch(r"[+-]?\d+", text):
        raise OptionError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise OptionError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


_ULIMIT_NAMES = frozenset(
    {
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    }
)


def parse_ulimit(text: str) -> Ulimit:
    """go-units ``ParseUlimit``: ``nofile=1024[:2048]``."""
    name, sep, values = text.partition("=")
    if not sep:
        raise OptionError(f"invalid ulimit argument: {text}")
    if name not in _ULIMIT_NAMES:
        raise OptionError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise OptionError(
            f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )
    soft = parse_go_int(parts[0])
    hard = parse_go_int(parts[1]) if len(parts) == 2 else soft
    if hard != -1 and soft > hard:
        raise OptionError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return Ulimit(name, soft, hard)


def validate_env(text: str) -> str:
    """``opts.ValidateEnv``: ``KEY=VALUE`` as is; a bare ``KEY`` takes our environment's value."""
    key, sep, _ = text.partition("=")
    if not key:
        raise OptionError(f"invalid environment variable: {text}")
    if sep:
        return text
    value = os.environ.get(key)
    return f"{key}={value}" if value is not None else text


def validate_label(text: str) -> str:
    key = text.partition("=")[0].strip()
    if not key:
        raise OptionError(f"invalid label '{text}': empty name")
    if any(c in key for c in _WHITESPACE):
        raise OptionError(f"label '{key}' contains whitespaces")
    return text


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def validate_extra_host(text: str) -> str:
    """``--add-host name:ip`` or ``name=ip`` (``host-gateway`` allowed); sent as ``name:ip``."""
    name, sep, address = text.partition("=")
    if not sep:
        name, sep, address = text.partition(":")
    if not sep or not name:
        raise OptionError(f'bad format for add-host: "{text}"')
    if address != "host-gateway":
        bare = address[1:-1] if address.startswith("[") and address.endswith("]") else address
        if not _is_ip(bare):
            raise OptionError(f'invalid IP address in add-host: "{address}"')
        address = bare
    return f"{name}:{address}"


def validate_attach(text: str) -> str:
    lowered = text.lower()
    if lowered not in ("stdin", "stdout", "stderr"):
        raise OptionError("valid streams are STDIN, STDOUT and STDERR")
    return lowered


def _parse_bool(text: str, key: str) -> bool:
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise OptionError(f"invalid value for {key}: {text}")


def _csv_fields(text: str) -> list[str]:
    import csv

    try:
        rows = list(csv.reader([text]))
    except csv.Error as exc:
        raise OptionError(str(exc)) from exc
    return rows[0] if rows else []


def parse_mount(text: str) -> Mount:
    """``--mount type=bind|volume|tmpfs,source=..,target=..,readonly,...`` (docker's MountOpt)."""
    kind = "volume"
    values: dict[str, Any] = {}
    bind_used = volume_used = tmpfs_used = False
    labels: list[tuple[str, str]] = []
    driver_opts: list[tuple[str, str]] = []
    for item in _csv_fields(text):
        key, sep, value = item.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro"):
                values["read_only"] = True
            elif key == "volume-nocopy":
                values["volume_nocopy"] = volume_used = True
            elif key == "bind-nonrecursive":
                values["bind_nonrecursive"] = bind_used = True
            else:
                raise OptionError(f"invalid field '{item}' must be a key=value pair")
            continue
        if key == "type":
            kind = value.lower()
        elif key in ("source", "src"):
            values["source"] = (
                os.path.abspath(value) if value.startswith("./") or value == "." else value
            )
        elif key in ("target", "dst", "destination"):
            values["target"] = value
        elif key in ("readonly", "ro"):
            values["read_only"] = _parse_bool(value, key)
        elif key == "consistency":
            values["consistency"] = value.lower()
        elif key == "bind-propagation":
            values["bind_propagation"] = value.lower()
            bind_used = True
        elif key == "bind-nonrecursive":
            values["bind_nonrecursive"] = _parse_bool(value, key)
            bind_used = True
        elif key == "volume-nocopy":
            values["volume_nocopy"] = _parse_bool(value, key)
            volume_used = True
        elif key == "volume-label":
            label_key, _, label_value = value.partition("=")
            labels.append((label_key, label_value))
            volume_used = True
        elif key == "volume-driver":
            values["volume_driver"] = value
            volume_used = True
        elif key == "volume-opt":
            opt_key, _, opt_value = value.partition("=")
            driver_opts.append((opt_key, opt_value))
            volume_used = True
        elif key == "volume-subpath":
            values["volume_subpath"] = value
            volume_used = True
        elif key == "tmpfs-size":
            try:
                values["tmpfs_size"] = parse_size(value)
            except OptionError:
                raise OptionError(f"invalid value for {key}: {value}") from None
            tmpfs_used = True
        elif key == "tmpfs-mode":
            try:
                values["tmpfs_mode"] = int(value, 8)
            except ValueError:
                raise OptionError(f"invalid value for {key}: {value}") from None
            tmpfs_used = True
        else:
            raise OptionError(f"unexpected key '{key}' in '{item}'")
    try:
        mount_type = MountType(kind)
    except ValueError:
        raise OptionError(f"invalid mount type: {kind}") from None
    if not values.get("target"):
        raise OptionError("target is required")
    for used, group, wanted in (
        (volume_used, "volume", MountType.VOLUME),
        (bind_used, "bind", MountType.BIND),
        (tmpfs_used, "tmpfs", MountType.TMPFS),
    ):
        if used and mount_type is not wanted:
            raise OptionError(f"cannot mix '{group}-*' options with mount type '{kind}'")
    return Mount(
        type=mount_type,
        volume_labels=tuple(labels),
        volume_driver_opts=tuple(driver_opts),
        **values,
    )


# --- values checked after parsing


def split_proto_port(raw: str) -> tuple[str, str]:
    """nat ``SplitProtoPort``: ``80/udp`` -> ("udp", "80"); ``80`` -> ("tcp", "80")."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    if not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _port_number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    value = int(text)
    if value > 65535:
        raise ValueError(text)
    return value


def parse_port_range(text: str) -> tuple[int, int]:
    """nat ``ParsePortRange``: ``80`` or ``8000-8010``."""
    if not text:
        raise OptionError("empty string specified for ports")
    if "-" not in text:
        value = _port_number(text)
        return value, value
    first, _, last = text.partition("-")
    start, end = _port_number(first), _port_number(last)
    if end < start:
        raise OptionError(f"invalid range specified for port: {text}")
    return start, end


def _split_port_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def parse_port_spec(raw: str) -> list[tuple[str, PortBinding]]:
    """nat ``ParsePortSpec``: ``[ip:][hostPort:]containerPort[/proto]`` -> (port, binding)s."""
    ip, host_port, container_port = _split_port_parts(raw)
    proto, container_port = split_proto_port(container_port)
    if ip.startswith("["):
        ip = ip[1:].rstrip("]")
    if ip and not _is_ip(ip):
        raise OptionError(f"invalid IP address: {ip}")
    if not container_port:
        raise OptionError(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container_port)
    except (OptionError, ValueError):
        raise OptionError(f"invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_port_range(host_port)
        except (OptionError, ValueError):
            raise OptionError(f"invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise OptionError(
                f"invalid ranges specified for container and host Ports: "
                f"{container_port} and {host_port}"
            )
    proto = proto.lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise OptionError(f"invalid proto: {proto}")
    mappings = []
    for offset in range(end - start + 1):
        binding_port = ""
        if host_port:
            binding_port = str(host_start + offset)
            if start == end and host_start != host_end:
                binding_port = f"{host_start}-{host_end}"
        mappings.append((f"{start + offset}/{proto}", PortBinding(ip, binding_port)))
    return mappings


def _standard_publish(value: str) -> str:
    """The long ``-p target=80,published=8080,protocol=udp`` form, as the short one."""
    if "=" not in value:
        return value
    params = {"protocol": "tcp"}
    for item in value.split(","):
        key, sep, field_value = item.partition("=")
        if not sep or not key:
            raise OptionError(
                f"invalid publish opts format (should be name=value but got '{item}')"
            )
        params[key] = field_value
    if "target" not in params:
        raise OptionError(f"missing 'target' in publish opts: {value}")
    published = params.get("published", "")
    host_ip = params.get("host_ip", "")
    prefix = f"{host_ip}:" if host_ip else ""
    return f"{prefix}{published}:{params['target']}/{params['protocol']}"


def parse_port_specs(
    publish: Sequence[str], expose: Sequence[str] = ()
) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[PortBinding, ...]], ...]]:
    """(ExposedPorts, PortBindings) from ``-p`` and ``--expose``, in first-seen order."""
    exposed: dict[str, None] = {}
    bindings: dict[str, list[PortBinding]] = {}
    for value in publish:
        for port, binding in parse_port_spec(_standard_publish(value)):
            exposed.setdefault(port, None)
            bindings.setdefault(port, []).append(binding)
    for value in expose:
        if ":" in value:
            raise OptionError(f"invalid port format for --expose: {value}")
        proto, port = split_proto_port(value)
        try:
            start, end = parse_port_range(port)
        except (OptionError, ValueError) as exc:
            reason = exc.message if isinstance(exc, OptionError) else f"invalid port: {port}"
            raise OptionError(
                f"invalid range format for --expose: {value}, error: {reason}"
            ) from None
        for number in range(start, end + 1):
            exposed.setdefault(f"{number}/{proto}", None)
    return tuple(exposed), tuple((port, tuple(items)) for port, items in bindings.items())


class VolumeSpec(NamedTuple):
    """One ``-v``: a bind or named volume (``bind``, sent in ``Binds``) or an anonymous one."""

    source: str
    target: str
    mode: str

    @property
    def anonymous(self) -> bool:
        return not self.source

    @property
    def is_bind_path(self) -> bool:
        return self.source[:1] in (".", "/", "~")


def parse_volume(spec: str) -> VolumeSpec:
    """The compose loader's ``ParseVolume`` for ``-v``: ``[source:]target[:mode]``."""
    if not spec:
        raise OptionError("invalid empty volume spec")
    if len(spec) <= 2:
        return VolumeSpec("", spec, "")
    parts = spec.split(":")
    if any(not part for part in parts):
        raise OptionError(f"invalid spec: {spec}: empty section between colons")
    if len(parts) == 1:
        return VolumeSpec("", parts[0], "")
    if len(parts) == 2:
        return VolumeSpec(parts[0], parts[1], "")
    if len(parts) == 3:
        return VolumeSpec(parts[0], parts[1], parts[2])
    raise OptionError(f"invalid spec: {spec}: too many colons")


def bind_string(volume: VolumeSpec, cwd: str) -> str:
    """The ``Binds`` entry; a ``.``-relative host path is made absolute as docker 23+ does."""
    source = volume.source
    if source.startswith(".") and not os.path.isabs(source):
        source = os.path.normpath(os.path.join(cwd, source))
    entry = f"{source}:{volume.target}"
    return f"{entry}:{volume.mode}" if volume.mode else entry


def read_env_file(path: str, lookup: Callable[[str], str | None]) -> list[str]:
    """``opts.ParseEnvFile``: ``KEY=VALUE`` lines kept verbatim, bare keys from ``lookup``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise OptionError(f"open {path}: no such file or directory") from None
    except OSError as exc:
        raise OptionError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    lines = []
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        raw_line = raw_line.removesuffix(b"\r")
        if number == 1:
            raw_line = raw_line.removeprefix(b"\xef\xbb\xbf")
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            raise OptionError(
                f"env file {path} contains invalid utf8 bytes at line {number}"
            ) from None
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        variable, sep, value = line.partition("=")
        variable = variable.lstrip(_WHITESPACE)
        if any(c in variable for c in _WHITESPACE):
            raise OptionError(
                f"poorly formatted environment: variable '{variable}' contains whitespaces"
            )
        if not variable:
            raise OptionError(f"poorly formatted environment: no variable name on line '{line}'")
        if sep:
            lines.append(f"{variable}={value}")
        elif (found := lookup(variable.strip())) is not None:
            lines.append(f"{variable.strip()}={found}")
    return lines


def read_kv_env(
    files: Sequence[str],
    values: Sequence[str],
    lookup: Callable[[str], str | None] = os.environ.get,
) -> tuple[str, ...]:
    """``opts.ReadKVEnvStrings``: the files' variables first, then the ``-e`` ones."""
    env: list[str] = []
    for path in files:
        env.extend(read_env_file(path, lookup))
    env.extend(values)
    return tuple(env)


def read_labels(files: Sequence[str], values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--label-file`` then ``-l``: ``key=value`` or a bare ``key`` (empty value); last wins."""
    entries: list[str] = []
    for path in files:
        entries.extend(read_env_file(path, lambda _key: None))
    entries.extend(values)
    labels: dict[str, str] = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        labels[key] = value
    return tuple(labels.items())


def parse_restart_policy(text: str) -> RestartPolicy:
    """``opts.ParseRestartPolicy``; the name itself is the daemon's to validate."""
    if not text:
        return RestartPolicy()
    name, sep, count = text.partition(":")
    if sep and not name:
        raise OptionError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        if not re.fullmatch(r"[+-]?\d+", count):
            raise OptionError(
                "invalid restart policy format: maximum retry count must be an integer"
            )
        retries = int(count)
    return RestartPolicy(name, retries)


def parse_tmpfs(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    tmpfs: dict[str, str] = {}
    for value in values:
        path, _, options = value.partition(":")
        tmpfs[path] = options
    return tuple(tmpfs.items())


def parse_log_opts(driver: str, values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if driver == "none" and values:
        raise OptionError(f"invalid logging opts for driver {driver}")
    options: dict[str, str] = {}
    for value in values:
        key, _, option = value.partition("=")
        options[key] = option
    return tuple(options.items())


def _normalize_caps(values: Sequence[str]) -> list[str]:
    caps: list[str] = []
    for value in values:
        cap = value.strip().upper()
        if cap != "ALL" and not cap.startswith("CAP_"):
            cap = "CAP_" + cap
        if cap not in caps:
            caps.append(cap)
    return sorted(caps)


def effective_caps(
    add: Sequence[str], drop: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``opts.EffectiveCapAddCapDrop``: ``ALL`` wins in either list; added caps leave ``drop``."""
    cap_add = _normalize_caps(add)
    cap_drop = _normalize_caps(drop)
    if "ALL" in cap_add:
        cap_add = ["ALL"]
    # Listing a capability in both lists adds it, unless everything is dropped.
    cap_drop = ["ALL"] if "ALL" in cap_drop else [cap for cap in cap_drop if cap not in cap_add]
    return tuple(cap_add), tuple(cap_drop)


def validate_pull(value: str) -> str:
    if value not in (PULL_ALWAYS, PULL_MISSING, PULL_NEVER, ""):
        raise OptionError(
            f"invalid pull option: '{value}': must be one of \"{PULL_ALWAYS}\", "
            f'"{PULL_MISSING}" or "{PULL_NEVER}"'
        )
    return value or PULL_MISSING


def parse_network(value: str) -> EndpointSpec:
    """``--network name`` or the advanced ``name=net,alias=a,ip=1.2.3.4`` form."""
    if "=" not in value:
        return EndpointSpec(value)
    name = ""
    aliases: list[str] = []
    ipv4 = ""
    for item in _csv_fields(value):
        key, sep, field_value = item.partition("=")
        if not sep:
            raise OptionError(f"invalid field '{item}' must be a key=value pair")
        if key == "name":
            name = field_value
        elif key == "alias":
            aliases.append(field_value)
        elif key == "ip":
            ipv4 = field_value
        else:
            raise OptionError(f"invalid field key {key}")
    if not name:
        raise OptionError("network name is required")
    return EndpointSpec(name, tuple(aliases), ipv4)
