"""The ``wharf`` command-line client (layer L4): docker's commands, flags and output.

Modules, by concern:
- ``main``: the root group, global flags, the one place errors are reported.
- ``command``: docker-like click commands (help, argument counts, flag errors, lazy loading).
- ``state``: the context object (client on demand; seams for tests).
- ``formatting``: sizes, durations, ids, tab-aligned tables, Go-style JSON.
- ``templates``: the Go ``text/template`` subset behind ``--format``.
- ``tables``: docker's ``--format`` handling for list commands (table/json/template).
- ``progress``: rendering JSON progress streams (load, import, later pull/push/build).
- ``images``, ``inspect``, ``system``: the commands.

Talks to the engine only through ``wharf.client``; imports nothing here at package import so
``python -m wharf.cli`` and the console script stay fast to start.
"""
