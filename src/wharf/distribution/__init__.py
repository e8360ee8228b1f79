"""The OCI distribution protocol as pure code: routes, name/tag grammar, errors, headers.

Layer L0: imports only the standard library, ``wharf.errdefs`` and ``wharf.oci``. No I/O.
The registry server (``wharf.registry``) and, later, the registry client share it.

Modules: ``names`` (repository and tag grammar, manifest references), ``routes`` (URL
paths to typed routes), ``errors`` (error codes, their HTTP statuses, the JSON envelope:
the only place those statuses are decided), ``ranges`` (``Range`` / ``Content-Range``),
``pagination`` (``n``/``last``/``Link``), ``accept`` (manifest content negotiation),
``scopes`` (token scopes and ``WWW-Authenticate`` challenges).
"""
