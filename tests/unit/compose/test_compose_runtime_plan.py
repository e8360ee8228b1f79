"""Names, labels and the convergence plan (pure code)."""

from __future__ import annotations

from wharf.compose import naming
from wharf.compose.convergence import (
    ActionKind,
    Observed,
    Recreate,
    find_orphans,
    plan_service,
)


def observed(
    number: int,
    *,
    service: str = "web",
    state: str = "running",
    config_hash: str = "h1",
    image_id: str = "sha256:a",
    oneoff: bool = False,
) -> Observed:
    return Observed(
        id=f"id{service}{number}",
        name=f"shop-{service}-{number}",
        service=service,
        number=number,
        state=state,
        config_hash=config_hash,
        image_id=image_id,
        oneoff=oneoff,
    )


def kinds(actions: list) -> list[tuple[ActionKind, int]]:  # type: ignore[type-arg]
    return [(a.kind, a.number) for a in actions]


def test_names_follow_docker_compose_v2() -> None:
    assert naming.container_name("shop", "web", 2) == "shop-web-2"
    assert naming.oneoff_name("shop", "web", "abc") == "shop-web-run-abc"
    assert naming.built_image_name("shop", "Web", None) == "shop-web"
    assert naming.built_image_name("shop", "web", "me/web:1") == "me/web:1"


def test_project_filter_selects_service_containers_by_label() -> None:
    assert naming.project_filter("shop") == {
        "label": ["com.docker.compose.project=shop", "com.docker.compose.oneoff=False"]
    }
    assert naming.project_filter("shop", oneoff=None) == {
        "label": ["com.docker.compose.project=shop"]
    }


def test_display_name_drops_the_project_only_for_default_names() -> None:
    labels = {naming.PROJECT: "shop", naming.SERVICE: "web", naming.NUMBER: "1"}
    assert naming.display_name("shop-web-1", labels) == "web-1"
    assert naming.display_name("my-custom", labels) == "my-custom"


def test_depends_on_label_is_sorted_name_condition_restart() -> None:
    label = naming.depends_on_label(
        [("db", "service_healthy", True), ("auth", "service_started", False)]
    )
    assert label == "auth:service_started:false,db:service_healthy:true"


def test_container_number_from_label_else_name() -> None:
    assert naming.container_number({naming.NUMBER: "3"}, "x") == 3
    assert naming.container_number({}, "shop-web-7") == 7
    assert naming.container_number({}, "custom") == 0


def test_unchanged_running_containers_are_kept() -> None:
    actions = plan_service(
        "web", replicas=2, config_hash="h1", image_id="sha256:a",
        existing=[observed(1), observed(2)],
    )  # fmt: skip
    assert kinds(actions) == [(ActionKind.KEEP, 1), (ActionKind.KEEP, 2)]


def test_stopped_unchanged_containers_are_started() -> None:
    actions = plan_service(
        "web", replicas=1, config_hash="h1", image_id="", existing=[observed(1, state="exited")]
    )
    assert kinds(actions) == [(ActionKind.START, 1)]


def test_a_changed_hash_or_image_recreates() -> None:
    by_hash = plan_service("web", replicas=1, config_hash="h2", image_id="sha256:a",
                           existing=[observed(1)])  # fmt: skip
    by_image = plan_service("web", replicas=1, config_hash="h1", image_id="sha256:b",
                            existing=[observed(1)])  # fmt: skip
    assert kinds(by_hash) == [(ActionKind.RECREATE, 1)]
    assert kinds(by_image) == [(ActionKind.RECREATE, 1)]


def test_force_and_never_override_divergence() -> None:
    forced = plan_service("web", replicas=1, config_hash="h1", image_id="",
                          existing=[observed(1)], policy=Recreate.FORCE)  # fmt: skip
    never = plan_service("web", replicas=1, config_hash="other", image_id="",
                         existing=[observed(1)], policy=Recreate.NEVER)  # fmt: skip
    assert kinds(forced) == [(ActionKind.RECREATE, 1)]
    assert kinds(never) == [(ActionKind.KEEP, 1)]


def test_scale_down_removes_the_highest_numbers_first() -> None:
    actions = plan_service(
        "web", replicas=1, config_hash="h1", image_id="",
        existing=[observed(3), observed(1), observed(2)],
    )  # fmt: skip
    assert kinds(actions) == [
        (ActionKind.REMOVE, 3),
        (ActionKind.REMOVE, 2),
        (ActionKind.KEEP, 1),
    ]


def test_scale_up_numbers_after_the_highest_in_use() -> None:
    actions = plan_service("web", replicas=3, config_hash="h1", image_id="", existing=[observed(2)])
    assert kinds(actions) == [
        (ActionKind.KEEP, 2),
        (ActionKind.CREATE, 3),
        (ActionKind.CREATE, 4),
    ]


def test_nothing_existing_creates_from_one() -> None:
    actions = plan_service("web", replicas=2, config_hash="h", image_id="", existing=[])
    assert kinds(actions) == [(ActionKind.CREATE, 1), (ActionKind.CREATE, 2)]


def test_orphans_are_service_containers_of_unknown_services() -> None:
    found = [
        observed(1, service="web"),
        observed(1, service="old"),
        observed(1, service="gone", oneoff=True),
    ]
    assert [c.name for c in find_orphans(found, ["web"])] == ["shop-old-1"]


def test_observed_from_summary_reads_the_labels() -> None:
    container = Observed.from_summary(
        id="abc",
        names=("/shop-web-2",),
        state="exited",
        status="Exited (0) 2 seconds ago",
        image_id="sha256:x",
        labels=(
            (naming.SERVICE, "web"),
            (naming.NUMBER, "2"),
            (naming.CONFIG_HASH, "h"),
            (naming.ONEOFF, "True"),
            (naming.PROJECT, "shop"),
        ),
    )
    assert (container.name, container.service, container.number) == ("shop-web-2", "web", 2)
    assert container.oneoff and not container.running
    assert container.image_id == "sha256:x"
    assert container.display_name == "web-2"
