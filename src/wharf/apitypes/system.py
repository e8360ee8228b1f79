"""Wire models for ``/version`` and ``/info``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    api_version: str
    min_api_version: str
    git_commit: str
    go_version: str
    os: str
    arch: str
    kernel_version: str
    build_time: str
    components: tuple[tuple[str, str], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "Platform": {"Name": "Wharf Engine"},
            "Components": [
                {
                    "Name": "Engine",
                    "Version": self.version,
                    "Details": {
                        "ApiVersion": self.api_version,
                        "Arch": self.arch,
                        "BuildTime": self.build_time,
                        "Experimental": "false",
                        "GitCommit": self.git_commit,
                        "GoVersion": self.go_version,
                        "KernelVersion": self.kernel_version,
                        "MinAPIVersion": self.min_api_version,
                        "Os": self.os,
                    },
                },
                *(
                    {"Name": name, "Version": version, "Details": {"GitCommit": ""}}
                    for name, version in self.components
                ),
            ],
            "Version": self.version,
            "ApiVersion": self.api_version,
            "MinAPIVersion": self.min_api_version,
            "GitCommit": self.git_commit,
            "GoVersion": self.go_version,
            "Os": self.os,
            "Arch": self.arch,
            "KernelVersion": self.kernel_version,
            "BuildTime": self.build_time,
        }


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    name: str
    path: str
    version: str = ""


@dataclass(frozen=True, slots=True)
class SystemInfo:
    id: str
    name: str
    containers: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    images: int
    server_version: str
    storage_driver: str
    driver_status: tuple[tuple[str, str], ...]
    logging_driver: str
    cgroup_driver: str
    cgroup_version: str
    kernel_version: str
    operating_system: str
    os_version: str
    os_type: str
    architecture: str
    ncpu: int
    mem_total: int
    docker_root_dir: str
    exec_root: str
    default_runtime: str
    runtimes: tuple[RuntimeInfo, ...]
    system_time: str
    security_options: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def to_wire(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Containers": self.containers,
            "ContainersRunning": self.containers_running,
            "ContainersPaused": self.containers_paused,
            "ContainersStopped": self.containers_stopped,
            "Images": self.images,
            "Driver": self.storage_driver,
            "DriverStatus": [list(pair) for pair in self.driver_status],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": None,
                "Log": ["json-file"],
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "IPv4Forwarding": True,
            "Debug": False,
            "NFd": 0,
            "OomKillDisable": False,
            "NGoroutines": 0,
            "SystemTime": self.system_time,
            "LoggingDriver": self.logging_driver,
            "CgroupDriver": self.cgroup_driver,
            "CgroupVersion": self.cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": self.kernel_version,
            "OperatingSystem": self.operating_system,
            "OSVersion": self.os_version,
            "OSType": self.os_type,
            "Architecture": self.architecture,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "IndexConfigs": {},
                "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "Mirrors": [],
            },
            "NCPU": self.ncpu,
            "MemTotal": self.mem_total,
            "GenericResources": None,
            "DockerRootDir": self.docker_root_dir,
            "HttpProxy": "",
            "HttpsProxy": "",
            "NoProxy": "",
            "Name": self.name,
            "Labels": list(self.labels),
            "ExperimentalBuild": False,
            "ServerVersion": self.server_version,
            "Runtimes": {rt.name: {"path": rt.path} for rt in self.runtimes},
            "DefaultRuntime": self.default_runtime,
            "Swarm": {
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": False,
                "Error": "",
                "RemoteManagers": None,
            },
            "LiveRestoreEnabled": True,
            "Isolation": "",
            "InitBinary": "",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": ""},
            "InitCommit": {"ID": ""},
            "SecurityOptions": list(self.security_options),
            "Warnings": list(self.warnings) or None,
            "ExecRoot": self.exec_root,
        }
