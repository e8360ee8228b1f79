"""Container wire models: the create request's ``Config`` and ``HostConfig``, decoded into
typed values at the boundary, and the list/inspect/wait/top/changes answers.

``from_wire`` validates types and raises ``InvalidArgument`` with Docker's wording where it
has one; ``to_wire`` writes every field Docker writes (clients such as docker-py and
docker-compose read many of them), so a config round-trips through the metadata store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wharf.apitypes.networks import NetworkingConfig, NetworkSettings
from wharf.errdefs import InvalidArgument


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidArgument(f"invalid {what}: expected a list of strings")


def _optional_strings(value: object, what: str) -> tuple[str, ...] | None:
    return None if value is None else _strings(value, what)


def _int(value: object, what: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"invalid {what}: expected a number")
    return int(value)


def _str(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid {what}: expected a string")
    return value


def _bool(value: object) -> bool:
    return bool(value)


def _str_map(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidArgument(f"invalid {what}: expected an object of strings")
    return dict(value)


def _key_set(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: expected an object")
    return tuple(str(key) for key in value)


@dataclass(frozen=True, slots=True)
class HealthConfig:
    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    retries: int = 0
    start_period: int = 0
    start_interval: int = 0

    @classmethod
    def from_wire(cls, raw: object) -> HealthConfig | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid Healthcheck: expected an object")
        return cls(
            test=_strings(raw.get("Test"), "Healthcheck.Test"),
            interval=_int(raw.get("Interval"), "Healthcheck.Interval"),
            timeout=_int(raw.get("Timeout"), "Healthcheck.Timeout"),
            retries=_int(raw.get("Retries"), "Healthcheck.Retries"),
            start_period=_int(raw.get("StartPeriod"), "Healthcheck.StartPeriod"),
            start_interval=_int(raw.get("StartInterval"), "Healthcheck.StartInterval"),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ):
            if value:
                wire[key] = value
        return wire


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """Docker's container ``Config`` (create body top level, inspect ``.Config``)."""

    image: str
    hostname: str = ""
    domainname: str = ""
    user: str = ""
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    exposed_ports: tuple[str, ...] = ()
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    healthcheck: HealthConfig | None = None
    entrypoint: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    network_disabled: bool = False
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    stop_signal: str = ""
    stop_timeout: int | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()
    mac_address: str = ""  # deprecated in Config since API 1.44 (per endpoint now); still sent

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> ContainerConfig:
        stop_timeout = raw.get("StopTimeout")
        return cls(
            image=_str(raw.get("Image"), "Image"),
            hostname=_str(raw.get("Hostname"), "Hostname"),
            domainname=_str(raw.get("Domainname"), "Domainname"),
            user=_str(raw.get("User"), "User"),
            attach_stdin=_bool(raw.get("AttachStdin")),
            attach_stdout=_bool(raw.get("AttachStdout")),
            attach_stderr=_bool(raw.get("AttachStderr")),
            exposed_ports=_key_set(raw.get("ExposedPorts"), "ExposedPorts"),
            tty=_bool(raw.get("Tty")),
            open_stdin=_bool(raw.get("OpenStdin")),
            stdin_once=_bool(raw.get("StdinOnce")),
            env=_strings(raw.get("Env"), "Env"),
            cmd=_optional_strings(raw.get("Cmd"), "Cmd"),
            healthcheck=HealthConfig.from_wire(raw.get("Healthcheck")),
            entrypoint=_optional_strings(raw.get("Entrypoint"), "Entrypoint"),
            volumes=_key_set(raw.get("Volumes"), "Volumes"),
            working_dir=_str(raw.get("WorkingDir"), "WorkingDir"),
            network_disabled=_bool(raw.get("NetworkDisabled")),
            labels=_str_map(raw.get("Labels"), "Labels"),
            stop_signal=_str(raw.get("StopSignal"), "StopSignal"),
            stop_timeout=None if stop_timeout is None else _int(stop_timeout, "StopTimeout"),
            on_build=_strings(raw.get("OnBuild"), "OnBuild"),
            shell=_strings(raw.get("Shell"), "Shell"),
            mac_address=_str(raw.get("MacAddress"), "MacAddress"),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Hostname": self.hostname,
            "Domainname": self.domainname,
            "User": self.user,
            "AttachStdin": self.attach_stdin,
            "AttachStdout": self.attach_stdout,
            "AttachStderr": self.attach_stderr,
            "Tty": self.tty,
            "OpenStdin": self.open_stdin,
            "StdinOnce": self.stdin_once,
            "Env": list(self.env) or None,
            "Cmd": None if self.cmd is None else list(self.cmd),
            "Image": self.image,
            "Volumes": {v: {} for v in self.volumes} or None,
            "WorkingDir": self.working_dir,
            "Entrypoint": None if self.entrypoint is None else list(self.entrypoint),
            "OnBuild": list(self.on_build) or None,
            "Labels": dict(self.labels),
        }
        if self.exposed_ports:
            wire["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.healthcheck is not None:
            wire["Healthcheck"] = self.healthcheck.to_wire()
        if self.stop_signal:
            wire["StopSignal"] = self.stop_signal
        if self.stop_timeout is not None:
            wire["StopTimeout"] = self.stop_timeout
        if self.shell:
            wire["Shell"] = list(self.shell)
        if self.network_disabled:
            wire["NetworkDisabled"] = True
        if self.mac_address:
            wire["MacAddress"] = self.mac_address
        return wire


@dataclass(frozen=True, slots=True)
class MountRequest:
    """One entry of ``HostConfig.Mounts`` (``--mount``)."""

    type: str
    source: str
    target: str
    read_only: bool = False
    tmpfs_size: int = 0
    tmpfs_mode: int = 0
    no_copy: bool = False

    @classmethod
    def from_wire(cls, raw: object) -> MountRequest:
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid mount: expected an object")
        kind = _str(raw.get("Type"), "Mount.Type") or "volume"
        if kind not in ("bind", "volume", "tmpfs"):
            raise InvalidArgument(f'invalid mount config for type "{kind}": unsupported type')
        target = _str(raw.get("Target"), "Mount.Target")
        if not target:
            raise InvalidArgument("invalid mount config: Target must not be empty")
        tmpfs = raw.get("TmpfsOptions") or {}
        volume_options = raw.get("VolumeOptions") or {}
        return cls(
            type=kind,
            source=_str(raw.get("Source"), "Mount.Source"),
            target=target,
            read_only=_bool(raw.get("ReadOnly")),
            tmpfs_size=_int(tmpfs.get("SizeBytes") if isinstance(tmpfs, dict) else 0, "size"),
            tmpfs_mode=_int(tmpfs.get("Mode") if isinstance(tmpfs, dict) else 0, "mode"),
            no_copy=bool(isinstance(volume_options, dict) and volume_options.get("NoCopy")),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"Type": self.type, "Source": self.source, "Target": self.target}
        if self.read_only:
            wire["ReadOnly"] = True
        if self.type == "tmpfs" and (self.tmpfs_size or self.tmpfs_mode):
            wire["TmpfsOptions"] = {
                k: v for k, v in (("SizeBytes", self.tmpfs_size), ("Mode", self.tmpfs_mode)) if v
            }
        if self.no_copy:
            wire["VolumeOptions"] = {"NoCopy": True}
        return wire


@dataclass(frozen=True, slots=True)
class PortBinding:
    container_port: str  # "80/tcp"
    host_ip: str
    host_port: str


@dataclass(frozen=True, slots=True)
class UlimitRequest:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Docker's ``HostConfig`` (the subset Wharf acts on, all of it echoed back)."""

    binds: tuple[str, ...] = ()
    mounts: tuple[MountRequest, ...] = ()
    tmpfs: dict[str, str] = field(default_factory=dict, hash=False)
    network_mode: str = ""
    port_bindings: tuple[PortBinding, ...] = ()
    publish_all_ports: bool = False
    restart_policy: str = ""
    restart_max_retries: int = 0
    auto_remove: bool = False
    read_only_rootfs: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    blkio_weight: int = 0
    ulimits: tuple[UlimitRequest, ...] = ()
    init: bool | None = None
    extra_hosts: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    log_type: str = "json-file"
    log_config: dict[str, str] = field(default_factory=dict, hash=False)
    runtime: str = ""
    shm_size: int = 0
    security_opt: tuple[str, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict, hash=False)
    oom_score_adj: int = 0
    group_add: tuple[str, ...] = ()
    console_size: tuple[int, int] = (0, 0)

    @classmethod
    def from_wire(cls, raw: object) -> HostConfig:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid HostConfig: expected an object")
        restart = raw.get("RestartPolicy") or {}
        if not isinstance(restart, dict):
            raise InvalidArgument("invalid RestartPolicy: expected an object")
        policy = _str(restart.get("Name"), "RestartPolicy.Name")
        if policy not in ("", "no", "always", "unless-stopped", "on-failure"):
            raise InvalidArgument(f"invalid restart policy: unknown policy '{policy}'")
        retries = _int(restart.get("MaximumRetryCount"), "RestartPolicy.MaximumRetryCount")
        if retries and policy != "on-failure":
            raise InvalidArgument(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            )
        log = raw.get("LogConfig") or {}
        if not isinstance(log, dict):
            raise InvalidArgument("invalid LogConfig: expected an object")
        log_type = _str(log.get("Type"), "LogConfig.Type") or "json-file"
        if log_type not in ("json-file", "local", "none"):
            raise InvalidArgument(f"logger: no log driver named '{log_type}' is registered")
        pids = raw.get("PidsLimit")
        init = raw.get("Init")
        console = raw.get("ConsoleSize") or [0, 0]
        return cls(
            binds=_strings(raw.get("Binds"), "Binds"),
            mounts=tuple(MountRequest.from_wire(m) for m in raw.get("Mounts") or ()),
            tmpfs=_str_map(raw.get("Tmpfs"), "Tmpfs"),
            network_mode=_str(raw.get("NetworkMode"), "NetworkMode"),
            port_bindings=_port_bindings(raw.get("PortBindings")),
            publish_all_ports=_bool(raw.get("PublishAllPorts")),
            restart_policy=policy,
            restart_max_retries=retries,
            auto_remove=_bool(raw.get("AutoRemove")),
            read_only_rootfs=_bool(raw.get("ReadonlyRootfs")),
            privileged=_bool(raw.get("Privileged")),
            cap_add=_strings(raw.get("CapAdd"), "CapAdd"),
            cap_drop=_strings(raw.get("CapDrop"), "CapDrop"),
            memory=_nonnegative(raw.get("Memory"), "Memory"),
            memory_swap=_int(raw.get("MemorySwap"), "MemorySwap"),
            memory_reservation=_nonnegative(raw.get("MemoryReservation"), "MemoryReservation"),
            nano_cpus=_nonnegative(raw.get("NanoCpus"), "NanoCpus"),
            cpu_shares=_nonnegative(raw.get("CpuShares"), "CpuShares"),
            cpu_quota=_int(raw.get("CpuQuota"), "CpuQuota"),
            cpu_period=_nonnegative(raw.get("CpuPeriod"), "CpuPeriod"),
            cpuset_cpus=_str(raw.get("CpusetCpus"), "CpusetCpus"),
            cpuset_mems=_str(raw.get("CpusetMems"), "CpusetMems"),
            pids_limit=None if pids is None else _int(pids, "PidsLimit"),
            blkio_weight=_nonnegative(raw.get("BlkioWeight"), "BlkioWeight"),
            ulimits=_ulimits(raw.get("Ulimits")),
            init=None if init is None else bool(init),
            extra_hosts=_strings(raw.get("ExtraHosts"), "ExtraHosts"),
            dns=_strings(raw.get("Dns"), "Dns"),
            dns_options=_strings(raw.get("DnsOptions"), "DnsOptions"),
            dns_search=_strings(raw.get("DnsSearch"), "DnsSearch"),
            log_type=log_type,
            log_config=_str_map(log.get("Config"), "LogConfig.Config"),
            runtime=_str(raw.get("Runtime"), "Runtime"),
            shm_size=_nonnegative(raw.get("ShmSize"), "ShmSize"),
            security_opt=_strings(raw.get("SecurityOpt"), "SecurityOpt"),
            sysctls=_str_map(raw.get("Sysctls"), "Sysctls"),
            oom_score_adj=_int(raw.get("OomScoreAdj"), "OomScoreAdj"),
            group_add=_strings(raw.get("GroupAdd"), "GroupAdd"),
            console_size=(
                (_int(console[0], "ConsoleSize"), _int(console[1], "ConsoleSize"))
                if isinstance(console, list) and len(console) == 2
                else (0, 0)
            ),
        )

    def to_wire(self) -> dict[str, Any]:
        bindings: dict[str, list[dict[str, str]]] = {}
        for binding in self.port_bindings:
            bindings.setdefault(binding.container_port, []).append(
                {"HostIp": binding.host_ip, "HostPort": binding.host_port}
            )
        return {
            "Binds": list(self.binds) or None,
            "ContainerIDFile": "",
            "LogConfig": {"Type": self.log_type, "Config": dict(self.log_config)},
            "NetworkMode": self.network_mode or "none",
            "PortBindings": bindings,
            "RestartPolicy": {
                "Name": self.restart_policy or "no",
                "MaximumRetryCount": self.restart_max_retries,
            },
            "AutoRemove": self.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": None,
            "ConsoleSize": list(self.console_size),
            "CapAdd": list(self.cap_add) or None,
            "CapDrop": list(self.cap_drop) or None,
            "CgroupnsMode": "private",
            "Dns": list(self.dns),
            "DnsOptions": list(self.dns_options),
            "DnsSearch": list(self.dns_search),
            "ExtraHosts": list(self.extra_hosts) or None,
            "GroupAdd": list(self.group_add) or None,
            "IpcMode": "private",
            "Cgroup": "",
            "Links": None,
            "OomScoreAdj": self.oom_score_adj,
            "PidMode": "",
            "Privileged": self.privileged,
            "PublishAllPorts": self.publish_all_ports,
            "ReadonlyRootfs": self.read_only_rootfs,
            "SecurityOpt": list(self.security_opt) or None,
            "Tmpfs": dict(self.tmpfs) or None,
            "UTSMode": "",
            "UsernsMode": "",
            "ShmSize": self.shm_size or 67108864,
            "Sysctls": dict(self.sysctls) or None,
            "Runtime": self.runtime,
            "Isolation": "",
            "CpuShares": self.cpu_shares,
            "Memory": self.memory,
            "NanoCpus": self.nano_cpus,
            "CgroupParent": "",
            "BlkioWeight": self.blkio_weight,
            "CpuPeriod": self.cpu_period,
            "CpuQuota": self.cpu_quota,
            "CpusetCpus": self.cpuset_cpus,
            "CpusetMems": self.cpuset_mems,
            "Devices": [],
            "MemoryReservation": self.memory_reservation,
            "MemorySwap": self.memory_swap,
            "MemorySwappiness": None,
            "OomKillDisable": False,
            "PidsLimit": self.pids_limit,
            "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in self.ulimits]
            or None,
            "Mounts": [m.to_wire() for m in self.mounts] or None,
            "Init": self.init,
            "MaskedPaths": None,
            "ReadonlyPaths": None,
        }


def _nonnegative(value: object, what: str) -> int:
    number = _int(value, what)
    if number < 0:
        raise InvalidArgument(f"invalid {what}: must not be negative")
    return number


def _port_bindings(raw: object) -> tuple[PortBinding, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid PortBindings: expected an object")
    bindings = []
    for port, entries in raw.items():
        number, _, proto = str(port).partition("/")
        if (
            not number.isdigit()
            or not 0 < int(number) < 65536
            or proto not in ("", "tcp", "udp", "sctp")
        ):
            raise InvalidArgument(f'invalid port specification: "{port}"')
        for entry in entries or [{}]:
            if not isinstance(entry, dict):
                raise InvalidArgument("invalid PortBindings entry: expected an object")
            host_port = _str(entry.get("HostPort"), "HostPort")
            if host_port and not all(part.isdigit() for part in host_port.split("-")):
                raise InvalidArgument(f'invalid port specification: "{host_port}"')
            bindings.append(
                PortBinding(
                    container_port=f"{number}/{proto or 'tcp'}",
                    host_ip=_str(entry.get("HostIp"), "HostIp"),
                    host_port=host_port,
                )
            )
    return tuple(bindings)


def _ulimits(raw: object) -> tuple[UlimitRequest, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidArgument("invalid Ulimits: expected a list")
    limits = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise InvalidArgument("invalid Ulimits entry: expected an object")
        soft = _int(entry.get("Soft"), "Ulimit.Soft")
        hard = _int(entry.get("Hard"), "Ulimit.Hard")
        if soft > hard:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        limits.append(
            UlimitRequest(name=_str(entry.get("Name"), "Ulimit.Name"), soft=soft, hard=hard)
        )
    return tuple(limits)


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """``POST /containers/create``: the body decoded, plus the ``name`` query parameter."""

    name: str
    config: ContainerConfig
    host_config: HostConfig
    platform: str = ""
    networking: NetworkingConfig = field(default_factory=NetworkingConfig)

    @classmethod
    def from_wire(cls, body: object, *, name: str, platform: str = "") -> CreateRequest:
        if not isinstance(body, dict):
            raise InvalidArgument("invalid container config: expected a JSON object")
        config = ContainerConfig.from_wire(body)
        if not config.image:
            raise InvalidArgument("config.Image must not be empty")
        return cls(
            name=name,
            config=config,
            host_config=HostConfig.from_wire(body.get("HostConfig")),
            platform=platform,
            networking=NetworkingConfig.from_wire(body.get("NetworkingConfig")),
        )


@dataclass(frozen=True, slots=True)
class ContainerStateView:
    status: str
    running: bool
    paused: bool
    restarting: bool
    oom_killed: bool
    dead: bool
    pid: int
    exit_code: int
    error: str
    started_at: str
    finished_at: str
    health: dict[str, Any] | None = field(default=None, hash=False)

    def to_wire(self) -> dict[str, Any]:
        wire = {
            "Status": self.status,
            "Running": self.running,
            "Paused": self.paused,
            "Restarting": self.restarting,
            "OOMKilled": self.oom_killed,
            "Dead": self.dead,
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": self.started_at,
            "FinishedAt": self.finished_at,
        }
        if self.health is not None:
            wire["Health"] = self.health
        return wire


@dataclass(frozen=True, slots=True)
class ContainerSummary:
    """One row of ``GET /containers/json``."""

    id: str
    names: tuple[str, ...]
    image: str
    image_id: str
    command: str
    created: int
    state: str
    status: str
    labels: dict[str, str]
    network_mode: str
    mounts: tuple[dict[str, Any], ...]
    ports: tuple[dict[str, Any], ...] = ()
    size_rw: int | None = None
    network_settings: NetworkSettings | None = None
    size_root_fs: int | None = None
    size_logs: int | None = None  # wharf's: bytes of its json-file logs (``/system/df``)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Id": self.id,
            "Names": list(self.names),
            "Image": self.image,
            "ImageID": self.image_id,
            "Command": self.command,
            "Created": self.created,
            "Ports": list(self.ports),
            "Labels": dict(self.labels),
            "State": self.state,
            "Status": self.status,
            "HostConfig": {"NetworkMode": self.network_mode},
            "NetworkSettings": (
                self.network_settings.summary_wire()
                if self.network_settings is not None
                else {"Networks": {}}
            ),
            "Mounts": list(self.mounts),
        }
        if self.size_rw is not None:
            wire["SizeRw"] = self.size_rw
        if self.size_root_fs is not None:
            wire["SizeRootFs"] = self.size_root_fs
        if self.size_logs is not None:
            wire["SizeLogs"] = self.size_logs
        return wire


@dataclass(frozen=True, slots=True)
class ContainerInspect:
    """``GET /containers/{id}/json``."""

    id: str
    created: str
    path: str
    args: tuple[str, ...]
    state: ContainerStateView
    image_id: str
    resolv_conf_path: str
    hostname_path: str
    hosts_path: str
    log_path: str
    name: str
    restart_count: int
    exec_ids: tuple[str, ...]
    host_config: HostConfig
    graph_driver_data: dict[str, str]
    mounts: tuple[dict[str, Any], ...]
    config: ContainerConfig
    network_mode: str
    network_settings: NetworkSettings | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Created": self.created,
            "Path": self.path,
            "Args": list(self.args),
            "State": self.state.to_wire(),
            "Image": self.image_id,
            "ResolvConfPath": self.resolv_conf_path,
            "HostnamePath": self.hostname_path,
            "HostsPath": self.hosts_path,
            "LogPath": self.log_path,
            "Name": f"/{self.name}",
            "RestartCount": self.restart_count,
            "Driver": "overlayfs",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": list(self.exec_ids) or None,
            "HostConfig": self.host_config.to_wire(),
            "GraphDriver": {"Name": "overlayfs", "Data": dict(self.graph_driver_data)},
            "Mounts": list(self.mounts),
            "Config": self.config.to_wire(),
            "NetworkSettings": self.network_settings.to_wire()
            if self.network_settings is not None
            else {
                "Bridge": "",
                "SandboxID": "",
                "SandboxKey": "",
                "Ports": {},
                "HairpinMode": False,
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "SecondaryIPAddresses": None,
                "SecondaryIPv6Addresses": None,
                "EndpointID": "",
                "Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "MacAddress": "",
                "Networks": {
                    self.network_mode: {
                        "IPAMConfig": None,
                        "Links": None,
                        "Aliases": None,
                        "NetworkID": "",
                        "EndpointID": "",
                        "Gateway": "",
                        "IPAddress": "",
                        "IPPrefixLen": 0,
                        "IPv6Gateway": "",
                        "GlobalIPv6Address": "",
                        "GlobalIPv6PrefixLen": 0,
                        "MacAddress": "",
                        "DriverOpts": None,
                    }
                },
            },
        }
