"""The flags of ``run`` and ``create`` and their translation into a ``ContainerSpec``, as the
docker CLI does it (``cli/command/container/opts.go`` and the ``opts`` package).

Two kinds of errors, as in docker:
- A flag value that its own type rejects (``--memory abc``, ``--ulimit x``, ``--mount ...``,
  ``-e =x``, ``--add-host x``) is a flag error: ``invalid argument "abc" for "-m, --memory"
  flag: invalid size: 'abc'`` + usage, exit 125. ``GoFlag`` raises it during parsing.
- Values checked once all flags are known (``-p``, ``-v``, ``--restart``, ``--env-file``,
  ``--pull``...) raise ``OptionError``; ``run``/``create`` print ``wharf: <message>.`` and
  ``See 'wharf run --help'.`` and exit 125.

The value parsers live in ``cli.opts``; ``build_spec`` assembles the create request from them.

Imports click, the standard library, ``wharf.cli.opts`` and ``wharf.client.container_spec``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import click

from wharf.apitypes.durations import parse_go_duration_ns
from wharf.cli.command import DockerCommand
from wharf.cli.opts import (
    PULL_MISSING,
    OptionError,
    bind_string,
    effective_caps,
    parse_go_int,
    parse_log_opts,
    parse_memory_swap,
    parse_mount,
    parse_nano_cpus,
    parse_network,
    parse_port_specs,
    parse_restart_policy,
    parse_size,
    parse_tmpfs,
    parse_ulimit,
    parse_volume,
    read_kv_env,
    read_labels,
    validate_attach,
    validate_env,
    validate_extra_host,
    validate_label,
)
from wharf.client.container_spec import (
    ContainerConfig,
    ContainerSpec,
    EndpointSpec,
    HealthcheckSpec,
    HostConfig,
    Mount,
    Ulimit,
)
from wharf.errdefs import InvalidArgument

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# --- commands whose trailing arguments are a program's


class PassthroughCommand(DockerCommand):
    """``run``, ``create``, ``exec``: everything after the first argument belongs to it.

    ``hostname_flag`` frees ``-h`` for ``--hostname`` (help is then ``--help`` only).
    """

    def __init__(self, *args: Any, hostname_flag: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if hostname_flag:
            self.context_settings["help_option_names"] = ["--help"]
        self.context_settings["allow_interspersed_args"] = False

    def _go_bools(self, ctx: click.Context, args: list[str]) -> tuple[list[str], dict[str, bool]]:
        # Only our own flags, before the image, may be Go-style booleans.
        split = _first_positional(self, ctx, args)
        head, overrides = super()._go_bools(ctx, args[:split])
        return head + args[split:], overrides


def _first_positional(command: click.Command, ctx: click.Context, args: list[str]) -> int:
    takes_value: set[str] = set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and not param.is_flag:
            takes_value.update(param.opts)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return index
        if arg.startswith("--"):
            if "=" not in arg and arg in takes_value:
                index += 1
        else:
            # A cluster like -it or -e: the first option that takes a value ends it.
            for position in range(1, len(arg)):
                if f"-{arg[position]}" in takes_value:
                    if position == len(arg) - 1:
                        index += 1
                    break
        index += 1
    return len(args)


# --- typed flags (pflag ``Value``s)


def _flag_name(param: click.Parameter | None) -> str:
    if param is None:
        return "flag"
    opts = list(getattr(param, "opts", []))
    shorts = [opt for opt in opts if not opt.startswith("--")]
    longs = [opt for opt in opts if opt.startswith("--")]
    if shorts and longs:
        return f"{shorts[0]}, {longs[0]}"
    return str((longs or shorts or [param.name or "flag"])[0])


class GoFlag(click.ParamType[Any]):
    """A flag whose value is parsed when it is read, with pflag's error wording."""

    def __init__(self, parse: Callable[[str], object], metavar: str) -> None:
        self._parse = parse
        self.name = metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except OptionError as exc:
            raise click.UsageError(
                f'invalid argument "{value}" for "{_flag_name(param)}" flag: {exc.message}', ctx
            ) from exc


# --- the flags themselves


