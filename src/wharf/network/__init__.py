"""Container networking (layer L1): network namespaces, the bridge driver over netlink,
address management, nftables NAT and port publishing, and the embedded DNS server.

Imports: stdlib, ``pyroute2``, ``wharf.errdefs``; never the engine or the stores above it.
"""
