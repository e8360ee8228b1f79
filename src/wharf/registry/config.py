"""Registry configuration: frozen options, read from a TOML file and the command line.

Layer L3. Imports: stdlib, ``wharf.errdefs``.

File format (every key optional; command-line ``--addr``/``--root`` win over the file)::

    addr = "127.0.0.1:5000"
    root = "/var/lib/wharf-registry"
    read_only = false
    delete_enabled = true
    max_manifest_bytes = 4194304

    [tls]
    cert = "/etc/wharf/registry.crt"
    key = "/etc/wharf/registry.key"

    [auth]
    mode = "none"            # none | htpasswd | token
    htpasswd = "/etc/wharf/htpasswd"    # bcrypt entries, as `htpasswd -B` writes them
    realm = "wharf-registry" # Basic realm
    anonymous_pull = false

    [auth.token]
    realm = ""               # token endpoint URL; "" = <scheme>://<host>/token
    service = "wharf-registry"
    issuer = "wharf-registry"
    key_file = ""            # HMAC secret; "" = <root>/auth/token.key, created on first start
    expires_in = 300

    [[auth.access]]          # none given: every authenticated account may do everything
    account = "alice"        # an account name, "*" any authenticated one, "" anonymous
    repository = "alice/*"   # fnmatch pattern
    actions = ["pull", "push", "delete"]

    [gc]
    interval = 0             # seconds between online collections; 0 = never on a schedule
    grace = 3600             # blobs committed or linked this recently are kept
    upload_purge_after = 604800   # unfinished uploads idle this long are removed
    delete_untagged = false

    [log]
    level = "info"
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from wharf.errdefs import InvalidArgument

DEFAULT_ADDR = "127.0.0.1:5000"
DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class AuthMode(enum.Enum):
    NONE = "none"
    HTPASSWD = "htpasswd"
    TOKEN = "token"


@dataclass(frozen=True, slots=True)
class AccessRule:
    """Grants ``actions`` on repositories matching ``repository`` to ``account``."""

    account: str
    repository: str
    actions: frozenset[str]


@dataclass(frozen=True, slots=True)
class TokenConfig:
    realm: str = ""
    service: str = "wharf-registry"
    issuer: str = "wharf-registry"
    key_file: Path | None = None
    expires_in: int = 300


@dataclass(frozen=True, slots=True)
class AuthConfig:
    mode: AuthMode = AuthMode.NONE
    htpasswd: Path | None = None
    realm: str = "wharf-registry"
    anonymous_pull: bool = False
    token: TokenConfig = field(default_factory=TokenConfig)
    access: tuple[AccessRule, ...] = ()


@dataclass(frozen=True, slots=True)
class TLSConfig:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class GCConfig:
    interval: float = 0.0
    grace: float = 3600.0
    upload_purge_after: float = 7 * 24 * 3600.0
    delete_untagged: bool = False


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    root: Path
    addr: str = DEFAULT_ADDR
    read_only: bool = False
    delete_enabled: bool = True
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES
    tls: TLSConfig | None = None
    auth: AuthConfig = field(default_factory=AuthConfig)
    gc: GCConfig = field(default_factory=GCConfig)
    log_level: str = "info"

    def with_overrides(
        self, *, addr: str | None = None, root: Path | None = None
    ) -> RegistryConfig:
        return replace(
            self,
            addr=addr if addr is not None else self.addr,
            root=root if root is not None else self.root,
        )

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_addr(self.addr)


def parse_addr(addr: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) into its parts."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InvalidArgument(f"invalid address {addr!r}: expected host:port")
    number = int(port)
    if number > 65535:
        raise InvalidArgument(f"invalid port in {addr!r}")
    return host.strip("[]"), number


def _table(doc: dict[str, object], key: str, where: str) -> dict[str, object]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise InvalidArgument(f"registry config: {where}{key} must be a table")
    return value


def _get(doc: dict[str, object], key: str, kind: type, default: object, where: str) -> object:
    value = doc.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None and not isinstance(value, kind):
        raise InvalidArgument(f"registry config: {where}{key} must be a {kind.__name__}")
    return value


def _str(doc: dict[str, object], key: str, default: str, where: str = "") -> str:
    value = _get(doc, key, str, default, where)
    assert isinstance(value, str)
    return value


def _bool(doc: dict[str, object], key: str, default: bool, where: str = "") -> bool:
    value = _get(doc, key, bool, default, where)
    assert isinstance(value, bool)
    return value


def _num(doc: dict[str, object], key: str, default: float, where: str = "") -> float:
    value = _get(doc, key, float, default, where)
    assert isinstance(value, float)
    return value


def _path(doc: dict[str, object], key: str, base: Path, where: str = "") -> Path | None:
    text = _str(doc, key, "", where)
    if not text:
        return None
    path = Path(text)
    return path if path.is_absolute() else base / path


def _access(doc: dict[str, object]) -> tuple[AccessRule, ...]:
    raw = doc.get("access", [])
    if not isinstance(raw, list):
        raise InvalidArgument("registry config: auth.access must be an array of tables")
    rules = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidArgument(f"registry config: auth.access[{i}] must be a table")
        actions = item.get("actions", ["pull"])
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise InvalidArgument(f"registry config: auth.access[{i}].actions must be strings")
        rules.append(
            AccessRule(
                account=_str(item, "account", "*", f"auth.access[{i}]."),
                repository=_str(item, "repository", "*", f"auth.access[{i}]."),
                actions=frozenset(actions),
            )
        )
    return tuple(rules)


def load_config(
    path: Path | None, *, root: Path | None = None, addr: str | None = None
) -> RegistryConfig:
    """The configuration in ``path`` (TOML; none = defaults) with command-line overrides.

    Relative paths in the file are relative to the file's directory.
    """
    doc: dict[str, object] = {}
    base = Path.cwd()
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text())
        except OSError as exc:
            raise InvalidArgument(f"cannot read registry config {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgument(f"invalid registry config {path}: {exc}") from exc
        base = path.parent
    file_root = _path(doc, "root", base)
    chosen_root = root or file_root
    if chosen_root is None:
        raise InvalidArgument("registry root is not set: pass --root or set root in the config")
    auth_doc = _table(doc, "auth", "")
    token_doc = _table(auth_doc, "token", "auth.")
    tls_doc = _table(doc, "tls", "")
    gc_doc = _table(doc, "gc", "")
    log_doc = _table(doc, "log", "")
    try:
        mode = AuthMode(_str(auth_doc, "mode", "none", "auth."))
    except ValueError as exc:
        raise InvalidArgument("registry config: auth.mode must be none, htpasswd or token") from exc
    tls = None
    cert, key = _path(tls_doc, "cert", base, "tls."), _path(tls_doc, "key", base, "tls.")
    if (cert is None) != (key is None):
        raise InvalidArgument("registry config: tls needs both cert and key")
    if cert is not None and key is not None:
        tls = TLSConfig(cert, key)
    auth = AuthConfig(
        mode=mode,
        htpasswd=_path(auth_doc, "htpasswd", base, "auth."),
        realm=_str(auth_doc, "realm", "wharf-registry", "auth."),
        anonymous_pull=_bool(auth_doc, "anonymous_pull", False, "auth."),
        token=TokenConfig(
            realm=_str(token_doc, "realm", "", "auth.token."),
            service=_str(token_doc, "service", "wharf-registry", "auth.token."),
            issuer=_str(token_doc, "issuer", "wharf-registry", "auth.token."),
            key_file=_path(token_doc, "key_file", base, "auth.token."),
            expires_in=int(_num(token_doc, "expires_in", 300, "auth.token.")),
        ),
        access=_access(auth_doc),
    )
    if auth.mode is not AuthMode.NONE and auth.htpasswd is None:
        raise InvalidArgument(f"registry config: auth.mode = {mode.value!r} needs auth.htpasswd")
    config = RegistryConfig(
        root=chosen_root,
        addr=addr or _str(doc, "addr", DEFAULT_ADDR),
        read_only=_bool(doc, "read_only", False),
        delete_enabled=_bool(doc, "delete_enabled", True),
        max_manifest_bytes=int(_num(doc, "max_manifest_bytes", DEFAULT_MAX_MANIFEST_BYTES)),
        tls=tls,
        auth=auth,
        gc=GCConfig(
            interval=_num(gc_doc, "interval", 0.0, "gc."),
            grace=_num(gc_doc, "grace", 3600.0, "gc."),
            upload_purge_after=_num(gc_doc, "upload_purge_after", 7 * 24 * 3600.0, "gc."),
            delete_untagged=_bool(gc_doc, "delete_untagged", False, "gc."),
        ),
        log_level=_str(log_doc, "level", "info", "log."),
    )
    parse_addr(config.addr)
    return config