class CreateFlags(NamedTuple):
    """The values of the flags ``run`` and ``create`` share, as click delivers them."""

    attach: tuple[str, ...] = ()
    add_host: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    cidfile: str = ""
    cpu_shares: int | None = None
    cpus: int | None = None
    cpuset_cpus: str = ""
    dns: tuple[str, ...] = ()
    dns_option: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    domainname: str = ""
    entrypoint: str | None = None
    env: tuple[str, ...] = ()
    env_file: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    health_cmd: str = ""
    health_interval: int = 0
    health_retries: int = 0
    health_start_interval: int = 0
    health_start_period: int = 0
    health_timeout: int = 0
    hostname: str = ""
    no_healthcheck: bool = False
    init: bool | None = None
    interactive: bool = False
    ip: str = ""
    ipc: str = ""
    label: tuple[str, ...] = ()
    label_file: tuple[str, ...] = ()
    log_driver: str = ""
    log_opt: tuple[str, ...] = ()
    mac_address: str = ""
    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    mount: tuple[Mount, ...] = ()
    name: str = ""
    network: tuple[str, ...] = ()
    network_alias: tuple[str, ...] = ()
    oom_kill_disable: bool = False
    pid: str = ""
    pids_limit: int | None = None
    platform: str = ""
    privileged: bool = False
    publish: tuple[str, ...] = ()
    publish_all: bool = False
    pull: str = PULL_MISSING
    quiet: bool = False
    read_only: bool = False
    restart: str = "no"
    rm: bool = False
    runtime: str = ""
    security_opt: tuple[str, ...] = ()
    shm_size: int | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    sysctl: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    tty: bool = False
    ulimit: tuple[Ulimit, ...] = ()
    user: str = ""
    uts: str = ""
    volume: tuple[str, ...] = ()
    volumes_from: tuple[str, ...] = ()
    workdir: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CreateFlags:
        known = {name: params[name] for name in cls._fields if name in params}
        return cls(
            **{key: value for key, value in known.items() if value is not None or key in _NULLABLE}
        )


_NULLABLE = frozenset(
    {
        "cpu_shares",
        "cpus",
        "entrypoint",
        "init",
        "memory",
        "memory_reservation",
        "memory_swap",
        "pids_limit",
        "shm_size",
        "stop_signal",
        "stop_timeout",
    }
)


def parse_duration_flag(text: str) -> int:
    try:
        return parse_go_duration_ns(text)
    except InvalidArgument as exc:
        raise OptionError(exc.message) from exc


_MEM = GoFlag(parse_size, "bytes")
_INT = GoFlag(parse_go_int, "int")
_DURATION = GoFlag(parse_duration_flag, "duration")


def _option(*decls: str, metavar: str = "string", **kwargs: Any) -> Decorator:
    return click.option(*decls, metavar=metavar, **kwargs)


def _list(
    *decls: str, help: str, type: click.ParamType[Any] | None = None, metavar: str = "list"
) -> Decorator:
    return click.option(*decls, multiple=True, metavar=metavar, help=help, type=type)


