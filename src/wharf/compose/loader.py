"""``load_project``: compose files to a validated, typed ``Project``.

Imports: stdlib, ``wharf.compose.*`` (never the engine, API or client).

The pipeline, each step raising ``ComposeError`` before anything is started::

    .env (or env_files) + environ ──▶ interpolation environment (environ wins)
    each -f file: YAML ─▶ interpolate ─▶ validate (schema) ─▶ canonicalize ─▶ resolve extends
    merge in -f order ─▶ strip !reset/!override ─▶ project name ─▶ typed model (convert)
    ─▶ profiles split active/disabled ─▶ consistency checks

A file named ``-`` is read from standard input (the project directory is then the current
one unless given). Relative paths in every ``-f`` file are relative to the project directory
(``working_dir``, else the first file's directory); in a file reached through
``extends.file``, to that file's directory. The project name is ``project_name``, else
``COMPOSE_PROJECT_NAME``, else the top-level ``name``, each of which must already be valid,
else the project directory's name normalized as docker compose does.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wharf.compose import convert
from wharf.compose.canonical import canonicalize
from wharf.compose.consistency import check_project
from wharf.compose.envfile import read_env_file
from wharf.compose.errors import ComposeError
from wharf.compose.interpolate import Interpolator
from wharf.compose.merge import merge_mapping, merge_value, strip_markers
from wharf.compose.project import NetworkConfig, Project, Service, is_active
from wharf.compose.schema import PROJECT, validate
from wharf.compose.values import Context
from wharf.compose.yamlfile import Override, load_yaml, read_yaml_file

COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILE_NAMES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)
STDIN = Path("-")
_PROJECT_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


def find_compose_files(directory: Path) -> list[Path]:
    """The compose file (and its override file) in ``directory`` or its nearest parent
    that has one, as docker compose finds them; [] when there is none."""
    start = Path(os.path.abspath(directory))
    for current in (start, *start.parents):
        main = next((current / n for n in COMPOSE_FILE_NAMES if (current / n).is_file()), None)
        if main is not None:
            override = next(
                (current / n for n in OVERRIDE_FILE_NAMES if (current / n).is_file()), None
            )
            return [main] if override is None else [main, override]
    return []


def normalize_project_name(text: str) -> str:
    """Lower case, only ``[a-z0-9_-]`` kept, no leading ``_`` or ``-``."""
    return re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")


def load_project(
    files: Sequence[Path],
    *,
    project_name: str | None = None,
    env_files: Sequence[Path] | None = None,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    working_dir: Path | None = None,
    services: Sequence[str] = (),
) -> Project:
    """Load, merge and validate ``files`` into a project.

    ``services``: names the caller targets; they are enabled with their profiles and
    dependencies before the checks (as ``Project.with_services`` does afterwards).
    """
    if not files:
        raise ComposeError("no configuration file provided")
    paths = tuple(STDIN if Path(f) == STDIN else Path(os.path.abspath(f)) for f in files)
    if working_dir is not None:
        project_dir = Path(os.path.abspath(working_dir))
    else:
        project_dir = Path.cwd() if paths[0] == STDIN else paths[0].parent
    base_environ = dict(os.environ if environ is None else environ)
    env = _interpolation_environment(project_dir, env_files, base_environ)
    warnings: list[str] = []
    home = base_environ.get("HOME") or os.path.expanduser("~")
    loader = _FileLoader(project_dir, env, home, warnings)

    merged: dict[str, Any] = {}
    for path in paths:
        merged = merge_mapping(merged, loader.load(path, base_dir=project_dir))
    model: dict[str, Any] = strip_markers(merged)

    name = _project_name(project_name, env, model.get("name"), project_dir)
    enabled = _profiles(profiles, env)
    all_services = {
        key: convert.build_service(key, raw, env=env, working_dir=project_dir)
        for key, raw in model.get("services", {}).items()
    }
    networks = {
        key: convert.build_network(name, key, raw) for key, raw in model.get("networks", {}).items()
    }
    if "default" not in networks and any("default" in s.networks for s in all_services.values()):
        networks["default"] = NetworkConfig(name=f"{name}_default")
    project = Project(
        name=name,
        working_dir=project_dir,
        files=paths,
        services={k: s for k, s in all_services.items() if is_active(s, enabled)},
        networks=networks,
        volumes={
            key: convert.build_volume(name, key, raw)
            for key, raw in model.get("volumes", {}).items()
        },
        secrets={
            key: convert.build_file_object(name, "secrets", key, raw)
            for key, raw in model.get("secrets", {}).items()
        },
        configs={
            key: convert.build_file_object(name, "configs", key, raw)
            for key, raw in model.get("configs", {}).items()
        },
        environment=env,
        warnings=tuple(warnings),
        disabled_services=_disabled(all_services, enabled),
        profiles=tuple(enabled),
    )
    if services:
        return project.with_services(services)
    check_project(project)
    return project


def _disabled(services: Mapping[str, Service], enabled: Sequence[str]) -> dict[str, Service]:
    return {k: s for k, s in services.items() if not is_active(s, enabled)}


def _interpolation_environment(
    project_dir: Path, env_files: Sequence[Path] | None, environ: Mapping[str, str]
) -> dict[str, str]:
    if env_files is None:
        default = project_dir / ".env"
        candidates = [default] if default.is_file() else []
    else:
        candidates = [Path(os.path.abspath(p)) for p in env_files]
    dotenv: dict[str, str] = {}
    for path in candidates:
        label = _label(path, project_dir)

        def lookup(key: str) -> str | None:
            return environ.get(key, dotenv.get(key))

        try:
            dotenv.update(read_env_file(path, label=label, lookup=lookup))
        except ComposeError as exc:
            if exc.file is None:
                raise ComposeError(exc.reason, file=label) from exc
            raise
    return {**dotenv, **environ}


def _project_name(
    explicit: str | None, env: Mapping[str, str], declared: object, project_dir: Path
) -> str:
    for source in (explicit, env.get("COMPOSE_PROJECT_NAME"), declared):
        if source:
            text = str(source)
            if _PROJECT_NAME_RE.fullmatch(text) is None:
                raise ComposeError(
                    f'invalid project name "{text}": must consist only of lowercase alphanumeric '
                    "characters, hyphens, and underscores as well as start with a letter or number"
                )
            return text
    name = normalize_project_name(project_dir.name)
    if not name:
        raise ComposeError(
            f'cannot derive a project name from directory "{project_dir}"; set one with -p'
        )
    return name


def _profiles(profiles: Sequence[str], env: Mapping[str, str]) -> list[str]:
    if profiles:
        return list(dict.fromkeys(profiles))
    text = env.get("COMPOSE_PROFILES", "")
    return list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


def _label(path: Path, project_dir: Path) -> str:
    if path == STDIN:
        return "-"
    try:
        return str(path.relative_to(project_dir))
    except ValueError:
        return str(path)


class _FileLoader:
    """Loads files into canonical form, resolving ``extends`` (cached per file)."""

    def __init__(self, project_dir: Path, env: Mapping[str, str], home: str, warnings: list[str]):
        self._project_dir = project_dir
        self._env = env
        self._home = home
        self._warnings = warnings
        self._raw: dict[tuple[Path, Path], dict[str, Any]] = {}
        self._done: dict[tuple[Path, Path], dict[str, Any]] = {}

    def _canonical(self, path: Path, base_dir: Path) -> dict[str, Any]:
        key = (path, base_dir)
        if key not in self._raw:
            label = _label(path, self._project_dir)
            if path == STDIN:
                document = load_yaml(sys.stdin.read(), "-")
            else:
                document = read_yaml_file(path, label)
            if document is None:
                raise ComposeError("empty compose file", file=label)
            if not isinstance(document, dict):
                raise ComposeError("must be a mapping", file=label)
            interpolated = Interpolator(self._env, label, self._warnings).tree(document)
            validate(interpolated, PROJECT, file=label)
            ctx = Context(label, base_dir, path.parent, self._home, self._warnings)
            self._raw[key] = canonicalize(interpolated, ctx)  # type: ignore[arg-type]
        return self._raw[key]

    def load(self, path: Path, *, base_dir: Path) -> dict[str, Any]:
        key = (path, base_dir)
        if key not in self._done:
            document = dict(self._canonical(path, base_dir))
            services = dict(document.get("services", {}))
            for name in services:
                services[name] = self._extended(path, base_dir, name, [])
            if services:
                document["services"] = services
            self._done[key] = document
        return self._done[key]

    def _extended(
        self, path: Path, base_dir: Path, name: str, stack: list[tuple[Path, str]]
    ) -> Any:
        label = _label(path, self._project_dir)
        service = self._canonical(path, base_dir)["services"][name]
        plain = service.value if isinstance(service, Override) else service
        if not isinstance(plain, dict) or "extends" not in plain:
            return service
        where = f"services.{name}.extends"
        if (path, name) in stack:
            chain = " -> ".join(n for _, n in [*stack, (path, name)])
            raise ComposeError(f"circular extends: {chain}", file=label, path=where)
        extends = plain["extends"]
        base_path = Path(extends.get("file", path))
        base_base_dir = base_dir if base_path == path else base_path.parent
        base_services = self._canonical(base_path, base_base_dir).get("services", {})
        if extends["service"] not in base_services:
            raise ComposeError(
                f'cannot extend service "{extends["service"]}": not defined in '
                f"{_label(base_path, self._project_dir)}",
                file=label,
                path=where,
            )
        base = self._extended(base_path, base_base_dir, extends["service"], [*stack, (path, name)])
        own = {k: v for k, v in plain.items() if k != "extends"}
        merged = merge_value(strip_markers(base), own, ("services", name))
        return Override(merged) if isinstance(service, Override) else merged
