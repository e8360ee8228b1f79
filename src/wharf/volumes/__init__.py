"""Volumes (layer L1): named and anonymous local volumes under ``<data-root>/volumes``."""
