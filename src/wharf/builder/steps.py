"""One stage of a build: each instruction's cache probe, then its run, in Dockerfile order.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.builder.*``.

Every instruction after FROM yields a new ``StepImage`` (a metadata-only config, or a layer
from a container run or a file copy) and is cached under the key of ``builder.cache``. ARG
changes only the scope, as in BuildKit, so it never costs an image; its values reach later
steps' keys through their expanded text (and RUN's environment).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import posixpath
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wharf.builder import commands
from wharf.builder.backend import (
    BuildBackend,
    CacheRecord,
    RunMountKind,
    RunMountSpec,
    RunNetwork,
    RunSpec,
    StepFailed,
    StepImage,
    Workspace,
)
from wharf.builder.cache import cache_key, explain_miss
from wharf.builder.context import copy as copying
from wharf.builder.context import fetch, sources, tree
from wharf.builder.dockerfile import (
    AddInstruction,
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    HealthcheckInstruction,
    Instruction,
    LabelInstruction,
    MaintainerInstruction,
    MountType,
    OnbuildInstruction,
    RunInstruction,
    RunMount,
    ShellInstruction,
    StopsignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
)
from wharf.errdefs import InvalidArgument, Unsupported
from wharf.oci.config import ContainerConfig, HistoryEntry, ImageConfig
from wharf.oci.mediatypes import Compression


class BuildFailed(Exception):
    """A step failed; ``code`` is the process's exit code when a RUN failed (else 1)."""

    def __init__(self, message: str, code: int = 1, *, cancelled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.cancelled = cancelled  # stopped because another stage failed


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """What every stage shares: the request's options, resolved."""

    context_dir: Path
    build_args: Mapping[str, str | None]
    secrets: Mapping[str, bytes]
    no_cache: bool
    pull: bool
    network: RunNetwork
    explain_cache: bool
    compression: Compression
    extra_hosts: tuple[str, ...] = ()
    shm_size: int = 0
    memory: int = 0
    cpu_shares: int = 0


class Counter:
    """A stage's step numbers: fixed by Dockerfile order, whatever order stages run in."""

    def __init__(self, total: int, first: int) -> None:
        self.total = total
        self._next = first

    def take(self) -> int:
        number = self._next
        self._next += 1
        return number


@dataclass
class StageState:
    image: StepImage
    args: dict[str, str | None] = field(default_factory=dict)
    globals: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False

    @property
    def config(self) -> ContainerConfig:
        return self.image.config.config

    def lookup(self, name: str) -> str | None:
        env = commands.env_map(self.config.env)
        if name in env:
            return env[name]
        return self.args.get(name)


StageResolver = Callable[[str], StepImage | None]


class StageRunner:
    """Runs the instructions of one stage against the backend."""

    def __init__(
        self,
        backend: BuildBackend,
        settings: BuildSettings,
        *,
        say: Callable[[str], None],
        counter: Counter,
        resolve_stage: StageResolver,
        cancelled: threading.Event,
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._say = say
        self._counter = counter
        self._resolve_stage = resolve_stage
        self._cancelled = cancelled

    # ---------------------------------------------------------------- driving

    def run(self, state: StageState, instructions: tuple[Instruction, ...]) -> StepImage:
        for instruction in instructions:
            if self._cancelled.is_set():
                raise BuildFailed("build cancelled: another stage failed", cancelled=True)
            number = self._counter.take()
            self._say(f"Step {number}/{self._counter.total} : {instruction.source}\n")
            self._dispatch(state, instruction)
            self._say(f" ---> {_short(state.image.image_id)}\n")
        return state.image

    def run_triggers(self, state: StageState, triggers: tuple[Instruction, ...]) -> None:
        """The base image's ONBUILD triggers, run right after FROM; the child keeps none."""
        if triggers:
            self._say(
                f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n"
            )
        for trigger in triggers:
            self._dispatch(state, trigger)
        if state.config.on_build:
            config = replace(state.image.config, config=replace(state.config, on_build=()))
            state.image = self.metadata_step(state, "ONBUILD (consumed)", config)

    def _dispatch(self, state: StageState, instruction: Instruction) -> None:
        if isinstance(instruction, ArgInstruction):
            self._arg(state, instruction)
        elif isinstance(instruction, RunInstruction):
            self._run(state, instruction)
        elif isinstance(instruction, (CopyInstruction, AddInstruction)):
            self._copy(state, instruction.expanded(state.lookup))
        elif isinstance(instruction, WorkdirInstruction):
            self._workdir(state, instruction.expanded(state.lookup))
        else:
            self._metadata(state, instruction)

    # ---------------------------------------------------------------- metadata

    def _arg(self, state: StageState, instruction: ArgInstruction) -> None:
        expanded = instruction.expanded(state.lookup)
        for name, default in expanded.args:
            given = self._settings.build_args.get(name)
            if given is not None:
                state.args[name] = given
            elif default is not None:
                state.args[name] = default
            elif state.globals.get(name) is not None:
                state.args[name] = state.globals[name]
            else:
                state.args.setdefault(name, None)
        self._say(" ---> (scope only)\n")

    def _metadata(self, state: StageState, instruction: Instruction) -> None:
        config = state.config
        image = state.image.config
        shell = config.shell or commands.DEFAULT_SHELL
        ex = instruction.expanded(state.lookup)
        if isinstance(ex, EnvInstruction):
            config = replace(config, env=commands.set_env(config.env, ex.pairs))
            text = "ENV " + " ".join(f"{k}={v}" for k, v in ex.pairs)
        elif isinstance(ex, LabelInstruction):
            config = replace(config, labels={**config.labels, **dict(ex.pairs)})
            text = "LABEL " + " ".join(f"{k}={v}" for k, v in ex.pairs)
        elif isinstance(ex, UserInstruction):
            config = replace(config, user=ex.user)
            text = f"USER {ex.user}"
        elif isinstance(ex, ExposeInstruction):
            ports = list(config.exposed_ports)
            ports.extend(p for p in commands.expose_ports(ex.ports) if p not in ports)
            config = replace(config, exposed_ports=tuple(ports))
            text = "EXPOSE " + " ".join(ex.ports)
        elif isinstance(ex, VolumeInstruction):
            if any(not path.strip() for path in ex.paths):
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes = list(config.volumes)
            volumes.extend(p for p in ex.paths if p not in volumes)
            config = replace(config, volumes=tuple(volumes))
            text = "VOLUME [" + " ".join(ex.paths) + "]"
        elif isinstance(ex, StopsignalInstruction):
            config = replace(config, stop_signal=ex.signal)
            text = f"STOPSIGNAL {ex.signal}"
        elif isinstance(ex, CmdInstruction):
            config = replace(config, cmd=commands.command_argv(ex.command, shell))
            state.cmd_set = True
            text = "CMD " + json.dumps(list(config.cmd or ()))
        elif isinstance(ex, EntrypointInstruction):
            entrypoint = commands.command_argv(ex.command, shell)
            # Docker: a new ENTRYPOINT drops the CMD inherited from the base image.
            config = replace(
                config, entrypoint=entrypoint, cmd=config.cmd if state.cmd_set else None
            )
            text = "ENTRYPOINT " + json.dumps(list(entrypoint))
        elif isinstance(ex, ShellInstruction):
            config = replace(config, shell=tuple(ex.argv))
            text = "SHELL " + json.dumps(list(ex.argv))
        elif isinstance(ex, HealthcheckInstruction):
            health = commands.healthcheck_config(ex, shell)
            config = replace(config, healthcheck=health)
            text = "HEALTHCHECK " + json.dumps(health.to_json(), sort_keys=True)
        elif isinstance(ex, OnbuildInstruction):
            config = replace(config, on_build=(*config.on_build, ex.trigger_source))
            text = f"ONBUILD {ex.trigger_source}"
        elif isinstance(ex, MaintainerInstruction):
            image = replace(image, author=ex.name)
            text = f"MAINTAINER {ex.name}"
        else:
            raise Unsupported(f"{instruction.keyword} is not supported by the builder")
        state.image = self.metadata_step(state, text, replace(image, config=config))

    def metadata_step(self, state: StageState, text: str, config: ImageConfig) -> StepImage:
        record = cache_key(_parent_id(state.image), text)
        cached = self._probe(record)
        if cached is not None:
            return cached
        created = _now()
        config = replace(
            config,
            created=created,
            history=(
                *config.history,
                HistoryEntry(
                    created=created, created_by=text, comment="wharf.builder", empty_layer=True
                ),
            ),
        )
        image = self._backend.write_config(state.image, config)
        self._backend.cache_store(record, image)
        return image

    # ---------------------------------------------------------------- cache

    def _probe(self, record: CacheRecord) -> StepImage | None:
        if self._settings.no_cache:
            if self._settings.explain_cache:
                self._say(" ---> Cache miss: --no-cache\n")
            return None
        image = self._backend.cache_lookup(record.key)
        if image is not None:
            self._say(" ---> Using cache\n")
            return image
        candidates = self._backend.cache_candidates(record.parent_id)
        # Unasked, only say what changed in a step built before; "new here" is no news.
        rebuilt = any(c.instruction == record.instruction for c in candidates)
        if rebuilt or self._settings.explain_cache:
            self._say(f" ---> Cache miss: {explain_miss(record, candidates)}\n")
        return None

    def _commit(
        self, state: StageState, workspace: Workspace, text: str, record: CacheRecord
    ) -> None:
        created = _now()
        base = state.image.config
        config = replace(
            base,
            created=created,
            history=(
                *base.history,
                HistoryEntry(created=created, created_by=text, comment="wharf.builder"),
            ),
        )
        image = self._backend.commit(workspace, config, self._settings.compression)
        self._backend.cache_store(record, image)
        state.image = image

    # ---------------------------------------------------------------- RUN

    def _run(self, state: StageState, instruction: RunInstruction) -> None:
        shell = state.config.shell or commands.DEFAULT_SHELL
        argv = commands.run_argv(instruction.command, instruction.heredocs, shell)
        env, visible_args = commands.run_env(state.config.env, state.args)
        network = self._network(instruction.network)
        instruction = instruction.expanded(state.lookup)
        mounts_text = [_canonical(mount) for mount in instruction.mounts]
        text = (
            "RUN "
            + (f"|{len(visible_args)} {' '.join(visible_args)} " if visible_args else "")
            + " ".join(argv)
        )
        with contextlib.ExitStack() as stack:
            mounts = self._run_mounts(state, instruction.mounts, stack)
            # Bind mounts' contents are inputs too: known only once they are resolved.
            record = cache_key(
                _parent_id(state.image),
                json.dumps({"argv": argv, "mounts": mounts_text, "network": network.value}),
                sources=[source for _, source in mounts if source[0]],
                args=visible_args,
            )
            cached = self._probe(record)
            if cached is not None:
                state.image = cached
                return
            spec = RunSpec(
                argv=argv,
                env=env,
                user=state.config.user,
                workdir=state.config.working_dir or "/",
                network=network,
                mounts=tuple(m[0] for m in mounts),
                extra_hosts=self._settings.extra_hosts,
                shm_size=self._settings.shm_size,
                memory=self._settings.memory,
                cpu_shares=self._settings.cpu_shares,
            )
            tail: deque[str] = deque(maxlen=10)
            pending = bytearray()

            def output(chunk: bytes) -> None:
                pending.extend(chunk)
                *lines, rest = pending.split(b"\n")
                for line in lines:
                    tail.append(line.decode("utf-8", "replace"))
                pending[:] = rest
                self._say(chunk.decode("utf-8", "replace"))

            try:
                workspace = self._backend.run(state.image, spec, output)
            except StepFailed as failure:
                if pending:
                    tail.append(pending.decode("utf-8", "replace"))
                shown = (
                    " ".join(argv)
                    if instruction.command.__class__.__name__ == "ShellCommand"
                    else json.dumps(list(argv))
                )
                last = "".join(f"  | {line}\n" for line in tail)
                if last:
                    self._say(f" ---> last output lines:\n{last}")
                raise BuildFailed(
                    f"The command '{shown}' returned a non-zero code: {failure.exit_code}",
                    failure.exit_code,
                ) from failure
            try:
                self._commit(state, workspace, text, record)
            finally:
                workspace.close()

    def _network(self, requested: str | None) -> RunNetwork:
        value = requested or ""
        if not value:
            return self._settings.network
        try:
            return RunNetwork(value)
        except ValueError as exc:
            raise InvalidArgument(f"unsupported RUN --network value: {value}") from exc

    def _run_mounts(
        self, state: StageState, mounts: tuple[RunMount, ...], stack: contextlib.ExitStack
    ) -> list[tuple[RunMountSpec, tuple[str, str]]]:
        """Each mount resolved to a host path, with what it adds to the cache key."""
        resolved: list[tuple[RunMountSpec, tuple[str, str]]] = []
        for mount in mounts:
            target = (
                commands.join_workdir(state.config.working_dir or "/", mount.target)
                if mount.target
                else ""
            )
            if mount.type is MountType.CACHE:
                cache_dir = self._backend.cache_mount_dir(mount.id or target)
                resolved.append(
                    (RunMountSpec(RunMountKind.BIND, target, cache_dir, mount.readonly), ("", ""))
                )
            elif mount.type is MountType.TMPFS:
                resolved.append((RunMountSpec(RunMountKind.TMPFS, target), ("", "")))
            elif mount.type is MountType.SECRET:
                secret = self._secret_file(mount, stack)
                if secret is not None:
                    resolved.append(
                        (RunMountSpec(RunMountKind.BIND, target, secret, True), ("", ""))
                    )
            elif mount.type is MountType.BIND:
                root, label = self._bind_root(state, mount.from_stage, stack)
                source = tree.scoped_path(root, mount.source or "/", follow_final=True)
                if not source.exists():
                    raise InvalidArgument(
                        f"failed to mount {mount.source or '/'}: not found in {label}"
                    )
                digest = str(sources.checksum(sources.resolve_sources(root, [mount.source or "/"])))
                resolved.append(
                    (
                        RunMountSpec(RunMountKind.BIND, target, source, mount.readonly),
                        (f"{label}:{mount.source or '/'}", digest),
                    )
                )
            else:
                raise Unsupported(f"RUN --mount=type={mount.type.value} is not supported by wharf")
        return resolved

    def _secret_file(self, mount: RunMount, stack: contextlib.ExitStack) -> Path | None:
        secret_id = mount.id or posixpath.basename(mount.target)
        data = self._settings.secrets.get(secret_id)
        if data is None:
            if mount.required:
                raise InvalidArgument(
                    f"secret {secret_id} not found: pass it with --secret id={secret_id},src=..."
                )
            return None
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wharf-secret-")))
        path = directory / "secret"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(path, flags, mount.mode if mount.mode is not None else 0o400)
        with open(fd, "wb", closefd=True) as handle:
            handle.write(data)
        if mount.uid is not None or mount.gid is not None:
            os.chown(path, mount.uid or 0, mount.gid or 0)
        return path

    def _bind_root(
        self, state: StageState, reference: str | None, stack: contextlib.ExitStack
    ) -> tuple[Path, str]:
        if not reference:
            return self._settings.context_dir, "context"
        image = self._image_for(reference, state)
        root = stack.enter_context(self._backend.mount_image(image))
        return root, image.image_id or "scratch"

    def _image_for(self, reference: str, state: StageState) -> StepImage:
        name = reference
        image = self._resolve_stage(name)
        if image is not None:
            return image
        return self._backend.base_image(name, pull=False, output=self._say)

    # ---------------------------------------------------------------- COPY / ADD

    def _copy(self, state: StageState, ex: CopyInstruction | AddInstruction) -> None:
        is_add = isinstance(ex, AddInstruction)
        keyword = "ADD" if is_add else "COPY"
        with contextlib.ExitStack() as stack:
            from_stage = ex.from_stage if isinstance(ex, CopyInstruction) else None
            if from_stage:
                image = self._image_for(from_stage, state)
                root = stack.enter_context(self._backend.mount_image(image))
                origin = from_stage  # the name, not the ID: the checksums hold the content
            else:
                root, origin = self._settings.context_dir, "context"
            local: list[str] = []
            fetched: list[sources.Source] = []
            for source in ex.sources:
                if is_add and source.startswith(("http://", "https://")):
                    download = Path(
                        stack.enter_context(tempfile.TemporaryDirectory(prefix="wharf-add-"))
                    )
                    path = fetch.fetch_url(source, download)
                    fetched.extend(sources.resolve_sources(download, [path.name]))
                elif (is_add and source.startswith("git@")) or (
                    source.endswith(".git") and "://" in source
                ):
                    raise Unsupported(
                        f"ADD of a git repository is not supported by wharf: {source}"
                    )
                else:
                    local.append(source)
            found = sources.resolve_sources(root, local) if local else []
            all_sources = [*found, *fetched]
            digests = [(f"{origin}:{s.rel}", str(sources.checksum([s]))) for s in all_sources]
            digests.extend(("heredoc:" + h.name, str(_text_digest(h.content))) for h in ex.heredocs)
            text_fields = _canonical(replace(ex, line=0, source=""))  # type: ignore[type-var]
            record = cache_key(_parent_id(state.image), text_fields, sources=digests)
            cached = self._probe(record)
            if cached is not None:
                state.image = cached
                return
            workspace = self._backend.workspace(state.image)
            try:
                owner = (
                    self._backend.resolve_owner(workspace.rootfs, ex.chown) if ex.chown else None
                )
                chmod = _parse_chmod(ex.chmod) if ex.chmod else None
                workdir = state.config.working_dir or "/"
                wildcard = any(any(c in s for c in "*?[") for s in local)
                dest_dir = len(all_sources) + len(ex.heredocs) > 1 or wildcard
                if all_sources:
                    copying.copy_sources(
                        all_sources,
                        workspace.rootfs,
                        ex.dest,
                        workdir=workdir,
                        owner=owner,
                        chmod=chmod,
                        dest_is_dir_hint=dest_dir,
                        expand_archives=is_add,
                    )
                for heredoc in ex.heredocs:
                    dest = (
                        ex.dest
                        if not (ex.dest.endswith("/") or dest_dir)
                        else posixpath.join(ex.dest, heredoc.name)
                    )
                    copying.write_heredoc_file(
                        workspace.rootfs,
                        dest,
                        _heredoc_bytes(heredoc.content, heredoc.chomp_tabs),
                        workdir=workdir,
                        owner=owner,
                        chmod=chmod,
                    )
                shown = " ".join([*(s for s in ex.sources), *(f"<<{h.name}" for h in ex.heredocs)])
                self._commit(state, workspace, f"{keyword} {shown} {ex.dest}", record)
            finally:
                workspace.close()

    # ---------------------------------------------------------------- WORKDIR

    def _workdir(self, state: StageState, ex: WorkdirInstruction) -> None:
        path = commands.join_workdir(state.config.working_dir, ex.path)
        config = replace(state.image.config, config=replace(state.config, working_dir=path))
        text = f"WORKDIR {path}"
        record = cache_key(_parent_id(state.image), text + " (mkdir)")
        cached = self._probe(record)
        if cached is not None:
            state.image = cached
            return
        workspace = self._backend.workspace(state.image)
        try:
            target = tree.scoped_path(workspace.rootfs, path, follow_final=True)
            if target.is_dir():
                state.image = self._backend.write_config(
                    state.image, _with_history(config, text, empty=True)
                )
                self._backend.cache_store(record, state.image)
                return
            owner = (
                self._backend.resolve_owner(workspace.rootfs, state.config.user)
                if state.config.user
                else None
            )
            _make_dirs(workspace.rootfs, path, owner)
            state.image = replace(state.image, config=config)
            self._commit(state, workspace, text, record)
        finally:
            workspace.close()


# -------------------------------------------------------------------- helpers


def _parent_id(image: StepImage) -> str:
    return image.image_id or "scratch"


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12] or "scratch"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _with_history(config: ImageConfig, text: str, *, empty: bool) -> ImageConfig:
    created = _now()
    return replace(
        config,
        created=created,
        history=(
            *config.history,
            HistoryEntry(
                created=created, created_by=text, comment="wharf.builder", empty_layer=empty
            ),
        ),
    )


def _canonical(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in ("line", "source")
        } | {"kind": type(value).__name__}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def _text_digest(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def _heredoc_bytes(content: str, chomp_tabs: bool) -> bytes:
    if chomp_tabs:
        content = "\n".join(line.lstrip("\t") for line in content.split("\n"))
    return content.encode()


def _parse_chmod(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError as exc:
        raise InvalidArgument(f"invalid chmod parameter: {text}") from exc
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f"invalid chmod parameter: {text}")
    return mode


def _make_dirs(rootfs: Path, path: str, owner: tuple[int, int] | None) -> None:
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = posixpath.join(current, part)
        target = tree.scoped_path(rootfs, current, follow_final=True)
        if not target.exists():
            target.mkdir(mode=0o755)
            if owner is not None:
                os.chown(target, *owner)
