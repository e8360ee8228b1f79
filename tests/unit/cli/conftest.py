"""Fixtures for the CLI tests: ``wharf`` runs the command tree against a fake transport."""

from __future__ import annotations

import pytest
from cli_harness import RunWharf, make_runner


@pytest.fixture
def wharf() -> RunWharf:
    return make_runner()
