"""Drive an OCI runtime's command line (runc and crun take the same one) and probe which works.

Imports: stdlib, ``wharf.errdefs`` and the sibling ``spec`` (to render resources and the
probe's config).

Every call is ``<path> --root <state_root> <command> ...``, run with ``subprocess`` (no shell,
stdio captured, a timeout). ``create`` and ``exec --detach`` are not run here: the monitor
process runs their argv (``create_argv``/``exec_argv``) so that it owns the container's
stdio; pass ``log_file`` so the runtime's own error lands in that file (``runc`` also prints
it to stderr, which is the container's stderr at that point) and read it back with
``read_error_log``.

Errors: the runtime's stderr is reduced to its own message on one line (runc writes
``time=... level=error msg="..."`` or JSON lines; crun writes plain lines) and raised as
EngineFailure; an unknown container is NotFound (decided by the state directory
``<state_root>/<id>``, which both runtimes keep), a container in the wrong state Conflict.

The probe layout (``probe_runtime``)::

    <workdir>/runtime-probe.json      {"<name>": {"path", "mtime_ns", "size", "works", "reason"}}
    <workdir>/probe-<pid>/            bundle (config.json, rootfs/ with a static busybox) and
                                      state root, removed after each probe
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from wharf.errdefs import Conflict, EngineFailure, NotFound
from wharf.runtime.cgroups import CgroupLayout
from wharf.runtime.init import is_static_elf
from wharf.runtime.spec import ContainerSpec, HostFacts, Resources, render_config, resources_to_oci

DEFAULT_TIMEOUT = 60.0
PROBE_FILE = "runtime-probe.json"


class RuntimeStatus(StrEnum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class RuntimeState:
    status: RuntimeStatus
    pid: int
    bundle: str = ""
    created: str = ""


class OciRuntime:
    """One OCI runtime binary (``name`` is what ``--runtime`` and ``info`` show) with its own
    state directory."""

    def __init__(
        self, name: str, path: str, state_root: Path, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.name = name
        self.path = path
        self.state_root = state_root
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"OciRuntime({self.name!r}, {self.path!r}, {str(self.state_root)!r})"

    # ---- argv for the monitor ----------------------------------------------------------

    def _base(self, log_file: Path | None = None) -> list[str]:
        argv = [self.path, "--root", str(self.state_root)]
        if log_file is not None:
            argv += ["--log", str(log_file), "--log-format", "json"]
        return argv

    def create_argv(
        self,
        container_id: str,
        bundle: Path,
        pid_file: Path,
        console_socket: Path | None,
        *,
        log_file: Path | None = None,
    ) -> list[str]:
        """``create``: the container waits in its init until ``start``."""
        argv = [
            *self._base(log_file),
            "create",
            "--bundle",
            str(bundle),
            "--pid-file",
            str(pid_file),
        ]
        if console_socket is not None:
            argv += ["--console-socket", str(console_socket)]
        return [*argv, container_id]

    def exec_argv(
        self,
        container_id: str,
        process_json: Path,
        pid_file: Path,
        console_socket: Path | None,
        *,
        log_file: Path | None = None,
    ) -> list[str]:
        """A detached ``exec`` of the process in ``process_json`` (see ``spec.render_process``)."""
        argv = [
            *self._base(log_file),
            "exec",
            "--detach",
            "--process",
            str(process_json),
            "--pid-file",
            str(pid_file),
        ]
        if console_socket is not None:
            argv += ["--console-socket", str(console_socket)]
        return [*argv, container_id]

    # ---- commands ------------------------------------------------------------------------

    def start(self, container_id: str) -> None:
        self._run(container_id, ["start", container_id])

    def state(self, container_id: str) -> RuntimeState:
        out = self._run(container_id, ["state", container_id])
        try:
            doc = json.loads(out)
            return RuntimeState(
                status=RuntimeStatus(doc["status"]),
                pid=int(doc.get("pid") or 0),
                bundle=str(doc.get("bundle") or ""),
                created=str(doc.get("created") or ""),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineFailure(
                f"{self.name} state {container_id}: unexpected output: {out[:200]!r}"
            ) from exc

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        argv = ["kill", "--all", container_id] if all_processes else ["kill", container_id]
        self._run(container_id, [*argv, str(int(signal))])

    def delete(self, container_id: str, force: bool = False) -> None:
        argv = ["delete", "--force", container_id] if force else ["delete", container_id]
        self._run(container_id, argv)

    def pause(self, container_id: str) -> None:
        self._run(container_id, ["pause", container_id])

    def resume(self, container_id: str) -> None:
        self._run(container_id, ["resume", container_id])

    def ps(self, container_id: str) -> list[int]:
        """Host pids of every process in the container."""
        out = self._run(container_id, ["ps", "--format", "json", container_id])
        try:
            pids = json.loads(out or "[]")
            return [int(p) for p in pids or ()]
        except (ValueError, TypeError) as exc:
            raise EngineFailure(
                f"{self.name} ps {container_id}: unexpected output: {out[:200]!r}"
            ) from exc

    def update(self, container_id: str, resources: Resources, *, swap_limit: bool = True) -> None:
        """Apply new limits to a running container (``docker update``)."""
        body = json.dumps(resources_to_oci(resources, swap_limit=swap_limit)).encode()
        self._run(container_id, ["update", "--resources", "/dev/stdin", container_id], stdin=body)

    def list_ids(self) -> list[str]:
        """Ids of the containers this state root knows (the runtime's own directories)."""
        try:
            return sorted(p.name for p in self.state_root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def exists(self, container_id: str) -> bool:
        return (self.state_root / container_id).is_dir()

    # ---- plumbing -----------------------------------------------------------------------

    def _run(self, container_id: str, args: list[str], *, stdin: bytes | None = None) -> str:
        argv = self._base() + args
        try:
            proc = subprocess.run(
                argv,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineFailure(
                f"{self.name} {args[0]} {container_id}: no answer after {self.timeout:g}s"
            ) from exc
        except OSError as exc:
            raise EngineFailure(f"cannot run {self.path}: {exc.strerror}") from exc
        if proc.returncode == 0:
            return proc.stdout.decode(errors="replace")
        message = (
            parse_error(proc.stderr.decode(errors="replace")) or f"exit status {proc.returncode}"
        )
        if not self.exists(container_id):
            raise NotFound(f"no such container in {self.name}: {container_id}")
        if _WRONG_STATE.search(message):
            raise Conflict(f"{self.name} {args[0]} {container_id}: {message}")
        raise EngineFailure(f"{self.name} {args[0]} {container_id}: {message}")


_WRONG_STATE = re.compile(
    r"not running|is not running|cannot (?:start|pause|resume|delete)|"
    r"container is (?:paused|stopped|running)|process already finished|already (?:running|paused)",
    re.IGNORECASE,
)
_TEXT_LOG = re.compile(r'level=(\w+)\s+msg="((?:[^"\\]|\\.)*)"')


def parse_error(stderr: str) -> str:
    """The runtime's own error message, on one line, from its stderr or JSON log file.

    runc: ``{"level":"error","msg":"..."}`` lines or ``time=".." level=error msg=".."``; crun:
    plain lines (JSON with ``--log-format json``). Error and fatal records win over others;
    the last ones are kept (the outermost wrapping of the cause)."""
    errors: list[str] = []
    plain: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict) and "msg" in doc:
                    if str(doc.get("level", "error")) in ("error", "fatal", "panic"):
                        errors.append(str(doc["msg"]))
                    continue
        match = _TEXT_LOG.search(line)
        if match is not None:
            if match.group(1) in ("error", "fatal", "panic"):
                errors.append(_unquote(match.group(2)))
            continue
        plain.append(line)
    chosen = errors or plain
    if not chosen:
        return ""
    message = chosen[-1]
    return " ".join(message.split())


def read_error_log(log_file: Path) -> str:
    """The error a runtime wrote to its ``--log`` file ("" if none)."""
    try:
        return parse_error(log_file.read_text(errors="replace"))
    except OSError:
        return ""


def _unquote(text: str) -> str:
    """Undo Go's %q escaping of a logrus text field."""
    try:
        value = json.loads(f'"{text}"')
    except ValueError:
        return text.replace('\\"', '"')
    return str(value)


# ---- probing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    name: str
    path: str  # "" when not installed
    works: bool
    reason: str = ""  # why not, in the runtime's words


def probe_runtime(
    candidates: Sequence[str | OciRuntime] = ("crun", "runc"),
    workdir: Path | None = None,
    *,
    busybox: Path | None = None,
    host: HostFacts | None = None,
) -> str:
    """The name of the first of ``candidates`` (names looked up on PATH, or ``OciRuntime``s
    with their own path) that really runs a container on this host. ``workdir`` is required.

    Each is asked to run ``true`` in a tiny busybox bundle configured as ``render_config``
    would configure a container (so a runtime refusing this host's cgroup layout, as crun
    1.8.1 does with "cgroups in hybrid mode not supported", is passed over). Outcomes are
    cached in ``workdir/runtime-probe.json`` keyed by the binary's path, mtime and size.
    Raises EngineFailure naming every reason when none works."""
    if workdir is None:
        raise TypeError("probe_runtime() needs a workdir")
    outcomes = []
    for candidate in candidates:
        outcome = probe_one(candidate, workdir=workdir, busybox=busybox, host=host)
        if outcome.works:
            return outcome.name
        outcomes.append(outcome)
    reasons = "; ".join(f"{o.name}: {o.reason}" for o in outcomes) or "no candidates"
    raise EngineFailure(f"no working OCI runtime ({reasons})")


def probe_one(
    candidate: str | OciRuntime,
    *,
    workdir: Path,
    busybox: Path | None = None,
    host: HostFacts | None = None,
) -> ProbeOutcome:
    """Probe one runtime (a command on PATH, or an ``OciRuntime``), using the cache when it is
    fresh (same binary, same kernel, same cgroup layout)."""
    if isinstance(candidate, OciRuntime):
        name, path = candidate.name, shutil.which(candidate.path)
    else:
        name, path = candidate, shutil.which(candidate)
    if path is None:
        return ProbeOutcome(name, "", False, "not installed")
    try:
        st = os.stat(path)
    except OSError as exc:
        return ProbeOutcome(name, path, False, exc.strerror or "cannot stat")
    cache_file = workdir / PROBE_FILE
    cache = _read_cache(cache_file)
    key = {"path": path, "mtime_ns": st.st_mtime_ns, "size": st.st_size, "host": _host_key()}
    hit = cache.get(name)
    if isinstance(hit, dict) and all(hit.get(k) == v for k, v in key.items()):
        return ProbeOutcome(name, path, bool(hit.get("works")), str(hit.get("reason") or ""))
    outcome = _probe_uncached(name, path, workdir, busybox, host)
    cache[name] = {**key, "works": outcome.works, "reason": outcome.reason}
    _write_cache(cache_file, cache)
    return outcome


def _read_cache(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_cache(path: Path, cache: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
    tmp.replace(path)


def _host_key() -> str:
    """What, besides the binary, decides whether a runtime works here."""
    layout = CgroupLayout.detect()
    hybrid = "+unified" if layout.v1 and layout.unified is not None else ""
    return f"{os.uname().release} cgroup-v{layout.version}{hybrid}"


def _probe_uncached(
    name: str, path: str, workdir: Path, busybox: Path | None, host: HostFacts | None
) -> ProbeOutcome:
    box = busybox or _find_static_busybox()
    if box is None or not is_static_elf(box):
        # Nothing to run inside: the best we can say is that the binary answers.
        try:
            subprocess.run([path, "--version"], capture_output=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return ProbeOutcome(name, path, False, f"{path} --version failed: {exc}")
        return ProbeOutcome(name, path, True, "not run: no static busybox to probe with")
    base = workdir / f"probe-{os.getpid()}-{name}"
    container_id = f"wharf-probe-{os.getpid()}-{name}"
    runtime = OciRuntime(name, path, base / "state", timeout=30)
    try:
        rootfs = base / "bundle" / "rootfs"
        for sub in ("bin", "proc", "dev", "sys", "tmp", "etc"):
            (rootfs / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(box, rootfs / "bin" / "busybox")
        spec = ContainerSpec(
            id=container_id,
            rootfs=rootfs,
            args=("/bin/busybox", "true"),
            env=("PATH=/bin",),
            cwd="/",
            uid=0,
            gid=0,
            additional_gids=(),
            terminal=False,
            hostname="probe",
            cgroups_path=f"/wharf/{container_id}",
            resources=Resources(pids_limit=16),
        )
        (base / "bundle" / "config.json").write_bytes(
            render_config(spec, host or HostFacts.detect())
        )
        started = time.monotonic()
        proc = subprocess.run(
            [*runtime._base(), "run", "--bundle", str(base / "bundle"), container_id],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            reason = parse_error(proc.stderr.decode(errors="replace")) or (
                f"exit status {proc.returncode}"
            )
            return ProbeOutcome(name, path, False, reason)
        return ProbeOutcome(name, path, True, f"ran a container in {elapsed * 1000:.0f} ms")
    except (OSError, subprocess.SubprocessError) as exc:
        return ProbeOutcome(name, path, False, str(exc))
    finally:
        with contextlib.suppress(Exception):
            if runtime.exists(container_id):
                runtime.delete(container_id, force=True)
        shutil.rmtree(base, ignore_errors=True)


def _find_static_busybox() -> Path | None:
    for candidate in ("busybox-static", "busybox"):
        found = shutil.which(candidate)
        if found is not None:
            return Path(found)
    for fixed in ("/bin/busybox", "/usr/bin/busybox"):
        if Path(fixed).is_file():
            return Path(fixed)
    return None
