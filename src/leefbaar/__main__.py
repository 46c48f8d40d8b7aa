"""``python -m leefbaar`` runs the CLI."""

from leefbaar.cli import main

main()
