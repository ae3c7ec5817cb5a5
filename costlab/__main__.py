"""``python -m costlab``: the same as the ``costlab`` command."""

from costlab.cli import main

main()