# Alphabetical by long name, as docker's help lists them.
_CREATE_OPTIONS: dict[str, Decorator] = {
    "add-host": _list(
        "--add-host",
        help="Add a custom host-to-IP mapping (host:ip)",
        type=GoFlag(validate_extra_host, "list"),
    ),
    "attach": _list(
        "-a",
        "--attach",
        help="Attach to STDIN, STDOUT or STDERR",
        type=GoFlag(validate_attach, "list"),
    ),
    "cap-add": _list("--cap-add", help="Add Linux capabilities"),
    "cap-drop": _list("--cap-drop", help="Drop Linux capabilities"),
    "cidfile": _option("--cidfile", default="", help="Write the container ID to the file"),
    "cpu-shares": _option(
        "-c",
        "--cpu-shares",
        "cpu_shares",
        type=_INT,
        metavar="int",
        default=None,
        help="CPU shares (relative weight)",
    ),
    "cpus": _option(
        "--cpus",
        type=GoFlag(parse_nano_cpus, "decimal"),
        metavar="decimal",
        default=None,
        help="Number of CPUs",
    ),
    "cpuset-cpus": _option(
        "--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)"
    ),
    "dns": _list("--dns", help="Set custom DNS servers"),
    "dns-option": _list("--dns-option", help="Set DNS options"),
    "dns-search": _list("--dns-search", help="Set custom DNS search domains"),
    "domainname": _option("--domainname", default="", help="Container NIS domain name"),
    "entrypoint": _option(
        "--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image"
    ),
    "env": _list(
        "-e", "--env", help="Set environment variables", type=GoFlag(validate_env, "list")
    ),
    "env-file": _list("--env-file", help="Read in a file of environment variables"),
    "expose": _list("--expose", help="Expose a port or a range of ports"),
    "group-add": _list("--group-add", help="Add additional groups to join"),
    "health-cmd": _option("--health-cmd", default="", help="Command to run to check health"),
    "health-interval": _option(
        "--health-interval",
        type=_DURATION,
        metavar="duration",
        default=0,
        help="Time between running the check (ms|s|m|h) (default 0s)",
    ),
    "health-retries": _option(
        "--health-retries",
        type=_INT,
        metavar="int",
        default=0,
        help="Consecutive failures needed to report unhealthy",
    ),
    "health-start-interval": _option(
        "--health-start-interval",
        type=_DURATION,
        metavar="duration",
        default=0,
        help="Time between running the check during the start period (ms|s|m|h) (default 0s)",
    ),
    "health-start-period": _option(
        "--health-start-period",
        type=_DURATION,
        metavar="duration",
        default=0,
        help="Start period for the container to initialize before starting health-retries "
        "countdown (ms|s|m|h) (default 0s)",
    ),
    "health-timeout": _option(
        "--health-timeout",
        type=_DURATION,
        metavar="duration",
        default=0,
        help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)",
    ),
    "no-healthcheck": _option(
        "--no-healthcheck",
        is_flag=True,
        default=False,
        help="Disable any container-specified HEALTHCHECK",
    ),
    "hostname": _option("-h", "--hostname", default="", help="Container host name"),
    "init": _option(
        "--init",
        is_flag=True,
        default=None,
        help="Run an init inside the container that forwards signals and reaps processes",
    ),
    "interactive": _option(
        "-i",
        "--interactive",
        is_flag=True,
        default=False,
        help="Keep STDIN open even if not attached",
    ),
    "ip": _option("--ip", default="", help='IPv4 address (e.g., "172.30.100.104")'),
    "ipc": _option("--ipc", default="", help="IPC mode to use"),
    "label": _list(
        "-l", "--label", help="Set meta data on a container", type=GoFlag(validate_label, "list")
    ),
    "label-file": _list("--label-file", help="Read in a line delimited file of labels"),
    "log-driver": _option("--log-driver", default="", help="Logging driver for the container"),
    "log-opt": _list("--log-opt", help="Log driver options"),
    "mac-address": _option(
        "--mac-address", default="", help='Container MAC address (e.g., "92:d0:c6:0a:29:33")'
    ),
    "memory": _option(
        "-m", "--memory", type=_MEM, metavar="bytes", default=None, help="Memory limit"
    ),
    "memory-reservation": _option(
        "--memory-reservation", type=_MEM, metavar="bytes", default=None, help="Memory soft limit"
    ),
    "memory-swap": _option(
        "--memory-swap",
        type=GoFlag(parse_memory_swap, "bytes"),
        metavar="bytes",
        default=None,
        help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
    ),
    "mount": _list(
        "--mount",
        help="Attach a filesystem mount to the container",
        type=GoFlag(parse_mount, "mount"),
        metavar="mount",
    ),
    "name": _option("--name", default="", help="Assign a name to the container"),
    "network": _list(
        "--network", "--net", help="Connect a container to a network", metavar="network"
    ),
    "network-alias": _list("--network-alias", help="Add network-scoped alias for the container"),
    "oom-kill-disable": _option(
        "--oom-kill-disable", is_flag=True, default=False, help="Disable OOM Killer"
    ),
    "pid": _option("--pid", default="", help="PID namespace to use"),
    "pids-limit": _option(
        "--pids-limit",
        type=_INT,
        metavar="int",
        default=None,
        help="Tune container pids limit (set -1 for unlimited)",
    ),
    "platform": _option(
        "--platform", default="", help="Set platform if server is multi-platform capable"
    ),
    "privileged": _option(
        "--privileged",
        is_flag=True,
        default=False,
        help="Give extended privileges to this container",
    ),
    "publish": _list("-p", "--publish", help="Publish a container's port(s) to the host"),
    "publish-all": _option(
        "-P",
        "--publish-all",
        is_flag=True,
        default=False,
        help="Publish all exposed ports to random ports",
    ),
    "pull": _option(
        "--pull",
        default=PULL_MISSING,
        help='Pull image before running ("always", "missing", "never")',
    ),
    "quiet": _option("-q", "--quiet", is_flag=True, default=False, help="Suppress the pull output"),
    "read-only": _option(
        "--read-only",
        is_flag=True,
        default=False,
        help="Mount the container's root filesystem as read only",
    ),
    "restart": _option(
        "--restart", default="no", help="Restart policy to apply when a container exits"
    ),
    "rm": _option(
        "--rm",
        is_flag=True,
        default=False,
        help=(
            "Automatically remove the container and its associated anonymous volumes when it exits"
        ),
    ),
    "runtime": _option("--runtime", default="", help="Runtime to use for this container"),
    "security-opt": _list("--security-opt", help="Security Options"),
    "shm-size": _option(
        "--shm-size", type=_MEM, metavar="bytes", default=None, help="Size of /dev/shm"
    ),
    "stop-signal": _option("--stop-signal", default=None, help="Signal to stop the container"),
    "stop-timeout": _option(
        "--stop-timeout",
        type=_INT,
        metavar="int",
        default=None,
        help="Timeout (in seconds) to stop a container",
    ),
    "sysctl": _list("--sysctl", help="Sysctl options", metavar="map"),
    "tmpfs": _list("--tmpfs", help="Mount a tmpfs directory"),
    "tty": _option("-t", "--tty", is_flag=True, default=False, help="Allocate a pseudo-TTY"),
    "ulimit": _list(
        "--ulimit", help="Ulimit options", type=GoFlag(parse_ulimit, "ulimit"), metavar="ulimit"
    ),
    "user": _option(
        "-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])"
    ),
    "uts": _option("--uts", default="", help="UTS namespace to use"),
    "volume": _list("-v", "--volume", help="Bind mount a volume"),
    "volumes-from": _list("--volumes-from", help="Mount volumes from the specified container(s)"),
    "workdir": _option(
        "-w", "--workdir", default="", help="Working directory inside the container"
    ),
}


