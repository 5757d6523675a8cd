"""`python -m trailsweep` is the `trailsweep` command."""

from trailsweep.cli.app import main

main()
