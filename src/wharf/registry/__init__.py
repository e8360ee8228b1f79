"""The OCI registry server (``wharf registry serve``): distribution-spec 1.1 over aiohttp.

Layer L3, beside ``wharf.api``. Imports: stdlib, ``aiohttp``, ``bcrypt``, ``wharf.errdefs``,
``wharf.oci``, ``wharf.content``, ``wharf.distribution``. Never ``wharf.engine``, ``api``,
``images``, ``metadata``, ``snapshots``, ``cli`` or ``client`` (import-linter contract).

Modules: ``main`` (command line), ``server`` (sockets, TLS, root lock, background tasks),
``app`` (routing, auth, errors), ``handlers`` (one per route kind), ``storage`` (repositories,
links, manifests, tags, referrers; layout drawn in ``layout``), ``uploads``, ``gc``,
``guard`` (GC vs pushes), ``auth`` (htpasswd, tokens, access rules), ``driver`` /
``filesystem`` / ``memory`` (metadata storage drivers), ``config``, ``metrics``,
``responses``, ``testing`` (an in-process server for tests).
"""
