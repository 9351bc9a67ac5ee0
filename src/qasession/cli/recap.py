"""`qa recap` (placeholder until the recap lands)."""

import typer


def register(app: typer.Typer) -> None:
    pass
