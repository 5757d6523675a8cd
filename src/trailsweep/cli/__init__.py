"""The Typer commands: a thin layer over the library."""
