"""What a client asks for when it creates a container or an exec: typed, encoded at the boundary.

The value types are ``typing.NamedTuple``s rather than frozen dataclasses: every ``run`` defines
them, and a NamedTuple costs a fraction of a dataclass to define (CLI start-up time). They are
immutable, compare and hash by value, and take the same constructor arguments.

``ContainerSpec.to_wire()`` is the body of ``POST /containers/create`` in Docker's shape
(Engine API v1.45): the container ``Config`` fields at the top level, plus ``HostConfig`` and
``NetworkingConfig``. ``ExecSpec.to_wire()`` is the body of ``POST /containers/{id}/exec``.
Field names below are Docker's; the docker CLI sends the same keys (pointer fields such as
``StopTimeout``, ``Init`` and ``PidsLimit`` are ``null`` unless the user set them).

Shape of a create body (abridged)::

    {"Image": "busybox", "Cmd": ["sh"], "Entrypoint": null, "Env": ["A=1"], "Tty": true,
     "OpenStdin": true, "StdinOnce": true, "AttachStdin": true, ..., "ExposedPorts": {"80/tcp": {}},
     "Volumes": {"/data": {}}, "Labels": {}, "StopSignal": "SIGTERM", "StopTimeout": 3,
     "HostConfig": {"Binds": ["/src:/dst:ro"], "NetworkMode": "default", "PortBindings":
        {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, "RestartPolicy": {"Name": "no",
        "MaximumRetryCount": 0}, "AutoRemove": true, "Memory": 33554432, "NanoCpus": 1500000000,
        "Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}}],
        "Tmpfs": {"/run": "rw"}, "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
        "LogConfig": {"Type": "", "Config": {"max-size": "1m"}}, "ConsoleSize": [24, 80], ...},
     "NetworkingConfig": {"EndpointsConfig": {"default": {}}}}

Imports only the standard library.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

Pairs = tuple[tuple[str, str], ...]


class PortBinding(NamedTuple):
    host_ip: str = ""
    host_port: str = ""

    def to_wire(self) -> dict[str, str]:
        return {"HostIp": self.host_ip, "HostPort": self.host_port}


class Ulimit(NamedTuple):
    name: str
    soft: int
    hard: int

    def to_wire(self) -> dict[str, Any]:
        return {"Name": self.name, "Soft": self.soft, "Hard": self.hard}


class MountType(enum.Enum):
    BIND = "bind"
    VOLUME = "volume"
    TMPFS = "tmpfs"


class Mount(NamedTuple):
    """One ``--mount``: Docker's ``mount.Mount``; option groups are sent only when used."""

    type: MountType
    target: str
    source: str = ""
    read_only: bool = False
    consistency: str = ""
    bind_propagation: str = ""
    bind_nonrecursive: bool = False
    volume_nocopy: bool = False
    volume_labels: Pairs = ()
    volume_driver: str = ""
    volume_driver_opts: Pairs = ()
    volume_subpath: str = ""
    tmpfs_size: int = 0
    tmpfs_mode: int = 0

    @property
    def has_bind_options(self) -> bool:
        return bool(self.bind_propagation or self.bind_nonrecursive)

    @property
    def has_volume_options(self) -> bool:
        return bool(
            self.volume_nocopy
            or self.volume_labels
            or self.volume_driver
            or self.volume_driver_opts
            or self.volume_subpath
        )

    @property
    def has_tmpfs_options(self) -> bool:
        return bool(self.tmpfs_size or self.tmpfs_mode)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"Type": self.type.value, "Source": self.source}
        wire["Target"] = self.target
        if self.read_only:
            wire["ReadOnly"] = True
        if self.consistency:
            wire["Consistency"] = self.consistency
        if self.has_bind_options:
            bind: dict[str, Any] = {}
            if self.bind_propagation:
                bind["Propagation"] = self.bind_propagation
            if self.bind_nonrecursive:
                bind["NonRecursive"] = True
            wire["BindOptions"] = bind
        if self.has_volume_options:
            volume: dict[str, Any] = {}
            if self.volume_nocopy:
                volume["NoCopy"] = True
            if self.volume_labels:
                volume["Labels"] = dict(self.volume_labels)
            if self.volume_driver or self.volume_driver_opts:
                driver: dict[str, Any] = {"Name": self.volume_driver}
                if self.volume_driver_opts:
                    driver["Options"] = dict(self.volume_driver_opts)
                volume["DriverConfig"] = driver
            if self.volume_subpath:
                volume["Subpath"] = self.volume_subpath
            wire["VolumeOptions"] = volume
        if self.has_tmpfs_options:
            tmpfs: dict[str, Any] = {}
            if self.tmpfs_size:
                tmpfs["SizeBytes"] = self.tmpfs_size
            if self.tmpfs_mode:
                tmpfs["Mode"] = self.tmpfs_mode
            wire["TmpfsOptions"] = tmpfs
        return wire


