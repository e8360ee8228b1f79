"""``wharf compose``: multi-container applications from compose files (layer L4).

``model`` loads, merges, interpolates and validates compose files into a typed project;
the runtime converges containers, networks and volumes to it through ``wharf.client`` only
(as the docker CLI would), so it never imports the engine (import-linter checks it).
"""
