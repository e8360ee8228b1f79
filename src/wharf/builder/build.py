"""The builder's entry point: a context directory and options in, an image out.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.apitypes.build``, ``wharf.builder.*``.

Flow: parse the Dockerfile → global ARGs → plan the stages the target needs → run them,
each in its own thread as soon as the stages it stands on are done (independent stages run
in parallel; a stage that copies from another waits for it at that step) → apply ``--label``
to the target → tag. Output is the classic builder's text (``Step 3/9 : ...``) through
``emit``; the result's ID goes out as ``aux`` as dockerd does.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from wharf.apitypes.build import BuildMessage, BuildOptions
from wharf.builder import stages as planning
from wharf.builder.backend import BuildBackend, RunNetwork, StepImage
from wharf.builder.context import tree
from wharf.builder.context.ignore import IgnoreMatcher
from wharf.builder.dockerfile import Dockerfile, Instruction, parse_dockerfile
from wharf.builder.output import OrderedOutput
from wharf.builder.steps import (
    BuildFailed,
    BuildSettings,
    Counter,
    StageRunner,
    StageState,
)
from wharf.errdefs import InvalidArgument, NotFound, WharfError
from wharf.oci.config import ImageConfig
from wharf.oci.platform import Platform
from wharf.oci.reference import parse_normalized

log = logging.getLogger("wharf.builder")

_MAX_DOCKERFILE = 4 << 20


class Builder:
    def __init__(self, backend: BuildBackend, *, platform: Platform) -> None:
        self._backend = backend
        self._platform = platform

    def build(
        self, options: BuildOptions, context_dir: Path, emit: Callable[[BuildMessage], None]
    ) -> str:
        """Build and tag; returns the image ID. BuildFailed or a WharfError on failure."""
        lock = threading.Lock()

        def say(text: str) -> None:
            if text and not options.quiet:
                with lock:
                    emit(BuildMessage(stream=text))

        self._check_platform(options.platform)
        dockerfile = self._read_dockerfile(context_dir, options.dockerfile)
        _drop_build_files(context_dir, options.dockerfile or "Dockerfile")
        for warning in dockerfile.warnings:
            say(f"[Warning] {warning}\n")
        build_args = dict(options.build_args)
        automatic = planning.platform_args(
            self._platform.os, self._platform.architecture, self._platform.variant
        )
        scope = planning.global_args(dockerfile, build_args, automatic)
        plans = planning.plan_stages(dockerfile, options.target, scope)
        total = sum(1 + len(plan.stage.instructions) for plan in plans)
        settings = BuildSettings(
            context_dir=context_dir,
            build_args=build_args,
            secrets={secret.id: secret.data for secret in options.secrets},
            no_cache=options.no_cache,
            pull=options.pull,
            network=_network(options.network_mode),
            explain_cache=options.explain_cache,
            compression=options.compression,
            extra_hosts=options.extra_hosts,
            shm_size=options.shm_size,
            memory=options.memory,
            cpu_shares=options.cpu_shares,
        )
        first_steps: dict[int, int] = {}
        number = 1
        for plan in plans:
            first_steps[plan.stage.index] = number
            number += 1 + len(plan.stage.instructions)
        output = OrderedOutput([plan.stage.index for plan in plans], say)
        cancelled = threading.Event()
        futures: dict[int, Future[StepImage]] = {}
        by_name = {plan.stage.name: plan.stage.index for plan in plans if plan.stage.name}

        def resolve_stage(reference: str) -> StepImage | None:
            index = by_name.get(reference.lower())
            if index is None and reference.isdigit():
                index = int(reference)
            if index is None:
                return None
            future = futures.get(index)
            if future is None:
                raise InvalidArgument(f"stage {reference} is not part of this build")
            return future.result()

        def run_stage(plan: planning.StagePlan) -> StepImage:
            write = output.writer(plan.stage.index)
            counter = Counter(total, first_steps[plan.stage.index])
            runner = StageRunner(
                self._backend,
                settings,
                say=write,
                counter=counter,
                resolve_stage=resolve_stage,
                cancelled=cancelled,
            )
            try:
                image = self._run_stage(
                    plan, runner, scope, counter, write, resolve_stage, settings
                )
            except BaseException:
                cancelled.set()
                output.flush_all()
                raise
            output.finish(plan.stage.index)
            return image

        with ThreadPoolExecutor(max_workers=len(plans), thread_name_prefix="build-stage") as pool:
            # Submission order is Dockerfile order, and a stage only waits on earlier ones,
            # so with one worker per stage no wait can deadlock.
            for plan in plans:
                futures[plan.stage.index] = pool.submit(run_stage, plan)
            target = plans[-1]
            try:
                result = futures[target.stage.index].result()
            except BaseException as failure:
                cancelled.set()  # a failed target stops the stages still running
                raise _root_cause(failure, futures.values()) from None
            finally:
                cancelled.set()
            for future in futures.values():
                future.result()  # surface the first failure of a stage the target needed
        output.flush_all()

        if options.labels:
            state = StageState(image=result)
            runner = StageRunner(
                self._backend,
                settings,
                say=lambda _text: None,
                counter=Counter(total, total),
                resolve_stage=resolve_stage,
                cancelled=threading.Event(),
            )
            labels = {**result.config.config.labels, **dict(options.labels)}
            config = replace(result.config, config=replace(result.config.config, labels=labels))
            result = runner.metadata_step(
                state, "LABEL " + " ".join(f"{k}={v}" for k, v in options.labels), config
            )
        self._warn_unused_args(dockerfile, plans, build_args, say)
        emit(BuildMessage(aux_id=result.image_id))
        say(f"Successfully built {result.image_id.removeprefix('sha256:')[:12]}\n")
        self._backend.tag(result, options.tags)
        for tag in options.tags:
            say(f"Successfully tagged {parse_normalized(tag).with_default_tag().familiar()}\n")
        return result.image_id

    def _run_stage(
        self,
        plan: planning.StagePlan,
        runner: StageRunner,
        scope: dict[str, str | None],
        counter: Counter,
        say: Callable[[str], None],
        resolve_stage: Callable[[str], StepImage | None],
        settings: BuildSettings,
    ) -> StepImage:
        number = counter.take()
        say(f"Step {number}/{counter.total} : {plan.stage.base.source}\n")
        base_name = plan.base_image
        if plan.base_stage is not None:
            base = resolve_stage(base_name)
            assert base is not None
        elif base_name.lower() == "scratch":
            base = StepImage(
                manifest_digest=None,
                image_id="",
                config=ImageConfig(
                    architecture=self._platform.architecture,
                    os=self._platform.os,
                    variant=self._platform.variant,
                ),
            )
        else:
            platform = plan.stage.base.expanded(scope.get).platform
            if platform:
                self._check_platform(platform)
            base = self._backend.base_image(base_name, pull=settings.pull, output=say)
        say(f" ---> {base.image_id.removeprefix('sha256:')[:12] or 'scratch'}\n")
        # A stage sees a global ARG only when it declares it again with ARG.
        state = StageState(image=base, globals=dict(scope))
        runner.run_triggers(state, _parse_triggers(base.config.config.on_build))
        return runner.run(state, plan.stage.instructions)

    def _read_dockerfile(self, context_dir: Path, name: str) -> Dockerfile:
        path = tree.scoped_path(context_dir, name or "Dockerfile", follow_final=True)
        try:
            if path.stat().st_size > _MAX_DOCKERFILE:
                raise InvalidArgument(f"the Dockerfile {name} is larger than 4 MiB")
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"Cannot locate specified Dockerfile: {name or 'Dockerfile'}") from exc
        except IsADirectoryError as exc:
            raise InvalidArgument(f"the Dockerfile {name} is a directory") from exc
        return parse_dockerfile(data)

    def _check_platform(self, requested: str) -> None:
        if not requested:
            return
        host = f"{self._platform.os}/{self._platform.architecture}"
        wanted = requested.lower().split(",")
        for item in wanted:
            if item.strip() and not (item.strip() == host or item.strip().startswith(host + "/")):
                raise InvalidArgument(
                    f"wharf builds for the host platform only ({host}); asked for {requested}"
                )

    def _warn_unused_args(
        self,
        dockerfile: Dockerfile,
        plans: list[planning.StagePlan],
        build_args: dict[str, str | None],
        say: Callable[[str], None],
    ) -> None:
        declared = {name for instruction in dockerfile.meta_args for name, _ in instruction.args}
        for plan in plans:
            for instruction in plan.stage.instructions:
                names = getattr(instruction, "args", None)
                if instruction.keyword == "ARG" and names:
                    declared.update(name for name, _ in names)
        unused = sorted(set(build_args) - declared - planning.PROXY_ARGS)
        if unused:
            say(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")


def _root_cause(failure: BaseException, futures: Iterable[Future[StepImage]]) -> BaseException:
    """The error to report: a stage's own failure, not another stage's "cancelled" that it
    caused (whichever the target happened to meet first)."""
    if not (isinstance(failure, BuildFailed) and failure.cancelled):
        return failure
    for future in futures:
        error = future.exception() if future.done() else None
        if error is not None and not (isinstance(error, BuildFailed) and error.cancelled):
            return error
    return failure


def _drop_build_files(context_dir: Path, dockerfile: str) -> None:
    """As dockerd does: the Dockerfile and .dockerignore leave the context when .dockerignore
    excludes them (the docker CLI sends them anyway, and a Dockerfile from outside the
    context as ``.dockerfile.<hex>``), so ``COPY . .`` never copies them."""
    ignore = context_dir / ".dockerignore"
    try:
        matcher = IgnoreMatcher.parse(ignore.read_text(errors="replace"))
    except (FileNotFoundError, IsADirectoryError):
        return
    for name in (".dockerignore", dockerfile):
        if matcher.excluded(name.lstrip("/")):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                tree.scoped_path(context_dir, name, follow_final=False).unlink()


def _parse_triggers(triggers: tuple[str, ...]) -> tuple[Instruction, ...]:
    if not triggers:
        return ()
    text = "FROM scratch\n" + "\n".join(triggers) + "\n"
    try:
        parsed = parse_dockerfile(text)
    except WharfError as exc:
        raise InvalidArgument(f"invalid ONBUILD trigger in the base image: {exc}") from exc
    return parsed.stages[0].instructions


def _network(mode: str) -> RunNetwork:
    if mode in ("", "default", "bridge"):
        return RunNetwork.DEFAULT
    try:
        return RunNetwork(mode)
    except ValueError as exc:
        raise InvalidArgument(
            f"network mode {mode!r} is not supported for builds (use default, none or host)"
        ) from exc


__all__ = ["BuildFailed", "Builder"]
