"""load_project on small files: each service key's normalization and each error message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wharf.compose.model import (
    BindOptions,
    BuildConfig,
    ComposeError,
    Dependency,
    DependencyCondition,
    FileObject,
    Healthcheck,
    NetworkConfig,
    PortConfig,
    PortProtocol,
    Project,
    ResourceSpec,
    Service,
    ServiceFileRef,
    ServiceNetwork,
    ServiceVolume,
    TmpfsOptions,
    Ulimit,
    VolumeConfig,
    VolumeType,
    find_compose_files,
    load_project,
)

ENV = {"HOME": "/home/me"}


def _load(tmp_path: Path, text: str, **options: Any) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    options.setdefault("environ", ENV)
    return load_project([tmp_path / "compose.yaml"], **options)


def _service(tmp_path: Path, body: str, **options: Any) -> Service:
    text = "services:\n  web:\n" + "".join(f"    {line}\n" for line in body.splitlines())
    return _load(tmp_path, text, **options).services["web"]


def _error(tmp_path: Path, text: str, **options: Any) -> str:
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, text, **options)
    return str(info.value)


def test_minimal_service_defaults(tmp_path: Path) -> None:
    project = _load(tmp_path / "", "services:\n  web:\n    image: nginx\n")
    web = project.services["web"]
    assert web == Service(name="web", image="nginx", networks={"default": ServiceNetwork()})
    assert web.replicas() == 1
    assert project.networks == {"default": NetworkConfig(name=f"{project.name}_default")}
    assert project.working_dir == tmp_path
    assert project.files == (tmp_path / "compose.yaml",)


def test_command_and_entrypoint(tmp_path: Path) -> None:
    web = _service(
        tmp_path, 'image: x\ncommand: sh -c \'echo "a b"\'\nentrypoint: ["/init", "--x"]'
    )
    assert web.command == ("sh", "-c", 'echo "a b"')
    assert web.entrypoint == ("/init", "--x")
    assert _service(tmp_path, "image: x\ncommand: []").command == ()
    assert _service(tmp_path, "image: x\ncommand: null").command is None


def test_environment_forms_and_env_file(tmp_path: Path) -> None:
    (tmp_path / "web.env").write_text("# defaults\nexport A=from_file\nB='kept'\nQ=\"x y\"\n")
    web = _service(
        tmp_path,
        "image: x\nenv_file: web.env\nenvironment:\n  A: override\n  N: 1\n  T: true\n"
        "  F: 1.10\n  HOME:\n  UNSET:",
    )
    assert web.environment == {
        "A": "override",
        "B": "kept",
        "Q": "x y",
        "N": "1",
        "T": "true",
        "F": "1.10",
        "HOME": "/home/me",
        "UNSET": None,
    }
    listed = _service(tmp_path, "image: x\nenvironment: [A=1, B=, 'C=x=y', HOME]")
    assert listed.environment == {"A": "1", "B": "", "C": "x=y", "HOME": "/home/me"}


def test_env_file_missing(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: x\n    env_file: nope.env\n"
    assert (
        _error(tmp_path, text) == f"services.web.env_file: env file {tmp_path}/nope.env not found"
    )
    optional = (
        "services:\n  web:\n    image: x\n    env_file: [{path: nope.env, required: false}]\n"
    )
    assert _load(tmp_path, optional).services["web"].environment == {}


def test_ports(tmp_path: Path) -> None:
    web = _service(
        tmp_path,
        "image: x\nports:\n  - 80\n  - '8080:80'\n  - 127.0.0.1:53:53/udp\n"
        "  - 9000-9001:9000-9001\n"
        "  - {target: 443, published: 8443, host_ip: 0.0.0.0, mode: host}",
    )
    assert web.ports == (
        PortConfig(target=80),
        PortConfig(target=80, published="8080"),
        PortConfig(target=53, published="53", host_ip="127.0.0.1", protocol=PortProtocol.UDP),
        PortConfig(target=9000, published="9000"),
        PortConfig(target=9001, published="9001"),
        PortConfig(target=443, published="8443", host_ip="0.0.0.0", mode="host"),
    )
    assert web.ports[2].protocol == "udp"


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ("['abc']", 'compose.yaml: services.web.ports[0]: invalid port "abc"'),
        ("['80', '1:x']", 'compose.yaml: services.web.ports[1]: invalid port "1:x"'),
        ("[{published: 80}]", "compose.yaml: services.web.ports[0]: missing target port"),
        ("[{target: 0}]", 'compose.yaml: services.web.ports[0].target: invalid port "0"'),
        (
            "[{target: 80, protocol: icmp}]",
            'compose.yaml: services.web.ports[0].protocol: invalid protocol "icmp"',
        ),
    ],
)
def test_port_errors(tmp_path: Path, ports: str, message: str) -> None:
    assert _error(tmp_path, f"services:\n  web:\n    image: x\n    ports: {ports}\n") == message


def test_volumes(tmp_path: Path) -> None:
    text = """
