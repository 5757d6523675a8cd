"""`python -m trailsweep` is the `trailsweep` command."""

from trailsweep.cli import main

main()
