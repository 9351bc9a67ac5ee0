"""The live session's terminal UI (Textual); imported only when `qa run` has a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qasession.session.loop import Runner

__all__ = ["run_tui"]


def run_tui(runner: Runner) -> None:
    """See `qasession.tui.app.run_tui` (imported here lazily: Textual is slow to import)."""
    from qasession.tui.app import run_tui as run

    run(runner)
