"""Top-level pytest configuration, kept tiny.

- Puts tests/ on sys.path, so every suite imports the shared helpers as ``support.*``.
- Marks every test under tests/integration with ``integration`` (``-m "not integration"`` runs
  the fast suite alone).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_TESTS / "integration"):
            item.add_marker(pytest.mark.integration)
