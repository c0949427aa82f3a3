"""``python -m redissim``: the same as the ``redissim`` command."""

from redissim.cli import main

main()
