"""Engine events (layer L1): what ``docker events`` shows, published in-process.

Modules:
- ``model``: ``EventType``, the ``Event`` value and its wire shape (``GET /events``), the
  ``Publish`` seam engine services are given (``no_publish`` by default).
- ``filters``: ``EventFilter``, Docker's ``filters`` for events, validated and matched.
- ``bus``: ``EventBus``, a bounded ring of recent events plus live ``Subscription`` s that
  engine threads publish to and the API's asyncio loop (or any thread) consumes.

Imports: stdlib, ``wharf.errdefs``, ``wharf.apitypes.filters`` and ``wharf.oci.reference``.
"""
