"""Where the registry keeps things: the on-disk tree, drawn once, and the key builders.

Layer L3. Imports: stdlib, ``wharf.oci.digest``.

Layout under ``--root`` (schema version 1, in ``meta/version``)::

    <root>/
      lock                                   flock(LOCK_EX) of the serving process
      auth/token.key                         HMAC secret of the built-in token server (0600)
      content/                               wharf.content.local.LocalStore (global blobs)
        blobs/sha256/<hex>                   every blob and manifest: verified, published by rename
        ingest/<sha256(ref)>/                uploads in progress, ref = "upload/<name>/<id>"
      meta/                                  the StorageDriver's root (keys below are relative)
        version                              "1"
        repositories/<name>/                 <name> may have several components (a/b/c)
          _layers/sha256/<hex>               link: this repository may read blob <hex>
                                             (content: the digest; mtime: last push/mount)
          _manifests/revisions/sha256/<hex>  link: manifest <hex> is in this repository
                                             (content: JSON {"mediaType","size","subject"?})
          _manifests/tags/<tag>              content: the tagged manifest's digest
          _referrers/sha256/<subject hex>/sha256/<hex>
                                             content: JSON descriptor of manifest <hex> whose
                                             subject is <subject hex>, as the referrers API
                                             lists it (mediaType, digest, size,
                                             artifactType, annotations)

Invariants:

- Repository name components never start with ``_`` (grammar), so ``_layers`` and friends
  cannot collide with a nested repository ``<name>/<component>``.
- Every metadata write is atomic (driver contract); a link is written only after the blob
  it names is committed, and a tag only after its revision link. So after a crash every
  visible link names a complete blob and every tag a stored manifest; what a crash can leave
  is an unreferenced blob or an untagged revision, which garbage collection removes.
- An upload is invisible to every repository until its digest and size are verified and
  its blob committed (``wharf.content.local`` ingests); the upload id is bound to the
  repository by being part of the ingest ref.
"""

from __future__ import annotations

from wharf.oci.digest import Digest

SCHEMA_VERSION = 1
VERSION_KEY = "version"
REPOSITORIES = "repositories"
CONTENT_DIR = "content"
META_DIR = "meta"
LOCK_FILE = "lock"
TOKEN_KEY_FILE = "auth/token.key"
UPLOAD_REF_PREFIX = "upload/"


def repository(name: str) -> str:
    return f"{REPOSITORIES}/{name}"


def layers_dir(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_layers"


def layer_link(name: str, digest: Digest) -> str:
    return f"{REPOSITORIES}/{name}/_layers/{digest.algorithm}/{digest.hex}"


def revisions_dir(name: str, algorithm: str = "sha256") -> str:
    return f"{REPOSITORIES}/{name}/_manifests/revisions/{algorithm}"


def revision_link(name: str, digest: Digest) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/revisions/{digest.algorithm}/{digest.hex}"


def tags_dir(name: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags"


def tag_file(name: str, tag: str) -> str:
    return f"{REPOSITORIES}/{name}/_manifests/tags/{tag}"


def referrers_dir(name: str, subject: Digest) -> str:
    return f"{REPOSITORIES}/{name}/_referrers/{subject.algorithm}/{subject.hex}/sha256"


def referrer_entry(name: str, subject: Digest, referrer: Digest) -> str:
    return f"{referrers_dir(name, subject)}/{referrer.hex}"


def upload_ref(name: str, upload_id: str) -> str:
    return f"{UPLOAD_REF_PREFIX}{name}/{upload_id}"


def parse_upload_ref(ref: str) -> tuple[str, str] | None:
    """``(name, upload id)`` of an upload ingest ref; None for other refs."""
    if not ref.startswith(UPLOAD_REF_PREFIX):
        return None
    name, sep, upload_id = ref[len(UPLOAD_REF_PREFIX) :].rpartition("/")
    return (name, upload_id) if sep else None
