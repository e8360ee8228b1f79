"""``up`` against an in-memory daemon: what is created, kept, recreated, removed and waited for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from compose_fake import FakeEngine
from compose_projects import Harness, project, service, with_service

from wharf.compose import naming
from wharf.compose.convergence import Recreate
from wharf.compose.images import ImageOptions
from wharf.compose.model import (
    BuildConfig,
    Dependency,
    DependencyCondition,
    NetworkConfig,
    ServiceNetwork,
    ServiceVolume,
    VolumeConfig,
    VolumeType,
)
from wharf.compose.up import UpOptions
from wharf.compose.waiting import DependencyFailed, WaitTimeout
from wharf.errdefs import InvalidArgument, NotFound


def app() -> object:
    return project(
        service("server", command=("httpd", "-f"), networks={"back": ServiceNetwork()}),
        service(
            "client",
            depends_on={"server": Dependency()},
            networks={"back": ServiceNetwork()},
            volumes=(ServiceVolume(type=VolumeType.VOLUME, source="data", target="/data"),),
        ),
        networks={"back": NetworkConfig(name="shop_back")},
        volumes={"data": VolumeConfig(name="shop_data")},
    )


def test_up_creates_network_volume_and_containers_in_dependency_order() -> None:
    h = Harness()
    h.runtime(app()).up(UpOptions())  # type: ignore[arg-type]
    assert h.lines() == [
        "Network shop_back Created",
        "Volume shop_data Created",
        "Container shop-server-1 Created",
        "Container shop-client-1 Created",
        "Container shop-server-1 Started",
        "Container shop-client-1 Started",
    ]
    network = h.engine.networks["shop_back"]
    assert network["Labels"][naming.NETWORK] == "back"
    assert network["Labels"][naming.PROJECT] == "shop"
    assert h.engine.volumes["shop_data"]["Labels"][naming.VOLUME] == "data"
    client = h.engine.by_name("shop-client-1")
    assert client.state == "running"
    assert client.labels[naming.SERVICE] == "client"
    assert client.networks["shop_back"]["Aliases"] == ["client", "shop-client-1"]


def test_up_twice_leaves_everything_untouched() -> None:
    h = Harness()
    proj = app()
    h.runtime(proj).up(UpOptions())  # type: ignore[arg-type]
    ids = {c.name: c.id for c in h.engine.containers.values()}
    creates = len(h.engine.calls("POST", "/containers/create"))
    h.reporter.events.clear()
    h.runtime(proj).up(UpOptions())  # type: ignore[arg-type]
    assert {c.name: c.id for c in h.engine.containers.values()} == ids
    assert len(h.engine.calls("POST", "/containers/create")) == creates
    assert h.lines() == ["Container shop-server-1 Running", "Container shop-client-1 Running"]


def test_a_stopped_container_is_started_not_recreated() -> None:
    h = Harness()
    proj = project(service("web"))
    h.runtime(proj).up(UpOptions())
    h.runtime(proj).stop()
    before = h.engine.by_name("shop-web-1").id
    h.reporter.events.clear()
    h.runtime(proj).up(UpOptions())
    assert h.engine.by_name("shop-web-1").id == before
    assert h.lines() == ["Container shop-web-1 Started"]


def test_a_changed_service_alone_is_recreated() -> None:
    h = Harness()
    proj = project(service("web", environment={"V": "1"}), service("db"))
    h.runtime(proj).up(UpOptions())
    old_web, old_db = h.engine.by_name("shop-web-1").id, h.engine.by_name("shop-db-1").id
    changed = with_service(proj, service("web", environment={"V": "2"}))
    h.reporter.events.clear()
    h.runtime(changed).up(UpOptions())
    assert h.engine.by_name("shop-db-1").id == old_db
    web = h.engine.by_name("shop-web-1")
    assert web.id != old_web and web.state == "running"
    assert web.body["Env"] == ["V=2"]
    assert "Container shop-web-1 Recreated" in h.lines()
    assert "Container shop-db-1 Running" in h.lines()


def test_force_recreate_and_no_recreate() -> None:
    h = Harness()
    proj = project(service("web"))
    h.runtime(proj).up(UpOptions())
    first = h.engine.by_name("shop-web-1").id
    h.runtime(proj).up(UpOptions(recreate=Recreate.FORCE))
    second = h.engine.by_name("shop-web-1").id
    assert second != first
    changed = with_service(proj, service("web", command=("other",)))
    h.runtime(changed).up(UpOptions(recreate=Recreate.NEVER))
    assert h.engine.by_name("shop-web-1").id == second


def test_scale_up_and_down() -> None:
    h = Harness()
    proj = project(service("catalog"))
    h.runtime(proj).up(UpOptions(scale={"catalog": 3}))
    assert h.engine.names() == ["shop-catalog-1", "shop-catalog-2", "shop-catalog-3"]
    keep = h.engine.by_name("shop-catalog-1").id
    h.runtime(proj).up(UpOptions(scale={"catalog": 1}))
    assert h.engine.names() == ["shop-catalog-1"]
    assert h.engine.by_name("shop-catalog-1").id == keep


def test_scaling_a_named_container_is_refused_before_anything_is_made() -> None:
    h = Harness()
    proj = project(service("web", container_name="web"))
    with pytest.raises(InvalidArgument, match="container_name"):
        h.runtime(proj).up(UpOptions(scale={"web": 2}))
    assert h.engine.transport.calls("POST") == []


def test_container_name_is_used() -> None:
    h = Harness()
    h.runtime(project(service("web", container_name="my-web"))).up(UpOptions())
    assert h.engine.names() == ["my-web"]


def test_orphans_are_warned_about_or_removed() -> None:
    h = Harness()
    h.runtime(project(service("web"), service("old"))).up(UpOptions())
    h.runtime(project(service("web"))).up(UpOptions())
    assert h.reporter.warnings == [
        "Found orphan containers ([shop-old-1]) for this project. If you removed or renamed "
        "this service in your compose file, you can run this command with the --remove-orphans "
        "flag to clean it up."
    ]
    assert "shop-old-1" in h.engine.names()
    h.runtime(project(service("web"))).up(UpOptions(remove_orphans=True))
    assert h.engine.names() == ["shop-web-1"]


def test_named_services_bring_their_dependencies_unless_no_deps() -> None:
    h = Harness()
    proj = project(service("db"), service("web", depends_on={"db": Dependency()}), service("extra"))
    h.runtime(proj).up(UpOptions(services=("web",)))
    assert h.engine.names() == ["shop-db-1", "shop-web-1"]
    h2 = Harness()
    h2.runtime(proj).up(UpOptions(services=("web",), no_deps=True))
    assert h2.engine.names() == ["shop-web-1"]


def test_unknown_service_is_refused() -> None:
    h = Harness()
    with pytest.raises(NotFound, match="no such service: nope"):
        h.runtime(project(service("web"))).up(UpOptions(services=("nope",)))


def test_service_healthy_waits_for_health() -> None:
    engine = FakeEngine(health={"shop-db-1": ["starting", "starting", "healthy"]})
    h = Harness(engine)
    proj = project(
        service("db"),
        service("web", depends_on={"db": Dependency(DependencyCondition.HEALTHY)}),
    )
    h.runtime(proj).up(UpOptions())
    lines = h.lines()
    assert lines.index("Container shop-db-1 Healthy") < lines.index("Container shop-web-1 Started")
    assert h.now > 0  # it polled


def test_unhealthy_dependency_blocks_its_dependant() -> None:
    engine = FakeEngine(health={"shop-db-1": ["starting", "unhealthy"]})
    h = Harness(engine)
    proj = project(
        service("db"),
        service("web", depends_on={"db": Dependency(DependencyCondition.HEALTHY)}),
    )
    with pytest.raises(DependencyFailed) as failed:
        h.runtime(proj).up(UpOptions())
    assert str(failed.value) == "dependency failed to start: container shop-db-1 is unhealthy"
    assert h.engine.by_name("shop-web-1").state == "created"


def test_optional_dependency_failure_is_only_a_warning() -> None:
    engine = FakeEngine(health={"shop-db-1": ["unhealthy"]})
    h = Harness(engine)
    dependency = Dependency(DependencyCondition.HEALTHY, required=False)
    proj = project(service("db"), service("web", depends_on={"db": dependency}))
    h.runtime(proj).up(UpOptions())
    assert h.engine.by_name("shop-web-1").state == "running"
    assert h.reporter.warnings == ["dependency failed to start: container shop-db-1 is unhealthy"]


def test_completed_successfully_waits_for_exit_zero() -> None:
    engine = FakeEngine(exit_codes={"shop-migrate-1": 0})
    h = Harness(engine)
    proj = project(
        service("migrate"),
        service("web", depends_on={"migrate": Dependency(DependencyCondition.COMPLETED)}),
    )
    h.runtime(proj).up(UpOptions())
    assert h.engine.by_name("shop-web-1").state == "running"
    assert "Container shop-migrate-1 Exited" in h.lines()


def test_completed_with_failure_names_the_service() -> None:
    engine = FakeEngine(exit_codes={"shop-migrate-1": 1})
    h = Harness(engine)
    proj = project(
        service("migrate"),
        service("web", depends_on={"migrate": Dependency(DependencyCondition.COMPLETED)}),
    )
    with pytest.raises(DependencyFailed) as failed:
        h.runtime(proj).up(UpOptions())
    assert str(failed.value) == 'service "migrate" didn\'t complete successfully: exit 1'
    assert h.engine.by_name("shop-web-1").state == "created"


def test_up_wait_reports_healthy_or_fails_naming_the_container() -> None:
    engine = FakeEngine(health={"shop-web-1": ["starting", "healthy"]})
    h = Harness(engine)
    h.runtime(project(service("web"))).up(UpOptions(wait=True))
    assert h.lines()[-1] == "Container shop-web-1 Healthy"

    sick = Harness(FakeEngine(health={"shop-web-1": ["starting", "unhealthy"]}))
    with pytest.raises(DependencyFailed, match=r"^container shop-web-1 is unhealthy$"):
        sick.runtime(project(service("web"))).up(UpOptions(wait=True))

    slow = Harness(FakeEngine(health={"shop-web-1": ["starting"]}))
    with pytest.raises(WaitTimeout):
        slow.runtime(project(service("web"))).up(UpOptions(wait=True, wait_timeout=2))


def test_up_wait_fails_on_an_exited_container() -> None:
    h = Harness(FakeEngine(exit_codes={"shop-web-1": 3}))
    with pytest.raises(DependencyFailed, match=r"^container shop-web-1 exited \(3\)$"):
        h.runtime(project(service("web"))).up(UpOptions(wait=True))


def test_no_start_creates_only() -> None:
    h = Harness()
    h.runtime(project(service("web"))).up(UpOptions(start=False))
    assert h.engine.by_name("shop-web-1").state == "created"


def test_missing_image_is_pulled_and_its_id_labelled() -> None:
    h = Harness(FakeEngine(images={}))
    h.runtime(project(service("web", image="redis:7"))).up(UpOptions())
    assert h.engine.pulls == ["docker.io/library/redis:7"]
    assert h.engine.by_name("shop-web-1").labels[naming.IMAGE] == h.engine.images["redis:7"]
    assert h.engine.images["redis:7"].startswith("sha256:")
    assert "Image redis:7 Pulled" in h.lines()


def test_pull_never_with_a_missing_image_fails() -> None:
    h = Harness(FakeEngine(images={}))
    with pytest.raises(NotFound):
        h.runtime(project(service("web", image="redis", pull_policy="never"))).up(UpOptions())
    assert h.engine.containers == {}


def test_build_when_missing_then_rebuild_recreates(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    svc = service("api", image=None, build=BuildConfig(context=tmp_path))
    h = Harness()
    proj = project(svc)
    h.runtime(proj).up(UpOptions())
    assert h.engine.builds == [{"t": "shop-api", "dockerfile": "Dockerfile"}]
    first = h.engine.by_name("shop-api-1")
    assert first.body["Image"] == "shop-api"
    h.runtime(proj).up(UpOptions())
    assert len(h.engine.builds) == 1  # present: not rebuilt
    assert h.engine.by_name("shop-api-1").id == first.id
    h.runtime(proj).up(UpOptions(images=ImageOptions(build=True)))
    assert len(h.engine.builds) == 2
    assert h.engine.by_name("shop-api-1").id != first.id  # new image ID: recreated


def test_no_build_with_a_missing_image_fails(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    svc = service("api", image=None, build=BuildConfig(context=tmp_path))
    h = Harness()
    with pytest.raises(NotFound, match="--no-build"):
        h.runtime(project(svc)).up(UpOptions(images=ImageOptions(no_build=True)))


def test_external_network_must_exist() -> None:
    h = Harness()
    proj = project(
        service("web", networks={"outside": ServiceNetwork()}),
        networks={"outside": NetworkConfig(name="corp", external=True)},
    )
    with pytest.raises(NotFound, match="network corp declared as external, but could not be found"):
        h.runtime(proj).up(UpOptions())
    assert h.engine.containers == {}


def test_engine_error_stops_up_and_keeps_what_was_made() -> None:
    h = Harness(FakeEngine(fail_create={"shop-web-1": "no space left"}))
    proj = project(service("db"), service("web", depends_on={"db": Dependency()}))
    with pytest.raises(Exception, match="no space left"):
        h.runtime(proj).up(UpOptions())
    assert h.engine.names() == ["shop-db-1"]


def test_second_network_is_connected_before_start() -> None:
    h = Harness()
    proj = project(
        service("web", networks={"front": ServiceNetwork(), "back": ServiceNetwork()}),
        networks={
            "front": NetworkConfig(name="shop_front"),
            "back": NetworkConfig(name="shop_back"),
        },
    )
    h.runtime(proj).up(UpOptions())
    web = h.engine.by_name("shop-web-1")
    assert sorted(web.networks) == ["shop_back", "shop_front"]
    paths = [r.path for r in h.engine.transport.calls("POST")]
    connect = paths.index("/networks/shop_front/connect")
    assert connect < paths.index(f"/containers/{web.id}/start")


def test_injected_secrets_are_written_before_start() -> None:
    from wharf.compose.model import FileObject, ServiceFileRef

    h = Harness()
    svc = service("web", configs=(ServiceFileRef(source="motd", target="motd"),))
    proj = replace(project(svc), configs={"motd": FileObject(name="m", content="hi")})
    h.runtime(proj).up(UpOptions())
    web = h.engine.by_name("shop-web-1")
    assert [path for path, _ in web.archives] == ["/"]