services:
  web:
    image: x
    volumes:
      - db:/var/lib/db:ro
      - ./data:/data
      - /abs:/x
      - ~/cfg:/cfg
      - /anon
      - {type: bind, source: ../up, target: /up}
      - {type: tmpfs, target: /tmp, tmpfs: {size: 64m, mode: '1777'}}
volumes:
  db: {}
"""
    web = _load(tmp_path, text).services["web"]
    assert web.volumes == (
        ServiceVolume(VolumeType.VOLUME, "db", "/var/lib/db", read_only=True),
        ServiceVolume(
            VolumeType.BIND,
            str(tmp_path / "data"),
            "/data",
            bind=BindOptions(create_host_path=True),
        ),
        ServiceVolume(VolumeType.BIND, "/abs", "/x", bind=BindOptions(create_host_path=True)),
        ServiceVolume(
            VolumeType.BIND, "/home/me/cfg", "/cfg", bind=BindOptions(create_host_path=True)
        ),
        ServiceVolume(VolumeType.VOLUME, "", "/anon"),
        ServiceVolume(VolumeType.BIND, str(tmp_path.parent / "up"), "/up"),
        ServiceVolume(VolumeType.TMPFS, "", "/tmp", tmpfs=TmpfsOptions(size=64 << 20, mode=0o1777)),
    )


@pytest.mark.parametrize(
    ("volumes", "message"),
    [
        (
            "['db:data']",
            'compose.yaml: services.web.volumes[0]: invalid volume "db:data": '
            "target must be an absolute path",
        ),
        (
            "[{type: npipe, source: a, target: /b}]",
            'compose.yaml: services.web.volumes[0].type: volume type "npipe" is not supported',
        ),
        (
            "[{type: bind, target: /b}]",
            "compose.yaml: services.web.volumes[0]: a bind mount needs a source",
        ),
        (
            "[{type: volume, source: v, target: /b, bind: {selinux: z}}]",
            'compose.yaml: services.web.volumes[0].bind: "bind" options on a volume mount',
        ),
        ("['undeclared:/b']", 'services.web: refers to undefined volume "undeclared"'),
    ],
)
def test_volume_errors(tmp_path: Path, volumes: str, message: str) -> None:
    assert _error(tmp_path, f"services:\n  web:\n    image: x\n    volumes: {volumes}\n") == message


def test_build(tmp_path: Path) -> None:
    assert _service(tmp_path, "build: ./app").build == BuildConfig(context=tmp_path / "app")
    web = _service(
        tmp_path,
        "build:\n  context: app\n  dockerfile: Dockerfile.dev\n  args: {A: 1, HOME: null}\n"
        "  target: dev\n  labels: [x=y]\n  network: host\n  no_cache: 'true'\n  pull: true\n"
        "  cache_from: [a]\n  shm_size: 1g",
    )
    assert web.build == BuildConfig(
        context=tmp_path / "app",
        dockerfile="Dockerfile.dev",
        args={"A": "1", "HOME": "/home/me"},
        target="dev",
        labels={"x": "y"},
        network="host",
        no_cache=True,
        pull=True,
        cache_from=("a",),
        shm_size=1 << 30,
    )
    assert web.image is None


def test_remote_build_context_is_refused(tmp_path: Path) -> None:
    text = "services:\n  web:\n    build: https://github.com/x/y.git\n"
    assert _error(tmp_path, text) == (
        "compose.yaml: services.web.build.context: remote build context "
        '"https://github.com/x/y.git" is not supported'
    )


def test_networks(tmp_path: Path) -> None:
    text = """
