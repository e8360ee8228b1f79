"""Image references (``[domain[:port]/]path[:tag][@digest]``) normalised as Docker does.

Follows distribution/reference v0.6 (the copy vendored in moby): ``ParseNormalizedNamed``,
``TagNameOnly``, ``FamiliarName``/``FamiliarString``, and Docker's error wording.

Imports: stdlib, ``wharf.errdefs``, ``wharf.oci.digest`` (layer L0).

Grammar::

    reference  := name [":" tag] ["@" digest]
    name       := [domain "/"] path
    domain     := host [":" port]          host: DNS-ish labels (any case), IPv4, or [IPv6]
    path       := component ("/" component)*
    component  := [a-z0-9]+ (([._] | "__" | "-"+) [a-z0-9]+)*
    tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest     := alg ":" hex               (then validated by Digest.parse)

Normalisation: the first ``/``-separated component is the registry domain iff it is
``localhost``, contains ``.`` or ``:``, or contains an upper-case letter; otherwise (and
always for a name without ``/``) the domain is ``docker.io``. ``index.docker.io`` becomes
``docker.io``. On ``docker.io`` a one-component path gets ``library/``.

Invariants of ``Reference`` (checked on construction, so every value is canonical):
``domain`` would be recognised as a domain by the rule above and is never
``index.docker.io``; a ``docker.io`` path has at least two components; ``path`` is at
most 255 characters (the limit applies to the path alone, as in v0.6); ``tag`` matches the
tag grammar. Hence ``parse_normalized(str(ref)) == ref`` for every ``Reference``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from wharf.errdefs import InvalidArgument
from wharf.oci.digest import Digest

DEFAULT_DOMAIN: Final = "docker.io"
LEGACY_DEFAULT_DOMAIN: Final = "index.docker.io"
OFFICIAL_REPO_PREFIX: Final = "library/"
DEFAULT_TAG: Final = "latest"
PATH_MAX_LENGTH: Final = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

# re.ASCII: Go's \w is [0-9A-Za-z_]; fullmatch: Go's $ never matches before a final "\n".
_REFERENCE_RE = re.compile(rf"((?:{_DOMAIN}/)?{_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})", re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_PATH_RE = re.compile(_PATH, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")

INVALID_FORMAT: Final = "invalid reference format"


def _looks_like_domain(component: str) -> bool:
    return (
        component == "localhost"
        or any(c in component for c in ".:")
        or (component.lower() != component)
    )


@dataclass(frozen=True, slots=True)
class Reference:
    """A fully qualified image reference; ``str()`` gives ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if not _DOMAIN_RE.fullmatch(self.domain) or not _looks_like_domain(self.domain):
            raise InvalidArgument(f"{INVALID_FORMAT}: {self.domain!r} is not a registry domain")
        if self.domain == LEGACY_DEFAULT_DOMAIN:
            raise InvalidArgument(f"{INVALID_FORMAT}: use {DEFAULT_DOMAIN}, not {self.domain}")
        if not _PATH_RE.fullmatch(self.path):
            raise InvalidArgument(f"{INVALID_FORMAT}: invalid repository path {self.path!r}")
        if len(self.path) > PATH_MAX_LENGTH:
            raise InvalidArgument(
                f"repository name must not be more than {PATH_MAX_LENGTH} characters"
            )
        if self.domain == DEFAULT_DOMAIN and "/" not in self.path:
            raise InvalidArgument(
                f"{INVALID_FORMAT}: {DEFAULT_DOMAIN} paths need a namespace "
                f"({OFFICIAL_REPO_PREFIX}{self.path})"
            )
        if self.tag is not None and not _TAG_RE.fullmatch(self.tag):
            raise InvalidArgument("invalid tag format")

    @property
    def name(self) -> str:
        """The repository name with its domain: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The name as Docker shows it: ``busybox``, ``user/app``, ``localhost:5000/x``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX):
            rest = self.path[len(OFFICIAL_REPO_PREFIX) :]
            if "/" not in rest:
                return rest
        return self.path

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return tag + digest

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """Docker's display string: ``busybox:latest``, ``localhost:5000/x@sha256:...``."""
        return self.familiar_name + self._suffix()

    def with_default_tag(self) -> Reference:
        """Add ``:latest`` when there is neither a tag nor a digest (Docker's TagNameOnly)."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def with_tag(self, tag: str) -> Reference:
        """The same name (and digest) with ``tag``; raises InvalidArgument for a bad tag."""
        return Reference(self.domain, self.path, tag, self.digest)

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.domain, self.path, self.tag, digest)

    def repository(self) -> Reference:
        """The bare repository (no tag, no digest)."""
        return Reference(self.domain, self.path)


def _split_docker_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if first == LEGACY_DEFAULT_DOMAIN:
        domain, remainder = DEFAULT_DOMAIN, rest
    elif _looks_like_domain(first):
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _parse_qualified(text: str) -> Reference:
    """distribution/reference ``Parse`` on an already domain-qualified string."""
    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        lowered = text.lower()
        if lowered != text and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidArgument("repository name must be lowercase")
        raise InvalidArgument(INVALID_FORMAT)
    name, tag, digest_text = match.groups()
    name_match = _NAME_RE.fullmatch(name)
    if name_match is None or name_match.group(1) is None:
        # The first component looked like a host but is not one ("my_host.com/x"); Go
        # would parse a domain-less name here, which nothing downstream can pull.
        raise InvalidArgument(f"{INVALID_FORMAT}: invalid registry host in {text!r}")
    domain, path = name_match.groups()
    if len(path) > PATH_MAX_LENGTH:
        raise InvalidArgument(f"repository name must not be more than {PATH_MAX_LENGTH} characters")
    digest = Digest.parse(digest_text) if digest_text is not None else None
    return Reference(domain, path, tag, digest)


def parse_normalized(text: str) -> Reference:
    """Parse what a user typed (``busybox``, ``user/app:1``, ``host:5000/x@sha256:..``).

    Adds the domain and ``library/`` as Docker does, but no default tag
    (use ``with_default_tag``). Raises InvalidArgument with Docker's messages.
    """
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    if not text:
        raise InvalidArgument("repository name must have at least one component")
    domain, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument(f"{INVALID_FORMAT}: repository name ({remote}) must be lowercase")
    return _parse_qualified(f"{domain}/{remainder}")


def parse_repository_and_tag(repo: str, tag: str | None) -> Reference:
    """The reference named by API parameters such as ``?repo=..&tag=..`` / ``fromImage``.

    ``repo`` is parsed as ``parse_normalized`` does. A non-empty ``tag`` replaces any tag
    in ``repo`` (keeping a digest), except that a digest given as the tag
    (``tag=sha256:...``) pins the bare repository to that digest, as moby's image create
    does. No default tag is added; endpoints that refuse digests check ``.digest``.
    """
    ref = parse_normalized(repo)
    if not tag:
        return ref
    if ":" in tag:
        return ref.repository().with_digest(Digest.parse(tag))
    return ref.with_tag(tag)