def container_options(run_only: Mapping[str, Decorator] | None = None) -> Callable[[F], F]:
    """Apply the shared flags (plus ``run_only`` ones, keyed by long name) in docker's order."""
    merged = {**_CREATE_OPTIONS, **(run_only or {})}
    decorators = [merged[name] for name in sorted(merged)]

    def decorate(function: F) -> F:
        # click lists options in the order the decorators are written, i.e. applied last first.
        decorated: Callable[..., Any] = function
        for decorator in reversed(decorators):
            decorated = decorator(decorated)
        return decorated  # type: ignore[return-value]

    return decorate


# --- building the request


class Attachments(NamedTuple):
    stdin: bool
    stdout: bool
    stderr: bool


def attachments(flags: CreateFlags, *, detach: bool) -> Attachments:
    """Which streams to attach: ``-a`` if given, else stdout and stderr (plus stdin with -i)."""
    if detach:
        if flags.attach:
            raise OptionError("conflicting options: cannot specify both --attach and --detach")
        return Attachments(False, False, False)
    chosen = set(flags.attach)
    if not chosen:
        chosen = {"stdout", "stderr"}
    if flags.interactive:
        chosen.add("stdin")
    return Attachments("stdin" in chosen, "stdout" in chosen, "stderr" in chosen)


def healthcheck_flags(flags: CreateFlags) -> HealthcheckSpec | None:
    """docker run's ``--health-*`` flags; None leaves the image's HEALTHCHECK alone."""
    tuning = (
        flags.health_interval,
        flags.health_timeout,
        flags.health_start_period,
        flags.health_start_interval,
        flags.health_retries,
    )
    if flags.no_healthcheck:
        if flags.health_cmd or any(tuning):
            raise OptionError("--no-healthcheck conflicts with --health-* options")
        return HealthcheckSpec(test=("NONE",))
    for name, value in (
        ("--health-interval", flags.health_interval),
        ("--health-timeout", flags.health_timeout),
        ("--health-start-period", flags.health_start_period),
        ("--health-start-interval", flags.health_start_interval),
    ):
        if value < 0:
            raise OptionError(f"{name} cannot be negative")
    if flags.health_retries < 0:
        raise OptionError("--health-retries cannot be negative")
    if not flags.health_cmd and not any(tuning):
        return None
    return HealthcheckSpec(
        test=("CMD-SHELL", flags.health_cmd) if flags.health_cmd else (),
        interval=flags.health_interval,
        timeout=flags.health_timeout,
        start_period=flags.health_start_period,
        start_interval=flags.health_start_interval,
        retries=flags.health_retries,
    )


