"""The Docker Engine API server (layer L3).

Handlers are thin: parse the request into typed options, call a backend Protocol that the engine
implements, turn the typed result into the wire model. May import ``wharf.apitypes``, ``wharf.oci``,
``wharf.errdefs`` and aiohttp; never ``wharf.engine`` directly (the daemon wires backends in).
"""
