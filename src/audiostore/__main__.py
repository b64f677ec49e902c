"""`python -m audiostore` is the `audiostore` command."""

from .cli import main

main()
