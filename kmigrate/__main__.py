"""Allow ``python -m kmigrate``."""

from kmigrate.cli import main

main()