class RestartPolicy(NamedTuple):
    """``no``, ``always``, ``unless-stopped``, ``on-failure`` (with a retry count); "" = unset."""

    name: str = ""
    maximum_retry_count: int = 0

    @property
    def is_none(self) -> bool:
        return self.name in ("", "no")

    def to_wire(self) -> dict[str, Any]:
        return {"Name": self.name, "MaximumRetryCount": self.maximum_retry_count}


class HealthcheckSpec(NamedTuple):
    """Docker's ``Healthcheck``: ``test`` is ``("NONE",)``, ``("CMD", ...)`` or
    ``("CMD-SHELL", script)``; durations in nanoseconds, 0 = the daemon's default."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

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


class ContainerConfig(NamedTuple):
    """The portable part of a container (Docker's ``container.Config``)."""

    image: str
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    hostname: str = ""
    domainname: str = ""
    labels: Pairs = ()
    exposed_ports: tuple[str, ...] = ()  # "80/tcp"
    volumes: tuple[str, ...] = ()  # anonymous volume targets
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    stop_signal: str = ""
    stop_timeout: int | None = None
    mac_address: str = ""
    healthcheck: HealthcheckSpec | None = None

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
            "Env": list(self.env),
            "Cmd": list(self.cmd) if self.cmd is not None else None,
            "Image": self.image,
            "Volumes": {target: {} for target in self.volumes},
            "WorkingDir": self.working_dir,
            "Entrypoint": list(self.entrypoint) if self.entrypoint is not None else None,
            "OnBuild": None,
            "Labels": dict(self.labels),
        }
        if self.exposed_ports:
            wire["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.stop_signal:
            wire["StopSignal"] = self.stop_signal
        if self.stop_timeout is not None:
            wire["StopTimeout"] = self.stop_timeout
        if self.mac_address:
            wire["MacAddress"] = self.mac_address
        if self.healthcheck is not None:
            wire["Healthcheck"] = self.healthcheck.to_wire()
        return wire


class HostConfig(NamedTuple):
    """The host-dependent part (Docker's ``container.HostConfig`` with its ``Resources``)."""

    binds: tuple[str, ...] = ()
    container_id_file: str = ""
    log_type: str = ""
    log_config: Pairs = ()
    network_mode: str = "default"
    port_bindings: tuple[tuple[str, tuple[PortBinding, ...]], ...] = ()
    restart_policy: RestartPolicy = RestartPolicy()
    auto_remove: bool = False
    console_size: tuple[int, int] = (0, 0)
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    privileged: bool = False
    publish_all_ports: bool = False
    readonly_rootfs: bool = False
    security_opt: tuple[str, ...] = ()
    tmpfs: Pairs = ()
    shm_size: int = 0
    runtime: str = ""
    init: bool | None = None
    mounts: tuple[Mount, ...] = ()
    ipc_mode: str = ""
    pid_mode: str = ""
    uts_mode: str = ""
    sysctls: Pairs = ()
    volumes_from: tuple[str, ...] = ()
    # Resources
    memory: int = 0
    memory_reservation: int = 0
    memory_swap: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    pids_limit: int | None = None
    oom_kill_disable: bool = False
    ulimits: tuple[Ulimit, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Binds": list(self.binds) or None,
            "ContainerIDFile": self.container_id_file,
            "LogConfig": {"Type": self.log_type, "Config": dict(self.log_config)},
            "NetworkMode": self.network_mode,
            "PortBindings": {
                port: [binding.to_wire() for binding in bindings]
                for port, bindings in self.port_bindings
            },
            "RestartPolicy": self.restart_policy.to_wire(),
            "AutoRemove": self.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": list(self.volumes_from) or None,
            "ConsoleSize": list(self.console_size),
            "CapAdd": list(self.cap_add) or None,
            "CapDrop": list(self.cap_drop) or None,
            "CgroupnsMode": "",
            "Dns": list(self.dns),
            "DnsOptions": list(self.dns_options),
            "DnsSearch": list(self.dns_search),
            "ExtraHosts": list(self.extra_hosts) or None,
            "GroupAdd": list(self.group_add) or None,
            "IpcMode": self.ipc_mode,
            "Cgroup": "",
            "Links": None,
            "OomScoreAdj": 0,
            "PidMode": self.pid_mode,
            "Privileged": self.privileged,
            "PublishAllPorts": self.publish_all_ports,
            "ReadonlyRootfs": self.readonly_rootfs,
            "SecurityOpt": list(self.security_opt) or None,
            "UTSMode": self.uts_mode,
            "UsernsMode": "",
            "ShmSize": self.shm_size,
            "Isolation": "",
            "CpuShares": self.cpu_shares,
            "Memory": self.memory,
            "NanoCpus": self.nano_cpus,
            "CgroupParent": "",
            "CpusetCpus": self.cpuset_cpus,
            "CpusetMems": "",
            "MemoryReservation": self.memory_reservation,
            "MemorySwap": self.memory_swap,
            "MemorySwappiness": None,
            "OomKillDisable": self.oom_kill_disable,
            "PidsLimit": self.pids_limit,
            "Ulimits": [ulimit.to_wire() for ulimit in self.ulimits] or None,
            "MaskedPaths": None,
            "ReadonlyPaths": None,
        }
        if self.tmpfs:
            wire["Tmpfs"] = dict(self.tmpfs)
        if self.sysctls:
            wire["Sysctls"] = dict(self.sysctls)
        if self.runtime:
            wire["Runtime"] = self.runtime
        if self.init is not None:
            wire["Init"] = self.init
        if self.mounts:
            wire["Mounts"] = [mount.to_wire() for mount in self.mounts]
        return wire


class EndpointSpec(NamedTuple):
    """One network to join at create; aliases apply on user-defined networks."""

    network: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""
    ipv6_address: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.aliases:
            wire["Aliases"] = list(self.aliases)
        ipam = {
            key: value
            for key, value in (
                ("IPv4Address", self.ipv4_address),
                ("IPv6Address", self.ipv6_address),
            )
            if value
        }
        if ipam:
            wire["IPAMConfig"] = ipam
        return wire


class ContainerSpec(NamedTuple):
    """Everything ``POST /containers/create`` takes in its body."""

    config: ContainerConfig
    host_config: HostConfig = HostConfig()
    endpoints: tuple[EndpointSpec, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        body = self.config.to_wire()
        body["HostConfig"] = self.host_config.to_wire()
        body["NetworkingConfig"] = {
            "EndpointsConfig": {ep.network: ep.to_wire() for ep in self.endpoints}
        }
        return body


class ExecSpec(NamedTuple):
    """The body of ``POST /containers/{id}/exec``."""

    cmd: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    privileged: bool = False
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    console_size: tuple[int, int] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "User": self.user,
            "Privileged": self.privileged,
            "Tty": self.tty,
            "ConsoleSize": list(self.console_size) if self.console_size is not None else None,
            "AttachStdin": self.attach_stdin,
            "AttachStderr": self.attach_stderr,
            "AttachStdout": self.attach_stdout,
            "DetachKeys": self.detach_keys,
            "Env": list(self.env) or None,
            "WorkingDir": self.working_dir,
            "Cmd": list(self.cmd),
        }
        return wire


class UpdateSpec(NamedTuple):
    """The body of ``POST /containers/{id}/update`` (Docker's ``UpdateConfig``): 0, "" and None
    leave a setting as it is; ``pids_limit`` 0 or -1 lifts the limit; ``memory_swap`` -1 means
    unlimited swap; a ``restart_policy`` with an empty name keeps the current one."""

    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    blkio_weight: int = 0
    restart_policy: RestartPolicy = RestartPolicy()

    def to_wire(self) -> dict[str, Any]:
        return {
            "BlkioWeight": self.blkio_weight,
            "CpuShares": self.cpu_shares,
            "Memory": self.memory,
            "NanoCpus": self.nano_cpus,
            "CpuPeriod": self.cpu_period,
            "CpuQuota": self.cpu_quota,
            "CpusetCpus": self.cpuset_cpus,
            "CpusetMems": self.cpuset_mems,
            "MemoryReservation": self.memory_reservation,
            "MemorySwap": self.memory_swap,
            "PidsLimit": self.pids_limit,
            "RestartPolicy": self.restart_policy.to_wire(),
        }
