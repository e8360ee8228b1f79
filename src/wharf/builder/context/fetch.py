"""``ADD http(s)://...``: download a remote file into a scratch directory, as Docker does.

Imports: stdlib, ``wharf.errdefs``.

Docker's rules (classic builder ``downloadSource`` and ``GetWithStatusError``):

- the file is named after the base name of the URL's (decoded) path, or else the
  ``filename`` of a ``Content-Disposition`` header, or else ``__unnamed__`` (``UNNAMED``;
  the caller then needs a destination file name: with a destination ending in ``/`` Docker
  fails with "cannot determine filename for source <url>");
- it is written 0600; its mtime is the ``Last-Modified`` time when the server sends one that
  parses, else the Unix epoch. Downloaded files are never unpacked (``Source.from_url``);
- an HTTP status of 400 or more fails with ``failed to GET <url> with status <code> <reason>:
  <body>`` (body trimmed, cut at 512 characters, on one line): 404 → ``NotFound``,
  400 → ``InvalidArgument``, 401 → ``Unauthorized``, 403 → ``Forbidden``, 5xx and 429 →
  ``Unavailable``, other 4xx → ``InvalidArgument``. A host that does not resolve is
  ``NotFound``, other network failures and timeouts (60 s per read) ``Unavailable``.
Redirects are followed (urllib's default, as Go's ``http.Get``).
"""

from __future__ import annotations

import email.message
import email.utils
import os
import posixpath
import socket
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPResponse
from pathlib import Path

from wharf.errdefs import (
    EngineFailure,
    Forbidden,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
    WharfError,
)

__all__ = ["TIMEOUT", "UNNAMED", "fetch_url", "is_url"]

UNNAMED = "__unnamed__"
TIMEOUT = 60.0
_CHUNK = 1 << 20
_BODY_LIMIT = 512
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def is_url(source: str) -> bool:
    """True for the sources ADD downloads (``http://`` and ``https://``)."""
    return source.startswith(("http://", "https://"))


def fetch_url(url: str, directory: Path) -> Path:
    """Download ``url`` into the existing directory ``directory``; return the file's path."""
    if not is_url(url):
        raise InvalidArgument(f"unsupported URL scheme in {url!r}: only http and https")
    request = urllib.request.Request(url, headers={"User-Agent": "wharf"})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        raise _status_error(url, exc.code, exc.reason, _body(exc)) from exc
    except urllib.error.URLError as exc:
        raise _network_error(url, exc.reason) from exc
    except (OSError, ValueError) as exc:
        raise _network_error(url, exc) from exc
    with response:
        assert isinstance(response, HTTPResponse)
        url_path = urllib.parse.urlsplit(url).path
        name = _file_name(url_path, response.headers.get("Content-Disposition"))
        path = directory / (name or UNNAMED)
        try:
            fd = os.open(path, _NEW_FILE, 0o600)
        except OSError as exc:
            raise EngineFailure(f"cannot store download of {url}: {exc.strerror}") from exc
        try:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, ValueError) as exc:
                    raise _network_error(url, exc) from exc
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.fchmod(fd, 0o600)
            mtime = _last_modified(response.headers.get("Last-Modified"))
            os.utime(fd, ns=(mtime, mtime))
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
    return path


def _file_name(url_path: str, disposition: str | None) -> str:
    decoded = urllib.parse.unquote(url_path)
    if decoded and not decoded.endswith("/"):
        name = _safe_base(decoded)
        if name:
            return name
    if disposition:
        message = email.message.Message()
        message["Content-Disposition"] = disposition
        filename = message.get_filename()
        if filename and not filename.endswith("/"):
            return _safe_base(filename)
    return ""


def _safe_base(path: str) -> str:
    name = posixpath.basename(path)
    # The name becomes a file in ``directory``: never a path, never "." or "..".
    if name in ("", ".", "..") or "\0" in name:
        return ""
    return name


def _last_modified(header: str | None) -> int:
    if header:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return 0
        return int(when.timestamp()) * 1_000_000_000
    return 0


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        data = exc.read(_BODY_LIMIT * 4)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").strip()
    return " ".join(text.split())[:_BODY_LIMIT]


def _status_error(url: str, code: int, reason: str, body: str) -> WharfError:
    message = f"failed to GET {url} with status {code} {reason}"
    if body:
        message += f": {body}"
    if code == 404:
        return NotFound(message)
    if code == 401:
        return Unauthorized(message)
    if code == 403:
        return Forbidden(message)
    if code >= 500 or code == 429:
        return Unavailable(message)
    return InvalidArgument(message)


def _network_error(url: str, reason: object) -> WharfError:
    if isinstance(reason, socket.gaierror):
        return NotFound(f"failed to GET {url}: {reason.strerror or reason}")
    if isinstance(reason, TimeoutError | socket.timeout):
        return Unavailable(f"failed to GET {url}: timed out after {TIMEOUT:g} s")
    text = getattr(reason, "strerror", None) or str(reason)
    return Unavailable(f"failed to GET {url}: {text}")
