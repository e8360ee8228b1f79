"""Docker Engine API wire models (layer L0).

Frozen dataclasses whose ``to_wire()`` gives exactly the JSON dockerd sends (field names,
casing, omitted-vs-null). Engine services return them; API handlers encode them. Imports only
the standard library and ``wharf.errdefs``.
"""
