"""Build contexts and COPY/ADD: what a build reads from its context and how it lands in a root.

Layer L2 (inside ``builder``). Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``,
``wharf.archive``; nothing else of Wharf, so the CLI (which tars contexts) and the engine (which
unpacks them and copies) can both use it. Modules:

- ``globs``: Go's ``filepath.Clean``/``Match`` and the classic builder's wildcard test.
- ``ignore``: ``IgnoreMatcher``, .dockerignore with moby/patternmatcher's rules.
- ``send``: ``write_context_tar``, the docker CLI's context tar (client side).
- ``tree``: ``scoped_path`` (symlinks resolved as under chroot), ``make_dirs``,
  ``extract_context`` / ``extract_tar`` (safe extraction, compressed or not).
- ``sources``: ``resolve_sources`` (COPY/ADD source paths and wildcards) and ``checksum``
  (the content digest the build cache keys on).
- ``copy``: ``copy_sources`` and ``write_heredoc_file``, Docker's COPY/ADD destination rules.
- ``fetch``: ``fetch_url`` for ``ADD http(s)://``.

Invariant: nothing here writes outside the directory it was given (a context target, a root
filesystem, a download directory); symlinks are followed only inside it.
"""