def build_spec(
    flags: CreateFlags,
    image: str,
    args: Sequence[str],
    *,
    detach: bool = False,
    console_size: tuple[int, int] = (0, 0),
    cwd: str | None = None,
    lookup_env: Callable[[str], str | None] = os.environ.get,
) -> ContainerSpec:
    """The create request for ``image args`` under ``flags``; raises ``OptionError``."""
    attach = attachments(flags, detach=detach)
    binds: list[str] = []
    anonymous: list[str] = []
    workdir = cwd if cwd is not None else os.getcwd()
    for spec in flags.volume:
        volume = parse_volume(spec)
        if volume.anonymous:
            anonymous.append(volume.target)
        else:
            binds.append(bind_string(volume, workdir) if volume.is_bind_path else spec)
    exposed, bindings = parse_port_specs(flags.publish, flags.expose)
    env = read_kv_env(flags.env_file, flags.env, lookup_env)
    labels = read_labels(flags.label_file, flags.label)
    restart = parse_restart_policy(flags.restart)
    if flags.rm and not restart.is_none:
        raise OptionError("conflicting options: cannot specify both --restart and --rm")
    log_config = parse_log_opts(flags.log_driver, flags.log_opt)
    cap_add, cap_drop = effective_caps(flags.cap_add, flags.cap_drop)
    entrypoint: tuple[str, ...] | None = None
    if flags.entrypoint:
        entrypoint = (flags.entrypoint,)
    elif flags.entrypoint is not None:
        entrypoint = ("",)  # ``--entrypoint=""`` resets the image's entrypoint
    endpoints = [parse_network(value) for value in flags.network]
    if flags.network_alias:
        if not endpoints:
            endpoints.append(EndpointSpec("default"))
        first = endpoints[0]
        endpoints[0] = EndpointSpec(
            first.network, (*first.aliases, *flags.network_alias), first.ipv4_address
        )
    if flags.ip:
        if not endpoints:
            endpoints.append(EndpointSpec("default"))
        first = endpoints[0]
        endpoints[0] = EndpointSpec(first.network, first.aliases, flags.ip)
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.network in seen:
            raise OptionError(f'network "{endpoint.network}" is specified multiple times')
        seen.add(endpoint.network)
    network_mode = endpoints[0].network if endpoints else "default"
    if not endpoints:
        endpoints.append(EndpointSpec(network_mode))
    sysctls = []
    for value in flags.sysctl:
        key, sep, sysctl_value = value.partition("=")
        if not sep:
            raise OptionError(f"sysctl '{value}' is not allowed")
        sysctls.append((key, sysctl_value))
    config = ContainerConfig(
        image=image,
        cmd=tuple(args) if args else None,
        entrypoint=entrypoint,
        env=env,
        user=flags.user,
        working_dir=flags.workdir,
        hostname=flags.hostname,
        domainname=flags.domainname,
        labels=labels,
        exposed_ports=exposed,
        volumes=tuple(dict.fromkeys(anonymous)),
        tty=flags.tty,
        open_stdin=flags.interactive,
        stdin_once=flags.interactive and attach.stdin,
        attach_stdin=attach.stdin,
        attach_stdout=attach.stdout,
        attach_stderr=attach.stderr,
        stop_signal=flags.stop_signal or "",
        stop_timeout=flags.stop_timeout,
        mac_address=flags.mac_address,
        healthcheck=healthcheck_flags(flags),
    )
    host = HostConfig(
        binds=tuple(binds),
        container_id_file=flags.cidfile,
        log_type=flags.log_driver,
        log_config=log_config,
        network_mode=network_mode,
        port_bindings=bindings,
        restart_policy=restart,
        auto_remove=flags.rm,
        console_size=console_size,
        cap_add=cap_add,
        cap_drop=cap_drop,
        dns=flags.dns,
        dns_options=flags.dns_option,
        dns_search=flags.dns_search,
        extra_hosts=flags.add_host,
        group_add=flags.group_add,
        privileged=flags.privileged,
        publish_all_ports=flags.publish_all,
        readonly_rootfs=flags.read_only,
        security_opt=flags.security_opt,
        tmpfs=parse_tmpfs(flags.tmpfs),
        shm_size=flags.shm_size or 0,
        runtime=flags.runtime,
        init=flags.init,
        mounts=flags.mount,
        ipc_mode=flags.ipc,
        pid_mode=flags.pid,
        uts_mode=flags.uts,
        sysctls=tuple(sysctls),
        volumes_from=flags.volumes_from,
        memory=flags.memory or 0,
        memory_reservation=flags.memory_reservation or 0,
        memory_swap=flags.memory_swap or 0,
        nano_cpus=flags.cpus or 0,
        cpu_shares=flags.cpu_shares or 0,
        cpuset_cpus=flags.cpuset_cpus,
        pids_limit=flags.pids_limit,
        oom_kill_disable=flags.oom_kill_disable,
        ulimits=flags.ulimit,
    )
    return ContainerSpec(config, host, tuple(endpoints))
