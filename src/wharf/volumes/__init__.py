"""Volumes (layer L1): Docker's ``local`` volume driver, named and anonymous volumes as
directories under ``<data-root>/volumes`` (layout drawn in ``local``).

Imports: stdlib and ``wharf.errdefs`` only. The records (names, labels, options, anonymity)
live in ``wharf.metadata.volumes``; ``wharf.engine.volumes`` keeps the two in step.
"""
