"""Engine services (layer L2): images, system, and later containers, exec, networks, volumes, build.

Services take their stores through constructor arguments, return typed values (``wharf.apitypes``
wire models or their own dataclasses) and raise ``wharf.errdefs`` errors. They never see HTTP
and never print. May import everything in L0-L1b.
"""
