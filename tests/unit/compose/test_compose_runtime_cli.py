"""``wharf compose`` end to end in-process: real compose files, the real command tree, an
in-memory daemon (``compose_fake``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from compose_fake import FakeEngine

from wharf.cli.main import cli
from wharf.cli.state import CliState
from wharf.client.streams import StreamKind

NOW = 1_700_000_010.0

APP = """\
name: shop
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080"]
    environment:
      GREETING: ${GREETING:-hello}
    depends_on: [db]
  db:
    image: busybox
    volumes: [data:/data]
volumes:
  data: {}
"""


def run(engine: FakeEngine | None, *args: str, tty: bool = False) -> Result:
    def factory(_state: CliState):  # type: ignore[no-untyped-def]
        if engine is None:
            raise AssertionError("this command must not talk to the daemon")
        return engine.client()

    state = CliState(
        client_factory=factory,
        stdout_isatty=lambda: tty,
        stdin_isatty=lambda: False,
        now=lambda: NOW,
    )
    return CliRunner().invoke(cli, list(args), obj=state)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("GREETING", raising=False)
    (tmp_path / "compose.yaml").write_text(APP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_up_detached_prints_compose_progress_on_stderr(app: Path) -> None:
    engine = FakeEngine()
    result = run(engine, "compose", "up", "-d")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        " ✔ Network shop_default  Created",
        ' ✔ Volume "shop_data"  Created',
        " ✔ Container shop-db-1  Created",
        " ✔ Container shop-web-1  Created",
        " ✔ Container shop-db-1  Started",
        " ✔ Container shop-web-1  Started",
    ]
    assert engine.by_name("shop-web-1").body["Env"] == ["GREETING=hello"]


def test_up_twice_reports_running(app: Path) -> None:
    engine = FakeEngine()
    run(engine, "compose", "up", "-d")
    result = run(engine, "compose", "up", "-d")
    assert result.stderr.splitlines() == [
        " ✔ Container shop-db-1  Running",
        " ✔ Container shop-web-1  Running",
    ]


def test_env_file_and_environment_change_recreate_only_that_service(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FakeEngine()
    run(engine, "compose", "up", "-d")
    db = engine.by_name("shop-db-1").id
    (app / ".env").write_text("GREETING=bonjour\n")
    result = run(engine, "compose", "up", "-d")
    assert result.exit_code == 0, result.stderr
    assert " ✔ Container shop-web-1  Recreated" in result.stderr.splitlines()
    assert engine.by_name("shop-db-1").id == db
    assert engine.by_name("shop-web-1").body["Env"] == ["GREETING=bonjour"]


def test_ps_lists_the_project_with_service_column(app: Path) -> None:
    engine = FakeEngine()
    run(engine, "compose", "up", "-d")
    result = run(engine, "compose", "ps")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [row.split()[0] for row in rows] == ["shop-db-1", "shop-web-1"]
    assert "Up 3 seconds" in rows[1]
    services = run(engine, "compose", "ps", "--services")
    assert services.stdout.splitlines() == ["db", "web"]
    quiet = run(engine, "compose", "ps", "-q")
    assert quiet.stdout.splitlines() == [
        engine.by_name("shop-db-1").id,
        engine.by_name("shop-web-1").id,
    ]


def test_ps_format_json_has_compose_fields(app: Path) -> None:
    import json

    engine = FakeEngine()
    run(engine, "compose", "up", "-d")
    result = run(engine, "compose", "ps", "--format", "json")
    first = json.loads(result.stdout.splitlines()[0])
    assert first["Name"] == "shop-db-1"
    assert first["Service"] == "db"
    assert first["Project"] == "shop"


def test_logs_are_prefixed(app: Path) -> None:
    engine = FakeEngine(
        logs={
            "shop-web-1": [(StreamKind.STDOUT, b"GET /\n")],
            "shop-db-1": [(StreamKind.STDOUT, b"ready\n")],
        }
    )
    run(engine, "compose", "up", "-d")
    result = run(engine, "compose", "logs", "web")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "web-1  | GET /\n"
    both = run(engine, "compose", "logs", "--no-log-prefix")
    assert sorted(both.stdout.splitlines()) == ["GET /", "ready"]


def test_logs_are_coloured_on_a_terminal(app: Path) -> None:
    engine = FakeEngine(logs={"shop-web-1": [(StreamKind.STDOUT, b"hi\n")]})
    run(engine, "compose", "up", "-d")
    result = run(engine, "compose", "logs", "web", tty=True)
    assert result.stdout == "\x1b[36mweb-1  | \x1b[0mhi\n"
    plain = run(engine, "compose", "logs", "--no-color", "web", tty=True)
    assert plain.stdout == "web-1  | hi\n"


def test_config_prints_the_resolved_model(app: Path) -> None:
    result = run(None, "compose", "config")
    assert result.exit_code == 0, result.stderr
    assert "GREETING: hello" in result.stdout
    assert "name: shop" in result.stdout
    services = run(None, "compose", "config", "--services")
    assert sorted(services.stdout.splitlines()) == ["db", "web"]
    assert run(None, "compose", "config", "-q").stdout == ""


def test_invalid_file_is_reported_and_nothing_is_sent(app: Path) -> None:
    (app / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n    bogus: 1\n")
    engine = FakeEngine()
    result = run(engine, "compose", "up", "-d")
    assert result.exit_code == 1
    assert "compose.yaml" in result.stderr
    assert "services.web" in result.stderr
    assert engine.transport.requests == []


def test_missing_required_variable_names_it(app: Path) -> None:
    (app / "compose.yaml").write_text(
        "services:\n  web:\n    image: ${IMAGE:?the image must be set}\n"
    )
    result = run(FakeEngine(), "compose", "up", "-d")
    assert result.exit_code == 1
    assert "the image must be set" in result.stderr


def test_no_file_needs_a_project_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    result = run(FakeEngine(), "compose", "up", "-d")
    assert result.exit_code == 1
    assert result.stderr == "no configuration file provided: not found\n"
    result = run(FakeEngine(), "compose", "ps")
    assert result.exit_code == 1


def test_down_by_project_name_without_a_file(app: Path, tmp_path_factory: pytest.TempPathFactory,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    engine = FakeEngine()
    run(engine, "compose", "up", "-d")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    result = run(engine, "compose", "-p", "shop", "down", "-v")
    assert result.exit_code == 0, result.stderr
    assert engine.containers == {} and engine.networks == {} and engine.volumes == {}
    assert " ✔ Network shop_default  Removed" in result.stderr.splitlines()


def test_scale_flag_and_its_errors(app: Path) -> None:
    engine = FakeEngine()
    result = run(engine, "compose", "up", "-d", "--scale", "web=2")
    assert result.exit_code == 0, result.stderr
    assert engine.names() == ["shop-db-1", "shop-web-1", "shop-web-2"]
    bad = run(engine, "compose", "up", "-d", "--scale", "web")
    assert bad.exit_code == 1
    assert "SERVICE=NUM" in bad.stderr


def test_file_flag_and_project_name_flag(app: Path, tmp_path_factory: pytest.TempPathFactory,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    other = tmp_path_factory.mktemp("other")
    monkeypatch.chdir(other)
    engine = FakeEngine()
    result = run(engine, "compose", "-f", str(app / "compose.yaml"), "-p", "demo", "up", "-d", "db")
    assert result.exit_code == 0, result.stderr
    assert engine.names() == ["demo-db-1"]


def test_unknown_service_fails(app: Path) -> None:
    result = run(FakeEngine(), "compose", "up", "-d", "nope")
    assert result.exit_code == 1
    assert "no such service" in result.stderr


def test_version_and_help(app: Path) -> None:
    assert run(None, "compose", "version", "--short").stdout.strip()
    helped = run(None, "compose", "--help")
    assert helped.exit_code == 0
    for name in ("up", "down", "ps", "logs", "exec", "run", "config"):
        assert f"  {name} " in helped.stdout


def test_rm_without_stopped_containers(app: Path) -> None:
    engine = FakeEngine()
    run(engine, "compose", "up", "-d")
    result = run(engine, "compose", "rm", "-f")
    assert result.stderr == "No stopped containers\n"
    run(engine, "compose", "stop", "web")
    result = run(engine, "compose", "rm", "-f")
    assert result.exit_code == 0, result.stderr
    assert engine.names() == ["shop-db-1"]