name: shop
services:
  web:
    image: x
    networks:
      front:
      back: {aliases: [api, www], ipv4_address: 10.0.0.5, priority: 10}
  db:
    image: x
    networks: [back]
  host:
    image: x
    network_mode: host
networks:
  front: {driver: bridge, driver_opts: {mtu: 1400}, internal: true, labels: [a=b]}
  back:
    ipam: {config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}]}
  outside: {external: true}
  named: {name: fixed}
  legacy: {external: {name: real}}
"""
    project = _load(tmp_path, text)
    web = project.services["web"]
    assert web.networks == {
        "front": ServiceNetwork(),
        "back": ServiceNetwork(aliases=("api", "www"), ipv4_address="10.0.0.5", priority=10),
    }
    assert project.services["db"].networks == {"back": ServiceNetwork()}
    assert project.services["host"].networks == {}
    assert project.services["host"].network_mode == "host"
    assert "default" not in project.networks
    nets = project.networks
    assert nets["front"] == NetworkConfig(
        name="shop_front",
        driver="bridge",
        driver_opts={"mtu": "1400"},
        internal=True,
        labels={"a": "b"},
    )
    assert nets["back"].ipam is not None
    assert nets["back"].ipam.config[0].subnet == "10.0.0.0/24"
    assert nets["outside"] == NetworkConfig(name="outside", external=True)
    assert nets["named"].name == "fixed"
    assert nets["legacy"] == NetworkConfig(name="real", external=True)


def test_network_errors(tmp_path: Path) -> None:
    undefined = "services:\n  web:\n    image: x\n    networks: [nope]\n"
    assert _error(tmp_path, undefined) == 'services.web: refers to undefined network "nope"'
    both = (
        "services:\n  web:\n    image: x\n    network_mode: host\n    networks: [a]\n"
        "networks: {a: {}}\n"
    )
    assert _error(tmp_path, both) == "services.web: network_mode and networks cannot be combined"
    external = "services: {}\nnetworks:\n  a: {external: true, driver: bridge}\n"
    assert _error(tmp_path, external) == 'networks.a: "external" cannot be combined with "driver"'


def test_depends_on(tmp_path: Path) -> None:
    text = """
services:
  web:
    image: x
    depends_on:
      db: {condition: service_healthy, restart: true}
      migrate: {condition: service_completed_successfully}
      optional: {condition: service_started, required: false}
  api:
    image: x
    depends_on: [db]
    links: [cache:redis]
    volumes_from: [data, "container:other"]
  db: {image: x}
  migrate: {image: x}
  cache: {image: x}
  data: {image: x}
  sidecar:
    image: x
    network_mode: service:db
