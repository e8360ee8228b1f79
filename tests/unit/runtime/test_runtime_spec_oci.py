"""The OCI runtime CLI driver (runtime/oci.py) against a fake runc: argv, errors, probe cache."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from wharf.errdefs import Conflict, EngineFailure, NotFound
from wharf.runtime.oci import (
    OciRuntime,
    RuntimeStatus,
    parse_error,
    probe_one,
    probe_runtime,
    read_error_log,
)
from wharf.runtime.spec import HostFacts, Resources

# Speaks runc's CLI: state in <root>/<id>/, errors the way runc prints them.
FAKE_RUNC = r"""#!/bin/bash
[ "$1" = --root ] || { echo "no --root" >&2; exit 2; }
root=$2; shift 2
echo "$*" >> "$root.calls"
cmd=$1; shift
id=${@: -1}
gone='time="2024-01-01T00:00:00Z" level=error msg="container does not exist"'
stopped='{"level":"error","msg":"container not running","time":"x"}'
nope='unable to start container process: exec: \"nope\": executable file not found in $PATH'
hybrid="cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
case $cmd in
  state)
    [ -d "$root/$id" ] || { echo "$gone" >&2; exit 1; }
    status=$(cat "$root/$id/status")
    echo "{\"id\":\"$id\",\"pid\":42,\"status\":\"$status\",\"bundle\":\"/b\"}";;
  kill)
    id=${@: -2:1}
    [ -d "$root/$id" ] || exit 1
    [ "$(cat "$root/$id/status")" = stopped ] && { echo "$stopped" >&2; exit 1; }
    exit 0;;
  start)
    [ -d "$root/$id" ] || exit 1
    echo '{"level":"warning","msg":"something odd","time":"x"}' >&2
    echo "time=\"x\" level=error msg=\"runc run failed: $nope\"" >&2
    exit 1;;
  ps) echo "[42,43]";;
  update) cat > "$root/$id/update.json";;
  pause|resume) exit 0;;
  delete) rm -rf "$root/$id";;
  run)
    case $(basename "$0") in
      crun) echo "$hybrid" >&2; exit 1;;
      *) exit 0;;
    esac;;
  *) echo "unknown command $cmd" >&2; exit 1;;
