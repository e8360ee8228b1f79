"""Wharf: a container engine that does Docker's job.

The package is layered (see docs/architecture.md); imports point down only, and the rules are
checked by import-linter contracts in pyproject.toml.
"""

__version__ = "0.1.0"