"""
    project = _load(tmp_path, text)
    assert project.services["web"].depends_on == {
        "db": Dependency(DependencyCondition.HEALTHY, restart=True),
        "migrate": Dependency(DependencyCondition.COMPLETED),
        "optional": Dependency(required=False),
    }
    assert project.services["api"].depends_on == {
        "db": Dependency(),
        "cache": Dependency(),
        "data": Dependency(),
    }
    assert project.services["sidecar"].depends_on == {"db": Dependency()}


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ("web: {image: x, depends_on: [db]}", 'services.web: depends on undefined service "db"'),
        ("web: {image: x, links: [db]}", 'services.web: links refers to undefined service "db"'),
        (
            "web: {image: x, network_mode: 'service:db'}",
            'services.web: network_mode refers to undefined service "db"',
        ),
        (
            "web: {image: x, volumes_from: ['db:ro']}",
            'services.web: volumes_from refers to undefined service "db"',
        ),
        ("web: {command: x}", 'service "web" has neither an image nor a build context specified'),
        (
            "a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}",
            "dependency cycle detected: a -> b -> a",
        ),
        ("a: {image: x, depends_on: [a]}", "dependency cycle detected: a -> a"),
        (
            "a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n"
            "  c: {image: x, depends_on: [b]}",
            "dependency cycle detected: b -> c -> b",
        ),
    ],
)
def test_service_reference_errors(tmp_path: Path, services: str, message: str) -> None:
    assert _error(tmp_path, f"services:\n  {services}\n") == message


def test_healthcheck(tmp_path: Path) -> None:
    web = _service(
        tmp_path,
        "image: x\nhealthcheck:\n  test: curl -f http://localhost\n  interval: 1m30s\n"
        "  timeout: 5s\n"
        "  start_period: 500ms\n  start_interval: 1s\n  retries: 3",
    )
    assert web.healthcheck == Healthcheck(
        test=("CMD-SHELL", "curl -f http://localhost"),
        interval=90_000_000_000,
        timeout=5_000_000_000,
        start_period=500_000_000,
        start_interval=1_000_000_000,
        retries=3,
    )
    listed = _service(tmp_path, "image: x\nhealthcheck: {test: [CMD, pg_isready]}")
    assert listed.healthcheck == Healthcheck(test=("CMD", "pg_isready"))
    disabled = _service(tmp_path, "image: x\nhealthcheck: {disable: true}")
    assert disabled.healthcheck is not None and disabled.healthcheck.disabled
    assert disabled.healthcheck.test == ("NONE",)
    timing_only = _service(tmp_path, "image: x\nhealthcheck: {interval: 2s}")
    assert timing_only.healthcheck == Healthcheck(interval=2_000_000_000)


def test_invalid_duration(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: x\n    healthcheck: {test: x, interval: 5 seconds}\n"
    assert _error(tmp_path, text) == (
        'compose.yaml: services.web.healthcheck.interval: invalid duration "5 seconds"'
    )
    grace = "services:\n  web:\n    image: x\n    stop_grace_period: 10\n"
    assert (
        _error(tmp_path, grace) == "compose.yaml: services.web.stop_grace_period: must be a string"
    )


def test_restart_policies(tmp_path: Path) -> None:
    assert _service(tmp_path, "image: x").restart == "no"
    assert _service(tmp_path, "image: x\nrestart: no").restart == "no"
    assert _service(tmp_path, "image: x\nrestart: on-failure:5").restart == "on-failure:5"
    text = "services:\n  web:\n    image: x\n    restart: sometimes\n"
    assert (
        _error(tmp_path, text)
        == 'compose.yaml: services.web.restart: invalid restart policy "sometimes"'
    )


def test_deploy_scale_and_legacy_resources(tmp_path: Path) -> None:
    web = _service(
        tmp_path,
        "image: x\ndeploy:\n  replicas: 3\n  resources:\n    limits: {cpus: '0.5', memory: 512m}\n"
        "    reservations: {memory: 64m}\n  restart_policy: {condition: on-failure, delay: 5s}\n"
        "  placement: {constraints: [x]}",
    )
    assert web.replicas() == 3
    assert web.deploy.resources.limits == ResourceSpec(cpus=0.5, memory=512 << 20)
    assert web.deploy.resources.reservations == ResourceSpec(memory=64 << 20)
    assert web.deploy.restart_policy is not None
    assert web.deploy.restart_policy.delay == 5_000_000_000
    legacy = _service(tmp_path, "image: x\nmem_limit: 1g\ncpus: 1.5\npids_limit: 100\nscale: 2")
    assert legacy.deploy.resources.limits == ResourceSpec(cpus=1.5, memory=1 << 30, pids=100)
    assert legacy.replicas() == 2
    both = _service(tmp_path, "image: x\nscale: 4\ndeploy: {replicas: 2}")
    assert both.replicas() == 4


def test_scalar_service_keys(tmp_path: Path) -> None:
    web = _service(
        tmp_path,
        "image: x\ncontainer_name: web-1\nuser: '1000:1000'\nworking_dir: /app\n"
        "stop_signal: SIGINT\n"
        "stop_grace_period: 1m\ninit: true\nread_only: 'yes'\ncap_add: [NET_ADMIN]\n"
        "cap_drop: [ALL]\n"
        "hostname: h\ndomainname: d\ndns: 8.8.8.8\ndns_search: [a.b]\ntty: true\nstdin_open: true\n"
        "privileged: false\ntmpfs: /run\nsysctls: {net.core.somaxconn: 1024}\n"
        "expose: [3000, '4000/udp']\n"
        "labels: {a: b, n: 1}\nplatform: linux/amd64\npull_policy: if_not_present\n"
        "extra_hosts: ['a:1.2.3.4', 'b=::1']\n"
        "logging: {driver: json-file, options: {max-size: 10m, max-file: 3}}\n"
        "ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}\nprofiles: [dev]\nshm_size: 64m\n"
        "security_opt: [no-new-privileges:true]\n"
        "devices: [/dev/fuse, {source: /dev/a, target: /dev/b}]\n"
        "group_add: [100, wheel]\nipc: host\npid: host\nannotations: [x=1]\nx-custom: ignored",
        profiles=["dev"],
    )
    assert web.container_name == "web-1"
    assert (web.user, web.working_dir, web.stop_signal) == ("1000:1000", "/app", "SIGINT")
    assert web.stop_grace_period_ns == 60_000_000_000
    assert (web.init, web.read_only, web.tty, web.stdin_open, web.privileged) == (
        True,
        True,
        True,
        True,
        False,
    )
    assert (web.cap_add, web.cap_drop) == (("NET_ADMIN",), ("ALL",))
    assert (web.hostname, web.domainname, web.dns, web.dns_search) == (
        "h",
        "d",
        ("8.8.8.8",),
        ("a.b",),
    )
    assert web.tmpfs == ("/run",)
    assert web.sysctls == {"net.core.somaxconn": "1024"}
    assert web.expose == ("3000", "4000/udp")
    assert web.labels == {"a": "b", "n": "1"}
    assert (web.platform, web.pull_policy) == ("linux/amd64", "missing")
    assert web.extra_hosts == ("a:1.2.3.4", "b:::1")
    assert web.logging is not None and web.logging.options == {"max-size": "10m", "max-file": "3"}
    assert web.ulimits == {"nofile": Ulimit(1024, 2048), "nproc": Ulimit(512, 512)}
    assert web.profiles == ("dev",)
    assert web.shm_size == 64 << 20
    assert web.security_opt == ("no-new-privileges:true",)
    assert web.devices == ("/dev/fuse", "/dev/a:/dev/b:rwm")
    assert web.group_add == ("100", "wheel")
    assert (web.ipc, web.pid) == ("host", "host")
    assert web.annotations == {"x": "1"}


def test_extra_hosts_mapping_form(tmp_path: Path) -> None:
    web = _service(tmp_path, "image: x\nextra_hosts:\n  a: 1.2.3.4\n  b: [10.0.0.1, 10.0.0.2]")
    assert web.extra_hosts == ("a:1.2.3.4", "b:10.0.0.1", "b:10.0.0.2")


def test_bad_scalar_values(tmp_path: Path) -> None:
    web = "compose.yaml: services.web"
    cases = {
        "tty: maybe": f'{web}.tty: invalid boolean "maybe"',
        "scale: many": f'{web}.scale: invalid integer "many"',
        "mem_limit: lots": f'{web}.mem_limit: invalid size "lots"',
        "container_name: '-x'": f'{web}.container_name: invalid container name "-x"',
        "pull_policy: often": f'{web}.pull_policy: invalid pull policy "often"',
        'command: "echo \'open"': f"{web}.command: invalid command: No closing quotation",
        "extra_hosts: [nohost]": f'{web}.extra_hosts[0]: invalid extra host "nohost"',
        "expose: [abc]": f'{web}.expose[0]: invalid port "abc"',
    }
    for line, message in cases.items():
        assert _error(tmp_path, f"services:\n  web:\n    image: x\n    {line}\n") == message


def test_secrets_and_configs(tmp_path: Path) -> None:
    text = """
