"""Allow ``python -m kmigrate``."""

from kmigrate.entry import main

main()
