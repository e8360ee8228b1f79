"""Platforms (os/architecture/variant), the host's platform, and choosing from an index.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.*`` (layer L0).

Invariants:
- Names follow Go's GOOS/GOARCH (``amd64``, ``arm64``, ``386``), as OCI and Docker use them;
  ``normalized()`` maps aliases (``x86_64``, ``aarch64``, ``armhf``) and drops default
  variants (``amd64/v1``, ``arm64/v8``) so that equal platforms compare equal, the way
  containerd's ``platforms.Normalize`` does. Stored values are kept as written.
- Matching is "can an image built for this platform run where ``wanted`` is asked for":
  same os and architecture, and a variant no newer than the wanted one (an arm/v7 machine
  runs arm/v6 images; amd64/v3 runs amd64/v2). Unknown variants must be equal.
- ``os.version`` and ``os.features`` are carried (Windows images use them) but not matched.
- Selection skips attestation entries (``unknown/unknown`` platform, or BuildKit's
  ``vnd.docker.reference.type: attestation-manifest`` annotation).

Platform JSON, field order as Go writes it::

    {"architecture": "arm", "os": "linux", "os.version": "...", "os.features": [...],
     "variant": "v7"}
"""

from __future__ import annotations

import platform as _pyplatform
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.errdefs import InvalidArgument, NotFound
from wharf.oci import annotations as ann
from wharf.oci import mediatypes
from wharf.oci.codec import ObjectReader

if TYPE_CHECKING:
    from wharf.oci.descriptor import Descriptor

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "i386": "386",
    "i486": "386",
    "i586": "386",
    "i686": "386",
    "x86": "386",
    "armhf": "arm",
    "armel": "arm",
    "loongarch64": "loong64",
}
# The variant each architecture implies when none is written.
_DEFAULT_VARIANT = {"amd64": "v1", "arm64": "v8", "arm": "v7"}
_VARIANT_RE = re.compile(r"v?(\d+)(?:\.(\d+))?")
_OS_ALIASES = {"macos": "darwin"}
_KNOWN_OS = frozenset(
    {
        "linux",
        "windows",
        "darwin",
        "freebsd",
        "netbsd",
        "openbsd",
        "solaris",
        "illumos",
        "aix",
        "plan9",
        "dragonfly",
        "android",
        "ios",
        "js",
        "wasip1",
    }
)


def _variant_rank(variant: str) -> tuple[int, int] | None:
    match = _VARIANT_RE.fullmatch(variant)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


@dataclass(frozen=True, slots=True)
class Platform:
    """Where an image can run. ``str()`` gives Docker's ``os/arch[/variant]`` form."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.os or not self.architecture:
            raise InvalidArgument("a platform needs both an os and an architecture")

    def __str__(self) -> str:
        parts = [self.os, self.architecture]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    @classmethod
    def from_json(cls, obj: object) -> Platform:
        """Read a descriptor's ``platform`` object; raises InvalidArgument when malformed."""
        return read_platform(ObjectReader(obj, "platform"))

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    def normalized(self) -> Platform:
        """The canonical spelling: lower case, Go names, default variants dropped."""
        os_name = self.os.lower()
        os_name = _OS_ALIASES.get(os_name, os_name)
        arch = self.architecture.lower()
        variant = self.variant.lower() if self.variant else None
        if arch == "armhf":
            variant = "v7"
        elif arch == "armel":
            variant = "v6"
        arch = _ARCH_ALIASES.get(arch, arch)
        if arch == "386":
            variant = None
        elif variant and arch in _DEFAULT_VARIANT:
            rank = _variant_rank(variant)
            if rank is not None:
                major, minor = rank
                variant = f"v{major}.{minor}" if minor else f"v{major}"
                if variant == _DEFAULT_VARIANT[arch] and arch != "arm":
                    variant = None
        if arch == "arm" and variant is None:
            variant = "v7"
        return Platform(os_name, arch, variant, self.os_version, self.os_features)

    def _effective_rank(self) -> tuple[int, int] | None:
        """Variant order for architectures with ordered variants; None otherwise."""
        default = _DEFAULT_VARIANT.get(self.architecture)
        if default is None:
            return None
        return _variant_rank(self.variant or default)

    def matches(self, wanted: Platform) -> bool:
        """Whether an image for this platform runs where ``wanted`` is asked for."""
        return _compatibility(self.normalized(), wanted.normalized()) is not None

    @property
    def is_unknown(self) -> bool:
        """BuildKit's ``unknown/unknown``, used for attestation manifests."""
        return self.os == "unknown" and self.architecture == "unknown"