name: app
services:
  web:
    image: x
    secrets: [token, {source: cert, target: tls.pem, uid: '100', mode: 0440}]
    configs: [conf, {source: inline, target: /etc/inline.conf, mode: '0644'}]
secrets:
  token: {file: ./token.txt}
  cert: {environment: CERT}
configs:
  conf: {file: conf.ini}
  inline: {content: "hello $$HOME"}
"""
    project = _load(tmp_path, text)
    web = project.services["web"]
    assert web.secrets == (
        ServiceFileRef("token", "/run/secrets/token"),
        ServiceFileRef("cert", "/run/secrets/tls.pem", uid="100", mode=0o440),
    )
    assert web.configs == (
        ServiceFileRef("conf", "/conf"),
        ServiceFileRef("inline", "/etc/inline.conf", mode=0o644),
    )
    assert project.secrets["token"] == FileObject(name="app_token", file=tmp_path / "token.txt")
    assert project.secrets["cert"] == FileObject(name="app_cert", environment="CERT")
    assert project.configs["inline"] == FileObject(name="app_inline", content="hello $HOME")


def test_secret_errors(tmp_path: Path) -> None:
    undefined = "services:\n  web:\n    image: x\n    secrets: [nope]\n"
    assert _error(tmp_path, undefined) == 'services.web: refers to undefined secret "nope"'
    empty = "services: {}\nsecrets:\n  s: {labels: [a=b]}\n"
    assert (
        _error(tmp_path, empty)
        == "secrets.s: must set exactly one of file, environment or external"
    )
    undefined_config = "services:\n  web:\n    image: x\n    configs: [nope]\n"
    assert _error(tmp_path, undefined_config) == 'services.web: refers to undefined config "nope"'


def test_volumes_section(tmp_path: Path) -> None:
    text = (
        "name: p\nservices: {}\nvolumes:\n  data:\n  ext: {external: true}\n"
        "  named: {name: n, driver: local, driver_opts: {type: none}}\n"
    )
    volumes = _load(tmp_path, text).volumes
    assert volumes == {
        "data": VolumeConfig(name="p_data"),
        "ext": VolumeConfig(name="ext", external=True),
        "named": VolumeConfig(name="n", driver="local", driver_opts={"type": "none"}),
    }


def test_unsupported_keys_warn(tmp_path: Path) -> None:
    text = (
        "version: '3'\nservices:\n  web:\n    image: x\n    gpus: all\n"
        "    build: {context: ., ssh: [default]}\n"
    )
    project = _load(tmp_path, text)
    assert project.warnings == (
        "compose.yaml: the attribute `version` is obsolete, it will be ignored",
        "compose.yaml: services.web.gpus: not supported, ignored",
        "compose.yaml: services.web.build.ssh: not supported, ignored",
    )


def test_include_is_refused(tmp_path: Path) -> None:
    assert _error(tmp_path, "include: [other.yaml]\nservices: {}\n") == (
        "compose.yaml: include: include is not supported"
    )


# -- project name, .env, interpolation -------------------------------------------------------


def test_project_name_precedence(tmp_path: Path) -> None:
    directory = tmp_path / "My_App.v2"
    directory.mkdir()
    assert _load(directory, "services: {}\n").name == "my_appv2"
    assert _load(directory, "name: declared\nservices: {}\n").name == "declared"
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert _load(directory, "name: declared\nservices: {}\n", environ=env).name == "fromenv"
    (directory / ".env").write_text("COMPOSE_PROJECT_NAME=dotenv\n")
    assert _load(directory, "name: declared\nservices: {}\n").name == "dotenv"
    assert _load(directory, "name: declared\nservices: {}\n", environ=env).name == "fromenv"
    assert (
        _load(directory, "services: {}\n", project_name="explicit", environ=env).name == "explicit"
    )


def test_project_name_errors(tmp_path: Path) -> None:
    assert _error(tmp_path, "services: {}\n", project_name="MyApp") == (
        'invalid project name "MyApp": must consist only of lowercase alphanumeric characters, '
        "hyphens, and underscores as well as start with a letter or number"
    )
    directory = tmp_path / "___"
    directory.mkdir()
    with pytest.raises(ComposeError, match="cannot derive a project name"):
        _load(directory, "services: {}\n")


def test_name_is_interpolated(tmp_path: Path) -> None:
    assert _load(tmp_path, "name: ${N:-dflt}\nservices: {}\n").name == "dflt"


def test_dotenv_feeds_interpolation_and_environ_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAG=1.0\nPORT=8080\nBOTH=dotenv\n")
    text = (
        "services:\n  web:\n    image: app:${TAG}\n    ports: ['${PORT}:80']\n"
        "    labels: ['b=${BOTH}']\n"
    )
    project = _load(tmp_path, text, environ={"BOTH": "environ"})
    web = project.services["web"]
    assert web.image == "app:1.0"
    assert web.ports == (PortConfig(target=80, published="8080"),)
    assert web.labels == {"b": "environ"}
    assert project.environment == {"TAG": "1.0", "PORT": "8080", "BOTH": "environ"}


def test_env_files_replace_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAG=dotenv\n")
    (tmp_path / "a.env").write_text("TAG=a\nX=1\n")
    (tmp_path / "b.env").write_text("TAG=b\n")
    text = "services:\n  web:\n    image: app:${TAG}-${X}\n"
    files = [tmp_path / "a.env", tmp_path / "b.env"]
    assert _load(tmp_path, text, env_files=files).services["web"].image == "app:b-1"
    with pytest.raises(ComposeError, match=r"env file .*missing\.env not found"):
        _load(tmp_path, text, env_files=[tmp_path / "missing.env"])


def test_interpolation_warning_and_required_error(tmp_path: Path) -> None:
    project = _load(tmp_path, "services:\n  web:\n    image: app:${NOTSET}x\n")
    assert project.services["web"].image == "app:x"
    assert project.warnings == ('The "NOTSET" variable is not set. Defaulting to a blank string.',)
    text = (
        "services:\n  db:\n    image: pg\n    environment:\n"
        "      PASSWORD: ${DB_PASSWORD:?must be set}\n"
    )
    assert _error(tmp_path, text) == (
        "compose.yaml: services.db.environment.PASSWORD: "
        "required variable DB_PASSWORD is missing a value: must be set"
    )


def test_interpolated_values_are_typed_after_interpolation(tmp_path: Path) -> None:
    text = (
        "services:\n  web:\n    image: x\n    tty: ${TTY}\n    scale: ${N}\n    ports: ['${P}']\n"
    )
    web = _load(tmp_path, text, environ={"TTY": "true", "N": "3", "P": "9000"}).services["web"]
    assert (web.tty, web.scale, web.ports) == (True, 3, (PortConfig(target=9000),))


def test_dollar_escape_reaches_the_container(tmp_path: Path) -> None:
    web = _service(tmp_path, "image: x\ncommand: echo $$HOME\nenvironment: [A=$$B]")
    assert web.command == ("echo", "$HOME")
    assert web.environment == {"A": "$B"}


def test_file_errors(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("")
    with pytest.raises(ComposeError, match=r"^compose\.yaml: empty compose file$"):
        load_project([tmp_path / "compose.yaml"], environ=ENV)
    (tmp_path / "compose.yaml").write_text("- a\n")
    with pytest.raises(ComposeError, match=r"^compose\.yaml: must be a mapping$"):
        load_project([tmp_path / "compose.yaml"], environ=ENV)
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    with pytest.raises(ComposeError, match=r"^missing\.yaml: no such file$"):
        load_project([tmp_path / "compose.yaml", tmp_path / "missing.yaml"], environ=ENV)
    with pytest.raises(ComposeError, match="no configuration file provided"):
        load_project([], environ=ENV)


def test_find_compose_files(tmp_path: Path) -> None:
    assert find_compose_files(tmp_path) == []
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    assert find_compose_files(tmp_path) == [tmp_path / "docker-compose.yml"]
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    (tmp_path / "compose.override.yaml").write_text("services: {}\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_compose_files(nested) == [
        tmp_path / "compose.yaml",
        tmp_path / "compose.override.yaml",
    ]
