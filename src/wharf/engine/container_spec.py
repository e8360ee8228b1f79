"""How a container's configuration becomes what the OCI runtime runs: the runtime spec
(user resolved inside the rootfs, mounts, resources, security options, the network namespace
the network service prepared) and the /etc files Docker provides (hostname, hosts,
resolv.conf), written under the container's data dir.
"""

from __future__ import annotations

from pathlib import Path

from wharf.apitypes.containers import HostConfig
from wharf.engine.container_model import ContainerConfig
from wharf.engine.network_model import NetworkSetup, SandboxMode
from wharf.runtime.spec import (
    BindMount,
    ContainerSpec,
    NetworkMode,
    Resources,
    TmpfsMount,
    Ulimit,
)
from wharf.runtime.users import resolve_user

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


_MODES = {
    SandboxMode.NONE: NetworkMode.NONE,
    SandboxMode.HOST: NetworkMode.HOST,
    SandboxMode.PATH: NetworkMode.PATH,
}


def build_container_spec(
    config: ContainerConfig,
    rootfs: Path,
    *,
    data_dir: Path,
    write_files: bool = True,
    network: NetworkSetup | None = None,
) -> ContainerSpec:
    """The runtime spec of a container: its config turned into the OCI runtime's terms.

    ``network`` is what the network service set up; without it (no network service) the
    container gets an empty namespace, or the host's for ``--network host``."""
    wire = config.config
    hc = config.host_config
    if write_files:
        if network is not None:
            write_network_files(config, data_dir, network)
        else:
            write_etc_files(config, data_dir)
    uid, gid, groups = resolve_user(rootfs, wire.user, group_add=hc.group_add)
    binds = []
    tmpfs = []
    for mount in config.mounts:
        if mount.type == "tmpfs":
            tmpfs.append(TmpfsMount(destination=mount.destination, options=mount.tmpfs_options))
        else:
            binds.append(
                BindMount(
                    source=Path(mount.source),
                    destination=mount.destination,
                    read_only=not mount.rw,
                )
            )
    if network is not None:
        mode = _MODES[network.mode]
        netns_path = str(network.netns_path) if network.netns_path is not None else None
    else:
        mode = NetworkMode.HOST if hc.network_mode == "host" else NetworkMode.NONE
        netns_path = None
    security = set(hc.security_opt)
    no_new_privileges = not (
        "no-new-privileges=false" in security or "no-new-privileges:false" in security
    )
    return ContainerSpec(
        id=config.id,
        rootfs=rootfs,
        args=(config.path, *config.args),
        env=wire.env if any(e.startswith("PATH=") for e in wire.env) else (DEFAULT_PATH, *wire.env),
        cwd=wire.working_dir or "/",
        uid=uid,
        gid=gid,
        additional_gids=groups,
        terminal=wire.tty,
        hostname=wire.hostname,
        domainname=wire.domainname,
        readonly_rootfs=hc.read_only_rootfs,
        binds=tuple(binds),
        tmpfs=tuple(tmpfs),
        network=mode,
        netns_path=netns_path,
        privileged=hc.privileged,
        cap_add=hc.cap_add,
        cap_drop=hc.cap_drop,
        seccomp=not any(o in security for o in ("seccomp=unconfined", "seccomp:unconfined")),
        no_new_privileges=no_new_privileges and not hc.privileged,
        resources=resources_for(hc),
        ulimits=tuple(Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in hc.ulimits),
        cgroups_path=f"/wharf/{config.id}",
        shm_size=hc.shm_size or 64 << 20,
        sysctls=dict(hc.sysctls),
        oom_score_adj=hc.oom_score_adj or None,
        init=bool(hc.init),
        console_size=hc.console_size if wire.tty and all(hc.console_size) else None,
        etc_files={
            "/etc/hostname": data_dir / "hostname",
            "/etc/hosts": data_dir / "hosts",
            "/etc/resolv.conf": data_dir / "resolv.conf",
        },
    )


def resources_for(hc: HostConfig) -> Resources:
    """The cgroup limits of a container's HostConfig: what start renders and what ``update``
    applies to a running container, so both always agree."""
    return Resources(
        memory=hc.memory or None,
        memory_swap=hc.memory_swap or None,
        memory_reservation=hc.memory_reservation or None,
        nano_cpus=hc.nano_cpus or None,
        cpu_period=hc.cpu_period or None,
        cpu_quota=hc.cpu_quota or None,
        cpu_shares=hc.cpu_shares or None,
        pids_limit=hc.pids_limit if hc.pids_limit and hc.pids_limit > 0 else None,
        cpuset_cpus=hc.cpuset_cpus or None,
        cpuset_mems=hc.cpuset_mems or None,
        blkio_weight=hc.blkio_weight or None,
    )


def write_network_files(config: ContainerConfig, data_dir: Path, network: NetworkSetup) -> None:
    """/etc/hostname, and the hosts and resolv.conf the network service wrote for it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "hostname").write_text(f"{config.config.hostname}\n")
    (data_dir / "hosts").write_text(network.hosts)
    (data_dir / "resolv.conf").write_text(network.resolv_conf)


def write_etc_files(config: ContainerConfig, data_dir: Path) -> None:
    """/etc/hostname, /etc/hosts and /etc/resolv.conf as Docker writes them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    hostname = config.config.hostname
    (data_dir / "hostname").write_text(f"{hostname}\n")
    hosts = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::\tip6-localnet",
        "ff00::\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    for entry in config.host_config.extra_hosts:
        host, _, address = entry.partition(":")
        if address == "host-gateway":
            address = "127.0.0.1"
        hosts.append(f"{address}\t{host}")
    (data_dir / "hosts").write_text("\n".join(hosts) + "\n")
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = ""
    if config.host_config.dns:
        resolv = "".join(f"nameserver {server}\n" for server in config.host_config.dns)
    (data_dir / "resolv.conf").write_text(resolv)