esac
"""


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("runc", "crun"):
        path = bin_dir / name
        path.write_text(FAKE_RUNC)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir


@pytest.fixture
def runtime(fakes: Path, tmp_path: Path) -> OciRuntime:
    state = tmp_path / "state"
    (state / "c1").mkdir(parents=True)
    (state / "c1" / "status").write_text("running")
    (state / "c2").mkdir()
    (state / "c2" / "status").write_text("stopped")
    return OciRuntime("runc", str(fakes / "runc"), state)


def test_create_and_exec_argv(tmp_path: Path) -> None:
    rt = OciRuntime("runc", "/usr/sbin/runc", tmp_path / "st")
    root = str(tmp_path / "st")
    assert rt.create_argv("c1", Path("/b"), Path("/b/pid"), None) == [
        "/usr/sbin/runc", "--root", root, "create", "--bundle", "/b", "--pid-file", "/b/pid", "c1",
    ]  # fmt: skip
    assert rt.create_argv("c1", Path("/b"), Path("/p"), Path("/s"), log_file=Path("/l")) == [
        "/usr/sbin/runc", "--root", root, "--log", "/l", "--log-format", "json",
        "create", "--bundle", "/b", "--pid-file", "/p", "--console-socket", "/s", "c1",
    ]  # fmt: skip
    assert rt.exec_argv("c1", Path("/x.json"), Path("/p"), None) == [
        "/usr/sbin/runc", "--root", root,
        "exec", "--detach", "--process", "/x.json", "--pid-file", "/p", "c1",
    ]  # fmt: skip


def test_state(runtime: OciRuntime) -> None:
    state = runtime.state("c1")
    assert state.status is RuntimeStatus.RUNNING and state.status == "running"
    assert (state.pid, state.bundle) == (42, "/b")
    with pytest.raises(NotFound, match="no such container in runc: nope"):
        runtime.state("nope")


def test_errors_are_the_runtimes_own_message_on_one_line(runtime: OciRuntime) -> None:
    with pytest.raises(EngineFailure) as info:
        runtime.start("c1")
    message = str(info.value)
    assert message == (
        'runc start c1: runc run failed: unable to start container process: exec: "nope": '
        "executable file not found in $PATH"
    )


def test_wrong_state_is_a_conflict(runtime: OciRuntime) -> None:
    runtime.kill("c1", 15)
    with pytest.raises(Conflict, match="container not running"):
        runtime.kill("c2", 9, all_processes=True)
    calls = Path(f"{runtime.state_root}.calls").read_text().splitlines()
    assert calls[-2:] == ["kill c1 15", "kill --all c2 9"]


def test_other_commands(runtime: OciRuntime) -> None:
    assert runtime.ps("c1") == [42, 43]
    runtime.pause("c1")
    runtime.resume("c1")
    runtime.update("c1", Resources(memory=64 << 20, pids_limit=0))
    body = json.loads((runtime.state_root / "c1" / "update.json").read_text())
    assert body == {"memory": {"limit": 64 << 20, "swap": 128 << 20}, "pids": {"limit": -1}}
    assert runtime.list_ids() == ["c1", "c2"]
    runtime.delete("c2", force=True)
    assert not runtime.exists("c2")
    calls = Path(f"{runtime.state_root}.calls").read_text().splitlines()
    assert "ps --format json c1" in calls and "delete --force c2" in calls
    assert "update --resources /dev/stdin c1" in calls


def test_missing_binary_is_an_engine_failure(tmp_path: Path) -> None:
    rt = OciRuntime("runc", str(tmp_path / "nope"), tmp_path)
    with pytest.raises(EngineFailure, match="cannot run"):
        rt.state("x")


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        ('time="2024" level=error msg="container does not exist"\n', "container does not exist"),
        ('{"level":"error","msg":"a\\nb","time":"x"}\n', "a b"),
        ('{"level":"info","msg":"noise"}\n{"level":"fatal","msg":"boom"}\n', "boom"),
        (
            "error opening file `/run/crun/x/status`: No such file or directory\n",
            "error opening file",
        ),
        ('time="x" level=warning msg="w"\nplain tail\n', "plain tail"),
        ('time="x" level=error msg="say \\"hi\\""\n', 'say "hi"'),
        ("", ""),
    ],
)
def test_parse_error(stderr: str, message: str) -> None:
    parsed = parse_error(stderr)
    assert parsed.startswith(message) if message else parsed == ""
    assert "\n" not in parsed


def test_read_error_log(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    log.write_text('{"level":"error","msg":"exec failed","time":"x"}\n')
    assert read_error_log(log) == "exec failed"
    assert read_error_log(tmp_path / "missing") == ""


def test_probe_skips_a_runtime_that_cannot_run_here_and_caches(
    fakes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    workdir = tmp_path / "work"
    host = HostFacts(init_path=None)
    assert probe_runtime(("crun", "runc"), workdir=workdir, host=host) == "runc"
    cache = json.loads((workdir / "runtime-probe.json").read_text())
    assert cache["crun"]["works"] is False
    assert cache["crun"]["reason"].startswith("cgroups in hybrid mode not supported")
    assert cache["runc"]["works"] is True
    calls_file = workdir / f"probe-{os.getpid()}-runc" / "state.calls"
    assert not calls_file.exists()  # the probe dir is removed
    # Cached: the fakes are not run again until the binary changes.
    (fakes / "crun").write_text("#!/bin/sh\nexit 99\n")
    assert probe_one("crun", workdir=workdir, host=host).works is False
    os.utime(fakes / "crun", ns=(1, 1))
    assert "exit status 99" in probe_one("crun", workdir=workdir, host=host).reason
    with pytest.raises(EngineFailure, match=r"no working OCI runtime.*crun: exit status 99"):
        probe_runtime(("crun", "nosuch"), workdir=workdir, host=host)
    assert [p.name for p in workdir.iterdir()] == ["runtime-probe.json"]


def test_probe_takes_runtime_objects_with_their_own_path(fakes: Path, tmp_path: Path) -> None:
    host = HostFacts(init_path=None)
    candidates = [
        OciRuntime("crun", str(fakes / "crun"), tmp_path / "s1"),
        OciRuntime("mine", str(fakes / "runc"), tmp_path / "s2"),
    ]
    assert probe_runtime(candidates, tmp_path / "work", host=host) == "mine"
    cache = json.loads((tmp_path / "work" / "runtime-probe.json").read_text())
    assert cache["mine"]["path"] == str(fakes / "runc")
    with pytest.raises(TypeError, match="workdir"):
        probe_runtime(candidates)
