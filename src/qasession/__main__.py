"""`python -m qasession` works like `qa`."""

from qasession.cli import main

main()
