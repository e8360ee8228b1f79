"""A service as the body of POST /containers/create (``compose.specs``)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from compose_projects import project, service

from wharf.compose import naming
from wharf.compose.model import (
    Dependency,
    DependencyCondition,
    Deploy,
    FileObject,
    Healthcheck,
    NetworkConfig,
    PortConfig,
    PortProtocol,
    Resources,
    ResourceSpec,
    ServiceFileRef,
    ServiceNetwork,
    ServiceVolume,
    TmpfsOptions,
    Ulimit,
    VolumeConfig,
    VolumeType,
)
from wharf.compose.specs import container_spec, injection_tar, restart_policy
from wharf.errdefs import InvalidArgument


def body_of(svc, proj=None, **kwargs):  # type: ignore[no-untyped-def]
    proj = proj or project(svc)
    plan = container_spec(
        proj,
        svc,
        name=kwargs.pop("name", f"shop-{svc.name}-1"),
        number=1,
        image="busybox",
        image_id="sha256:" + "a" * 64,
        **kwargs,
    )
    return plan, plan.spec.to_wire()


def test_command_env_user_and_stop_settings() -> None:
    svc = service(
        "web",
        command=("httpd", "-f"),
        entrypoint=("/bin/sh", "-c"),
        environment={"A": "1", "UNSET": None},
        user="1000:1000",
        working_dir="/srv",
        stop_signal="SIGINT",
        stop_grace_period_ns=2_500_000_000,
        init=True,
        read_only=True,
        cap_add=("NET_ADMIN",),
        cap_drop=("ALL",),
        extra_hosts=("db=10.0.0.2", "cache:10.0.0.3"),
        hostname="web",
        tty=True,
    )
    _, body = body_of(svc)
    assert body["Cmd"] == ["httpd", "-f"]
    assert body["Entrypoint"] == ["/bin/sh", "-c"]
    assert body["Env"] == ["A=1"]
    assert (body["User"], body["WorkingDir"], body["Hostname"]) == ("1000:1000", "/srv", "web")
    assert body["StopSignal"] == "SIGINT"
    assert body["StopTimeout"] == 2
    assert body["Tty"] is True
    host = body["HostConfig"]
    assert host["Init"] is True and host["ReadonlyRootfs"] is True
    assert host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["ALL"]
    assert host["ExtraHosts"] == ["db:10.0.0.2", "cache:10.0.0.3"]


def test_ports_publish_and_expose() -> None:
    svc = service(
        "web",
        ports=(
            PortConfig(target=80, published="8080", host_ip="127.0.0.1"),
            PortConfig(target=53, published="", protocol=PortProtocol.UDP),
        ),
        expose=("9000-9001", "7000/udp"),
    )
    _, body = body_of(svc)
    assert body["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }
    assert set(body["ExposedPorts"]) == {"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "7000/udp"}


def test_one_off_containers_publish_nothing_unless_asked() -> None:
    svc = service("web", ports=(PortConfig(target=80, published="8080"),))
    _, body = body_of(svc, oneoff=True, publish_ports=False)
    assert body["HostConfig"]["PortBindings"] == {}
    assert body["Labels"][naming.ONEOFF] == "True"


def test_volumes_binds_named_anonymous_and_tmpfs() -> None:
    svc = service(
        "db",
        volumes=(
            ServiceVolume(type=VolumeType.VOLUME, source="data", target="/var/lib/db"),
            ServiceVolume(
                type=VolumeType.BIND, source="/srv/conf", target="/etc/db", read_only=True
            ),
            ServiceVolume(type=VolumeType.VOLUME, source="", target="/scratch"),
            ServiceVolume(
                type=VolumeType.TMPFS, source="", target="/tmp", tmpfs=TmpfsOptions(size=1 << 20)
            ),
        ),
        tmpfs=("/run:size=64k",),
    )
    proj = project(svc, volumes={"data": VolumeConfig(name="shop_data")})
    _, body = body_of(svc, proj)
    host = body["HostConfig"]
    assert host["Binds"] == ["shop_data:/var/lib/db", "/srv/conf:/etc/db:ro"]
    assert body["Volumes"] == {"/scratch": {}}
    assert host["Mounts"] == [
        {"Type": "tmpfs", "Source": "", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": 1 << 20}}
    ]
    assert host["Tmpfs"] == {"/run": "size=64k"}


def test_networks_first_at_create_others_attached_with_aliases() -> None:
    svc = service(
        "catalog",
        networks={
            "front": ServiceNetwork(),
            "back": ServiceNetwork(aliases=("products",), ipv4_address="10.5.0.9", priority=10),
        },
    )
    proj = project(
        svc,
        networks={
            "front": NetworkConfig(name="shop_front"),
            "back": NetworkConfig(name="shop_back"),
        },
    )
    plan, body = body_of(svc, proj, name="shop-catalog-1")
    assert body["HostConfig"]["NetworkMode"] == "shop_back"
    assert body["NetworkingConfig"]["EndpointsConfig"] == {
        "shop_back": {
            "Aliases": ["catalog", "shop-catalog-1", "products"],
            "IPAMConfig": {"IPv4Address": "10.5.0.9"},
        }
    }
    (attached,) = plan.attachments
    assert attached.network == "shop_front"
    assert attached.aliases == ("catalog", "shop-catalog-1")


def test_default_network_when_none_named() -> None:
    svc = service("web")
    _, body = body_of(svc)
    assert body["HostConfig"]["NetworkMode"] == "shop_default"
    assert "shop_default" in body["NetworkingConfig"]["EndpointsConfig"]


def test_network_mode_service_joins_that_services_container() -> None:
    svc = service("sidecar", network_mode="service:web")
    _, body = body_of(svc, project(service("web"), svc), service_container={"web": "cid1"})
    assert body["HostConfig"]["NetworkMode"] == "container:cid1"
    assert body["NetworkingConfig"]["EndpointsConfig"] == {}
    with pytest.raises(InvalidArgument, match="no container"):
        body_of(svc, project(service("web"), svc))


def test_labels_carry_the_compose_identity() -> None:
    svc = service(
        "web",
        labels={"team": "shop"},
        depends_on={"db": Dependency(DependencyCondition.HEALTHY, restart=True)},
    )
    _, body = body_of(svc, project(svc, service("db")))
    labels = body["Labels"]
    assert labels["team"] == "shop"
    assert labels[naming.PROJECT] == "shop"
    assert labels[naming.SERVICE] == "web"
    assert labels[naming.NUMBER] == "1"
    assert labels[naming.ONEOFF] == "False"
    assert labels[naming.CONFIG_HASH] == svc.config_hash()
    assert labels[naming.IMAGE] == "sha256:" + "a" * 64
    assert labels[naming.DEPENDS_ON] == "db:service_healthy:true"
    assert labels[naming.WORKING_DIR] == "/srv/shop"
    assert labels[naming.CONFIG_FILES] == "/srv/shop/compose.yaml"


def test_healthcheck_restart_and_limits() -> None:
    svc = service(
        "web",
        healthcheck=Healthcheck(
            test=("CMD-SHELL", "wget -q localhost"), interval=1_000_000_000, retries=3
        ),
        restart="on-failure:3",
        deploy=Deploy(resources=Resources(limits=ResourceSpec(cpus=1.5, memory=64 << 20))),
        ulimits={"nofile": Ulimit(1024, 2048)},
        sysctls={"net.core.somaxconn": "1024"},
    )
    _, body = body_of(svc)
    assert body["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q localhost"],
        "Interval": 1_000_000_000,
        "Retries": 3,
    }
    host = body["HostConfig"]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["NanoCpus"] == 1_500_000_000
    assert host["Memory"] == 64 << 20
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"}


def test_disabled_healthcheck_is_none() -> None:
    _, body = body_of(service("web", healthcheck=Healthcheck(test=("NONE",))))
    assert body["Healthcheck"] == {"Test": ["NONE"]}


def test_restart_policy_parsing() -> None:
    assert restart_policy("always").name == "always"
    assert restart_policy("no").name == "no"
    with pytest.raises(InvalidArgument):
        restart_policy("sometimes")


def test_secret_files_bind_read_only_others_are_injected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "token.txt"
    secret_file.write_text("s3cret")
    monkeypatch.setenv("API_KEY", "k")
    svc = service(
        "auth",
        secrets=(
            ServiceFileRef(source="token", target="token"),
            ServiceFileRef(source="key", target="/etc/key", mode=0o400),
        ),
        configs=(ServiceFileRef(source="motd", target="motd"),),
    )
    proj = project(
        svc,
        secrets={
            "token": FileObject(name="shop_token", file=secret_file),
            "key": FileObject(name="shop_key", environment="API_KEY"),
        },
        configs={"motd": FileObject(name="shop_motd", content="hello\n")},
    )
    plan, body = body_of(svc, proj)
    assert body["HostConfig"]["Binds"] == [f"{secret_file}:/run/secrets/token:ro"]
    assert [(i.path, i.data, i.mode) for i in plan.injections] == [
        ("/etc/key", b"k", 0o400),
        ("/motd", b"hello\n", 0o444),
    ]
    with tarfile.open(fileobj=io.BytesIO(injection_tar(plan.injections))) as archive:
        names = archive.getnames()
        key = archive.extractfile("etc/key")
        assert key is not None and key.read() == b"k"
    assert names == ["etc", "etc/key", "motd"]


def test_missing_secret_file_is_an_error(tmp_path: Path) -> None:
    svc = service("auth", secrets=(ServiceFileRef(source="token", target="token"),))
    proj = project(svc, secrets={"token": FileObject(name="t", file=tmp_path / "absent")})
    with pytest.raises(InvalidArgument, match="does not exist"):
        body_of(svc, proj)


def test_one_off_overrides() -> None:
    svc = service("web", command=("serve",), environment={"A": "1"}, restart="always")
    _, body = body_of(
        svc,
        oneoff=True,
        command=("sh",),
        environment={"B": "2"},
        user="nobody",
        tty=True,
        stdin_open=True,
    )
    assert body["Cmd"] == ["sh"]
    assert body["Env"] == ["A=1", "B=2"]
    assert body["User"] == "nobody"
    assert body["Tty"] is True and body["OpenStdin"] is True
    assert body["HostConfig"]["RestartPolicy"]["Name"] == ""
