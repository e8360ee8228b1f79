"""Engine API client (layer L3): what the ``wharf`` CLI and compose use to talk to a daemon.

Modules:
- ``transport``: the ``Transport`` seam (one HTTP exchange; a hijacked stream) and its
  unix-socket/TCP implementation speaking HTTP/1.1 on a raw socket.
- ``api``: ``EngineClient``, version negotiation, status -> ``errdefs`` mapping, typed results.
- ``models``: the frozen result types, decoded from the wire at the boundary; ``ping``,
  ``container_results`` (create/wait/ps) and ``container_models`` hold the rest, split so each
  command defines only the types it uses; ``wire`` has the typed JSON field readers.
- ``errors``: the error types the client adds (daemon replies, unreachable daemon, stream errors).
- ``connect``: which daemon to talk to (``-H``, ``WHARF_HOST``, default) and starting one.
- ``fake``: a scripted in-memory transport for tests.

Imports only the standard library, ``wharf.errdefs`` and ``wharf`` itself (for the version):
never the engine. This package ``__init__`` imports nothing so that importing one module
stays cheap for the CLI.
"""
