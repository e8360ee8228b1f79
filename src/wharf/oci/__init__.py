"""Pure OCI model: digests, media types, descriptors, manifests, image configs, references.

Layer L0: imports only the standard library and ``wharf.errdefs``. No I/O.
"""
