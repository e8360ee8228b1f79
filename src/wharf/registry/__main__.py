"""``python -m wharf.registry``: see ``wharf.registry.main``."""

from __future__ import annotations

import sys

from wharf.registry.main import main

sys.exit(main())
