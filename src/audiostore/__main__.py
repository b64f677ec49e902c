"""`python -m audiostore` is the `audiostore` command."""

from .cli import main

if __name__ == "__main__":
    main()
