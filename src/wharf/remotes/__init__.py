"""Registry client: auth (token flow, config.json credentials), resolve, fetch, pull, push.

Layer L1b. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.content``.
"""
