"""The image builder (layer L2, below ``engine``): Dockerfile → image.

``dockerfile/`` parses text into typed instructions, ``context/`` reads build contexts
(``.dockerignore``, sources of COPY/ADD) and copies them into a root filesystem, and the
modules beside them plan stages and run steps against a ``BuildBackend`` that the engine
implements. Imports: stdlib, ``wharf.errdefs``, ``wharf.oci``, ``wharf.archive``,
``wharf.apitypes``; never the engine, the runtime or the stores (import-linter checks it).
"""
