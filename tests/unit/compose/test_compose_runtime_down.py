"""``down``, the lifecycle commands and multiplexed logs against an in-memory daemon."""

from __future__ import annotations

from compose_fake import FakeEngine
from compose_projects import Harness, project, service

from wharf.client.streams import StreamKind
from wharf.compose.down import DownOptions, RemoveImages
from wharf.compose.logs import Exited, LogLine, LogOptions
from wharf.compose.model import (
    BuildConfig,
    Dependency,
    ServiceVolume,
    VolumeConfig,
    VolumeType,
)
from wharf.compose.up import UpOptions


def stack() -> object:
    return project(
        service("db", volumes=(ServiceVolume(type=VolumeType.VOLUME, source="data", target="/d"),)),
        service("web", depends_on={"db": Dependency()}),
        volumes={"data": VolumeConfig(name="shop_data")},
    )


def test_down_stops_dependants_first_and_removes_containers_and_networks() -> None:
    h = Harness()
    h.runtime(stack()).up(UpOptions())  # type: ignore[arg-type]
    h.reporter.events.clear()
    h.runtime(stack()).down(DownOptions())  # type: ignore[arg-type]
    assert h.lines() == [
        "Container shop-web-1 Stopped",
        "Container shop-db-1 Stopped",
        "Container shop-web-1 Removed",
        "Container shop-db-1 Removed",
        "Network shop_default Removed",
    ]
    assert h.engine.containers == {}
    assert h.engine.networks == {}
    assert "shop_data" in h.engine.volumes  # volumes stay without -v
    removes = h.engine.calls("DELETE", r"/containers/.*")
    assert all(r.param("v") == "1" for r in removes)


def test_down_volumes_removes_the_projects_volumes() -> None:
    h = Harness()
    h.runtime(stack()).up(UpOptions())  # type: ignore[arg-type]
    h.engine.volumes["unrelated"] = {"Name": "unrelated", "Labels": {}}
    h.runtime(stack()).down(DownOptions(volumes=True))  # type: ignore[arg-type]
    assert list(h.engine.volumes) == ["unrelated"]


def test_down_without_a_file_works_from_labels() -> None:
    h = Harness()
    h.runtime(stack()).up(UpOptions())  # type: ignore[arg-type]
    h.runtime(None, name="shop").down(DownOptions(volumes=True))
    assert h.engine.containers == {}
    assert h.engine.networks == {}
    assert h.engine.volumes == {}


def test_down_leaves_orphans_unless_asked() -> None:
    h = Harness()
    h.runtime(project(service("web"), service("old"))).up(UpOptions())
    h.runtime(project(service("web"))).down(DownOptions())
    assert h.engine.names() == ["shop-old-1"]
    assert "shop_default" in h.engine.networks  # the orphan still uses it
    assert h.reporter.warnings and "shop-old-1" in h.reporter.warnings[0]
    h.runtime(project(service("web"))).down(DownOptions(remove_orphans=True))
    assert h.engine.containers == {} and h.engine.networks == {}


def test_down_removes_one_off_containers_too() -> None:
    h = Harness()
    rt = h.runtime(project(service("web")))
    rt.up(UpOptions())
    from wharf.compose.runtime import RunOptions

    plan = rt.prepare_run("web", RunOptions(command=("true",)))
    rt.create_planned(plan)
    assert any("-run-" in name for name in h.engine.names())
    rt.down(DownOptions())
    assert h.engine.containers == {}


def test_down_rmi_local_removes_only_default_named_builds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    proj = project(
        service("api", image=None, build=BuildConfig(context=tmp_path)),
        service("web"),
    )
    h = Harness()
    h.runtime(proj).up(UpOptions())
    h.runtime(proj).down(DownOptions(images=RemoveImages.LOCAL))
    removed = [r.path for r in h.engine.calls("DELETE", r"/images/.*")]
    assert removed == ["/images/shop-api"]


def test_stop_start_restart_kill_pause() -> None:
    h = Harness()
    proj = stack()
    rt = h.runtime(proj)  # type: ignore[arg-type]
    rt.up(UpOptions())
    h.reporter.events.clear()
    rt.stop()
    assert h.lines() == ["Container shop-web-1 Stopped", "Container shop-db-1 Stopped"]
    assert {c.state for c in h.engine.containers.values()} == {"exited"}
    h.reporter.events.clear()
    rt.start()
    assert h.lines() == ["Container shop-db-1 Started", "Container shop-web-1 Started"]
    rt.pause(["web"])
    assert h.engine.by_name("shop-web-1").state == "paused"
    rt.unpause(["web"])
    assert h.engine.by_name("shop-web-1").state == "running"
    rt.kill(["web"])
    assert h.engine.by_name("shop-web-1").state == "exited"
    rt.restart(["web"])
    assert h.engine.by_name("shop-web-1").state == "running"


def test_rm_removes_stopped_containers_only_unless_stop_first() -> None:
    h = Harness()
    rt = h.runtime(stack())  # type: ignore[arg-type]
    rt.up(UpOptions())
    assert rt.removable() == []
    rt.stop(["web"])
    rt.rm(rt.removable())
    assert h.engine.names() == ["shop-db-1"]
    rt.rm(rt.removable(stop_first=True), stop_first=True)
    assert h.engine.names() == []


def test_find_gives_the_replica_asked_for() -> None:
    h = Harness()
    rt = h.runtime(project(service("web")))
    rt.up(UpOptions(scale={"web": 2}))
    assert rt.find("web", 2).name == "shop-web-2"


def test_logs_are_multiplexed_per_container() -> None:
    engine = FakeEngine(
        logs={
            "shop-web-1": [(StreamKind.STDOUT, b"hello\nwor"), (StreamKind.STDOUT, b"ld\n")],
            "shop-db-1": [(StreamKind.STDERR, b"oops\n"), (StreamKind.STDOUT, b"no newline")],
        }
    )
    h = Harness(engine)
    rt = h.runtime(stack())  # type: ignore[arg-type]
    rt.up(UpOptions())
    stream = rt.logs(options=LogOptions()).start()
    items = list(stream.lines())
    lines = sorted((i.source, i.text, i.stderr) for i in items if isinstance(i, LogLine))
    assert lines == [
        ("db-1", "no newline", False),
        ("db-1", "oops", True),
        ("web-1", "hello", False),
        ("web-1", "world", False),
    ]
    assert stream.sources == ["db-1", "web-1"]


def test_followed_logs_report_the_exit() -> None:
    engine = FakeEngine(logs={"shop-web-1": [(StreamKind.STDOUT, b"bye\n")]})
    h = Harness(engine)
    rt = h.runtime(project(service("web")))
    (web,) = rt.up(UpOptions())
    engine.by_name("shop-web-1").state = "exited"
    engine.by_name("shop-web-1").exit_code = 4
    stream = rt.logs(containers=[web], options=LogOptions(follow=True), report_exits=True)
    items = list(stream.start().lines())
    assert items[-1] == Exited("web-1", "web", web.id, 4)
    assert LogLine("web-1", "web", "bye") in items