def _compatibility(have: Platform, wanted: Platform) -> tuple[int, int] | None:
    """None when ``have`` cannot serve ``wanted``; else a rank, higher is a closer fit."""
    if have.os != wanted.os or have.architecture != wanted.architecture:
        return None
    have_rank = have._effective_rank()
    wanted_rank = wanted._effective_rank()
    if have_rank is not None and wanted_rank is not None:
        return have_rank if have_rank <= wanted_rank else None
    return (0, 0) if have.variant == wanted.variant else None


def read_platform(reader: ObjectReader) -> Platform:
    """Platform from an ``ObjectReader`` (so errors carry the enclosing document's path)."""
    os_name = reader.req_str("os")
    arch = reader.req_str("architecture")
    if not os_name:
        reader.fail("os", "must not be empty")
    if not arch:
        reader.fail("architecture", "must not be empty")
    return Platform(
        os=os_name,
        architecture=arch,
        variant=reader.opt_str("variant") or None,
        os_version=reader.opt_str("os.version") or None,
        os_features=reader.str_tuple("os.features"),
    )


def parse_platform(text: str, *, host: Platform | None = None) -> Platform:
    """Parse ``--platform`` syntax: ``os[/arch[/variant]]`` or a bare architecture.

    A bare os takes the host's architecture and a bare architecture takes the host's os,
    as Docker does. ``host`` defaults to ``host_platform()``.
    """
    parts = text.strip().split("/")
    if not 1 <= len(parts) <= 3 or any(not p for p in parts):
        raise InvalidArgument(f"invalid platform {text!r}: expected os[/arch[/variant]]")
    if len(parts) == 1:
        base = host or host_platform()
        word = parts[0].lower()
        if word in _KNOWN_OS or word in _OS_ALIASES:
            same_os = base.os == _OS_ALIASES.get(word, word)
            return Platform(word, base.architecture, base.variant if same_os else None)
        return Platform(base.os, word).normalized()
    variant = parts[2] if len(parts) == 3 else None
    return Platform(parts[0].lower(), parts[1].lower(), variant).normalized()


def host_platform(machine: str | None = None, system: str | None = None) -> Platform:
    """This machine's platform in Go names; ``machine``/``system`` override the probe."""
    raw_machine = (machine if machine is not None else _pyplatform.machine()).lower()
    raw_system = (system if system is not None else sys.platform).lower()
    if raw_system.startswith("linux"):
        os_name = "linux"
    elif raw_system in ("win32", "cygwin"):
        os_name = "windows"
    else:
        os_name = _OS_ALIASES.get(raw_system, raw_system)
    if raw_machine in ("aarch64", "arm64", "armv8b", "aarch64_be"):
        return Platform(os_name, "arm64", "v8")
    if raw_machine.startswith("arm"):
        arm_version = re.match(r"armv(\d+)", raw_machine)
        return Platform(os_name, "arm", f"v{arm_version.group(1)}" if arm_version else "v7")
    arch = _ARCH_ALIASES.get(raw_machine, raw_machine)
    return Platform(os_name, arch)


def _is_attestation(descriptor: Descriptor) -> bool:
    if descriptor.platform is not None and descriptor.platform.is_unknown:
        return True
    return descriptor.annotations.get(ann.DOCKER_REFERENCE_TYPE) == ann.ATTESTATION_MANIFEST


def select_manifest(index_descriptors: Iterable[Descriptor], wanted: Platform) -> Descriptor:
    """The index entry to pull for ``wanted``; raises NotFound when none fits.

    Among entries whose platform matches, the closest variant wins, then index order
    (publishers list their preferred entry first). Entries without a platform are taken
    only when nothing matches explicitly, and never when they declare an artifact type.
    """
    wanted_n = wanted.normalized()
    best: Descriptor | None = None
    best_rank: tuple[int, int] | None = None
    fallback: Descriptor | None = None
    for descriptor in index_descriptors:
        if not (
            mediatypes.is_manifest(descriptor.media_type)
            or mediatypes.is_index(descriptor.media_type)
        ) or _is_attestation(descriptor):
            continue
        if descriptor.platform is None:
            if fallback is None and descriptor.artifact_type is None:
                fallback = descriptor
            continue
        rank = _compatibility(descriptor.platform.normalized(), wanted_n)
        if rank is not None and (best_rank is None or rank > best_rank):
            best, best_rank = descriptor, rank
    chosen = best or fallback
    if chosen is None:
        raise NotFound(f"no matching manifest for {wanted} in the manifest list entries")
    return chosen
