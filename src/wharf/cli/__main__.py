"""``python -m wharf.cli``: the same as the ``wharf`` console script."""

from wharf.cli.main import main

main()
